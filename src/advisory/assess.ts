// One advisory assessment per run (docs/advisories.md): for every advisory, the host's verdict
// with every reason, and for every stale process mapping code of an advisory's package the
// version it runs. Pure over what host.ts and the scan read, plus a small per-process I/O
// interface (ctime of the mapped inode, start time) so the logic is tested without /proc.

import type {
  AdvisoryVerdictDoc,
  ContainerVersionDoc,
  ProcessVersionDoc,
} from '../formats/advisory.ts';
import { compareDebVersions, compareRpmVersions, type Ordering } from '../reboot/version.ts';
import type { StaleFile, StaleProcess } from '../scan/model.ts';
import { type Advisory, fixedVersionFor } from './advisory.ts';
import { baseName, type HistoryEvent } from './history.ts';
import type { AdvisoryHost } from './host.ts';
import { isKernelPackage } from './kernel.ts';
import {
  type HostFacts,
  hostVerdict,
  isVulnerable,
  type RunningVersion,
  runningVersion,
  TOLERANCE_MS,
  type Verdict,
  type Vulnerable,
  worstVerdict,
} from './running.ts';

/** The version one process runs of one package of one advisory. */
export type ProcessVersion = ProcessVersionDoc;

/** What a container's own package database says (src/advisory/container.ts). */
export type ContainerVersion = ContainerVersionDoc;

/** One advisory on this host: its verdict, every reason, its packages. */
export type AdvisoryVerdict = AdvisoryVerdictDoc;

export interface AdvisoryAssessment {
  /** The host's overall verdict: the worst over its advisories. */
  verdict: Verdict;
  advisories: AdvisoryVerdict[];
  /** Per PID: the versions it runs of the advisories' packages (stale processes only). */
  processes: Map<number, ProcessVersion[]>;
  containers: ContainerVersion[];
}

/** Per-process reads (facts.ts on the host; stubs in tests). */
export interface ProcessIo {
  /** ctime of the inode a stale file mapping maps, or null. */
  replacedAtMs(pid: number, file: StaleFile): number | null;
  startMs(pid: number): number | null;
}

export function comparatorFor(
  manager: AdvisoryHost['manager'],
): (a: string, b: string) => Ordering {
  return manager === 'rpm' ? compareRpmVersions : compareDebVersions;
}

/** Worst first: a vulnerable process, one that cannot be told, a safe one. */
export function worstVulnerable(vs: Iterable<Vulnerable>): Vulnerable {
  let w: Vulnerable = false;
  for (const v of vs) {
    if (v === true) return true;
    if (v === 'unknown') w = 'unknown';
  }
  return w;
}

/** The running version of one package in one process, and the newest it could have loaded. */
interface RunningHit {
  r: RunningVersion;
  newest: string | null;
}

export function assessAdvisories(
  advisories: readonly Advisory[],
  host: AdvisoryHost,
  processes: readonly StaleProcess[],
  io: ProcessIo,
  containers: readonly ContainerVersion[] = [],
  /** Why the scan could not look up the stale files' packages (null: it could). */
  ownersUnknown: string | null = null,
): AdvisoryAssessment {
  const compare = comparatorFor(host.manager);
  const historyOf = new Map<string, HistoryEvent[]>();
  for (const e of host.history) {
    const list = historyOf.get(e.name);
    if (list) list.push(e);
    else historyOf.set(e.name, [e]);
  }
  // The running version of one package in one process does not depend on the advisory.
  const memo = new Map<string, RunningHit>();
  // Told by the replaced inode's ctime alone, it depends on nothing else of the process: every
  // process mapping that inode (thousands after a libc upgrade) shares one answer.
  const byCtime = new Map<string, RunningHit>();
  // With one advisory a process asks once per package: nothing to remember by process.
  const byProcess = advisories.length > 1;
  const running = (p: StaleProcess, file: StaleFile, bin: string) => {
    const key = byProcess ? `${p.pid}\0${bin}` : '';
    let hit = byProcess ? memo.get(key) : undefined;
    if (!hit) {
      const history = historyOf.get(bin) ?? [];
      const replacedAtMs = io.replacedAtMs(p.pid, file);
      const ctimeKey = replacedAtMs === null ? null : `${bin}\0${replacedAtMs}`;
      hit = ctimeKey === null ? undefined : byCtime.get(ctimeKey);
      if (!hit) {
        const facts = {
          deleted: true,
          replacedAtMs,
          startMs: null as number | null,
          installed: host.installed.get(bin) ?? null,
          history,
        };
        // The start time is read only when the replaced inode's ctime did not tell.
        let r = runningVersion(facts);
        if (r.evidence !== 'history') {
          facts.startMs = io.startMs(p.pid);
          if (facts.startMs !== null) r = runningVersion(facts);
        }
        hit = { r, newest: newestReplaced(history, facts.startMs, r, compare) };
        if (ctimeKey !== null && facts.startMs === null && r.evidence === 'history')
          byCtime.set(ctimeKey, hit);
      }
      if (byProcess) memo.set(key, hit);
    }
    return hit;
  };

  const out: AdvisoryAssessment = {
    verdict: 'clean',
    advisories: [],
    processes: new Map(),
    containers: [...containers],
  };
  for (const a of advisories) {
    const facts: HostFacts & {
      installed: { name: string; version: string | null; fixed: string | null }[];
      processes: { pid: number; vulnerable: Vulnerable }[];
    } = { installed: [], processes: [], containers: [] };
    const packages: AdvisoryVerdict['packages'] = [];
    /** Binary package → fixed version, for the processes. */
    const fixedOf = new Map<string, string | null>();
    for (const pkg of a.packages) {
      const fixed = fixedVersionFor(pkg, host.families);
      // null: the package database could not be read; a name it does not list covers nothing.
      const bins = host.binaries === null ? null : (host.binaries.get(baseName(pkg.name)) ?? []);
      packages.push({
        name: pkg.name,
        fixed,
        installed: (bins ?? []).map((b) => ({ name: b, version: host.installed.get(b) ?? '' })),
      });
      if (bins === null) {
        // The package database could not be read: nothing is known, nothing is clean.
        facts.installed.push({ name: pkg.name, version: null, fixed });
        continue;
      }
      const kernels = bins.filter((b) => isKernelPackage(b, host.manager));
      for (const b of bins) {
        if (kernels.includes(b)) continue;
        facts.installed.push({ name: b, version: host.installed.get(b) ?? null, fixed });
        fixedOf.set(b, fixed);
      }
      if (kernels.length > 0) {
        // Kernels install side by side: patched when the newest image is at the fix, and the
        // running one decides the reboot (uname -r may not change with the package version).
        const newest = kernels
          .map((k) => host.installed.get(k) ?? null)
          .reduce<string | null>(
            (m, v) => (v === null ? m : m === null || compare(v, m) > 0 ? v : m),
            null,
          );
        facts.installed.push({ name: `${pkg.name} (newest kernel)`, version: newest, fixed });
        if (fixed !== null) facts.kernel = { running: host.runningKernel, fixed };
      }
    }
    let vulnerableProcesses = 0;
    let unknownProcesses = 0;
    // One version object per running-version answer: the thousands of processes that share an
    // answer (one replaced inode) share the object too (read-only from here on).
    const versionOf = new Map<RunningHit, ProcessVersion>();
    // Indexed loops: once per stale process while the code is still cold (for…of costs ~3
    // times as much).
    for (let i = 0; i < processes.length; i++) {
      const p = processes[i] as StaleProcess;
      const found = new Map<string, ProcessVersion>();
      for (let j = 0; j < p.files.length; j++) {
        const f = p.files[j] as StaleFile;
        // Host files only (a container's files are not the host's packages); mapped code only.
        if (f.kind !== 'code' || f.interpreted || f.hostPath === null) continue;
        if (host.binaries === null || (ownersUnknown !== null && f.package === null)) {
          // Without the package database (or when the lookup of the stale files' packages
          // failed) nothing says whose code this is: it may be the advisory's, so the process is
          // `unknown` (restart --fixed does not leave it alone).
          if (!found.has('*'))
            found.set('*', {
              advisory: a.id,
              package: '*',
              fixed: null,
              runningVersion: null,
              evidence: 'unknown',
              vulnerable: 'unknown',
              note:
                host.binaries === null
                  ? 'the package database could not be read'
                  : `which package shipped it is unknown: package lookup failed: ${ownersUnknown}`,
            });
          continue;
        }
        if (f.package === null) continue;
        const bin = baseName(f.package.name);
        if (!fixedOf.has(bin) || found.has(bin)) continue;
        const hit = running(p, f, bin);
        let version = versionOf.get(hit);
        if (version === undefined) {
          const fixed = fixedOf.get(bin) ?? null;
          const { r, newest } = hit;
          const vulnerable = fixed === null ? 'unknown' : isVulnerable(r, fixed, compare, newest);
          version = {
            advisory: a.id,
            package: bin,
            fixed,
            runningVersion: r.runningVersion,
            evidence: r.evidence,
            ...(r.lowerBound ? { lowerBound: true as const } : {}),
            ...(r.olderThan ? { olderThan: r.olderThan } : {}),
            vulnerable,
            note: r.note,
          };
          versionOf.set(hit, version);
        }
        found.set(bin, version);
      }
      if (found.size === 0) continue;
      let list = out.processes.get(p.pid);
      if (list === undefined) {
        list = [];
        out.processes.set(p.pid, list);
      }
      let v: Vulnerable = false;
      for (const x of found.values()) {
        list.push(x);
        v = worstVulnerable([v, x.vulnerable]);
      }
      if (v === true) vulnerableProcesses++;
      if (v === 'unknown') unknownProcesses++;
      facts.processes.push({ pid: p.pid, vulnerable: v });
    }
    const mine = containers.filter((c) => c.advisory === a.id);
    // One reason per container: the worst of its packages.
    const perContainer = new Map<string, Vulnerable[]>();
    for (const c of mine) {
      const key = `${c.runtime}:${c.id}`;
      perContainer.set(key, [...(perContainer.get(key) ?? []), c.vulnerable]);
    }
    facts.containers = [...perContainer].map(([id, vs]) => ({
      id,
      vulnerable: worstVulnerable(vs),
    }));
    const v = hostVerdict(facts, compare);
    for (const problem of host.problems) v.reasons.push({ verdict: 'unknown', why: problem });
    v.verdict = worstVerdict(v.reasons.map((x) => x.verdict));
    out.advisories.push({
      id: a.id,
      ...(a.title === undefined ? {} : { title: a.title }),
      verdict: v.verdict,
      reasons: v.reasons,
      packages,
      vulnerableProcesses,
      unknownProcesses,
    });
  }
  out.verdict = worstVerdict(out.advisories.map((a) => a.verdict));
  return out;
}

/**
 * The newest version a process could have loaded since it started: every version replaced after
 * the start (an upgrade's `from`), and the one installed at the start. Null when unknown.
 */
function newestReplaced(
  history: readonly HistoryEvent[],
  startMs: number | null,
  r: RunningVersion,
  compare: (a: string, b: string) => Ordering,
): string | null {
  if (!r.lowerBound || startMs === null) return null;
  let best = r.runningVersion;
  for (const e of history) {
    if (e.action !== 'upgrade' || e.from === null || e.time < startMs - TOLERANCE_MS) continue;
    if (best === null || compare(e.from, best) > 0) best = e.from;
  }
  return best;
}

/** Whether a unit (its PIDs) runs a vulnerable version of any advisory's package. */
export function groupVulnerable(
  a: AdvisoryAssessment | undefined,
  pids: readonly number[],
): Vulnerable {
  if (a === undefined) return false;
  // A loop, not flatMap: a unit can have 10,000 processes.
  let worst: Vulnerable = false;
  for (let i = 0; i < pids.length; i++) {
    const list = a.processes.get(pids[i] as number);
    if (list === undefined) continue;
    for (const v of list) {
      if (v.vulnerable === true) return true;
      if (v.vulnerable === 'unknown') worst = 'unknown';
    }
  }
  return worst;
}
