// Which version of a package a process runs, and what that means for an advisory: pure
// functions over what the scan read (docs/advisories.md).

import { VERDICTS, type Verdict } from '../formats/advisory.ts';
import type { Ordering } from '../reboot/version.ts';
import type { HistoryEvent } from './history.ts';

/** ctime and the log's whole-second timestamps: an event this close to a change is "at" it. */
export const TOLERANCE_MS = 2000;

export interface MappingFacts {
  /** The mapped file was deleted or replaced (maps says " (deleted)"). */
  deleted: boolean;
  /** ctime of the mapped inode (stat of /proc/PID/map_files/RANGE): when it was replaced. */
  replacedAtMs: number | null;
  /** When the process started. */
  startMs: number | null;
  /** Version of the package installed now; null when not installed. */
  installed: string | null;
  /** This package's history, in time order. */
  history: readonly HistoryEvent[];
}

export type Evidence = 'installed' | 'history' | 'unknown';

export interface RunningVersion {
  /** The version the process runs; null when unknown. */
  runningVersion: string | null;
  evidence: Evidence;
  /** With `history` from the start time: the version installed then, a lower bound. */
  lowerBound?: boolean;
  /** With `unknown`: the process runs a version older than this one (installed at `at`). */
  olderThan?: { version: string; at: string | null };
  /** One line for people: how the version is known, or why not. */
  note: string;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** The version the process runs (docs/advisories.md, "The version each process runs"). */
export function runningVersion(f: MappingFacts): RunningVersion {
  if (!f.deleted) {
    return f.installed === null
      ? { runningVersion: null, evidence: 'unknown', note: 'the package is not installed now' }
      : {
          runningVersion: f.installed,
          evidence: 'installed',
          note: 'the file is the installed one',
        };
  }
  const h = f.history;
  if (f.replacedAtMs !== null) {
    // The upgrade that replaced the file was logged before (at most TOLERANCE_MS after) the
    // replacement: the last one up to then replaced the version the process runs.
    const at = f.replacedAtMs;
    const up = [...h].reverse().find((e) => e.action === 'upgrade' && e.time <= at + TOLERANCE_MS);
    if (up?.from) {
      return {
        runningVersion: up.from,
        evidence: 'history',
        note: `replaced at ${iso(at)} by the upgrade ${up.from} → ${up.version}`,
      };
    }
  }
  if (f.startMs !== null) {
    const start = f.startMs;
    const before = [...h].reverse().find((e) => e.time <= start - TOLERANCE_MS);
    // Before the first logged event the first upgrade's `from` was installed.
    const first = h[0];
    const then =
      before !== undefined
        ? before.version
        : first?.action === 'upgrade' && first.time > start + TOLERANCE_MS
          ? first.from
          : null;
    if (then !== null && then !== undefined) {
      return {
        runningVersion: then,
        evidence: 'history',
        lowerBound: true,
        note: `${then} was installed when the process started (${iso(start)}): at least that version`,
      };
    }
  }
  // The history does not reach back: bound it by the oldest version it knows, or the current.
  const oldest = h.find((e) => e.version !== null);
  const bound = oldest?.version ?? f.installed;
  if (bound === null || bound === undefined) {
    return { runningVersion: null, evidence: 'unknown', note: 'no history and nothing installed' };
  }
  const at = oldest ? iso(oldest.time) : null;
  return {
    runningVersion: null,
    evidence: 'unknown',
    olderThan: { version: bound, at },
    note: `unknown, older than ${bound}${at === null ? ' (installed now)' : ` installed at ${at}`}`,
  };
}

export type Vulnerable = true | false | 'unknown';

/**
 * Whether a process running `r` is vulnerable for a fix at `fixed`. A lower bound proves only
 * "not vulnerable" (when it is at least the fix) or, when every version between it and the
 * current one's predecessor is below the fix, "vulnerable"; "older than X" proves "vulnerable"
 * when X is not above the fix.
 */
export function isVulnerable(
  r: RunningVersion,
  fixed: string,
  compare: (a: string, b: string) => Ordering,
  newestPossible: string | null = null,
): Vulnerable {
  if (r.runningVersion !== null) {
    const below = compare(r.runningVersion, fixed) < 0;
    if (!r.lowerBound) return below;
    if (!below) return false;
    return newestPossible !== null && compare(newestPossible, fixed) < 0 ? true : 'unknown';
  }
  if (r.olderThan && compare(r.olderThan.version, fixed) <= 0) return true;
  return 'unknown';
}

// Per advisory and host, worst first: the document's list (src/formats/advisory.ts).
export { VERDICTS, type Verdict };

export function worstVerdict(vs: Iterable<Verdict>): Verdict {
  let worst: Verdict = 'clean';
  for (const v of vs) if (VERDICTS.indexOf(v) < VERDICTS.indexOf(worst)) worst = v;
  return worst;
}

export interface HostFacts {
  /** Installed packages of the advisory with their fixed versions (null: no fix for this host's
   *  family, or the version cannot be read). */
  installed: readonly { name: string; version: string | null; fixed: string | null }[];
  /** Running kernel package version vs the fix; absent when the advisory names no kernel. */
  kernel?: { running: string | null; fixed: string };
  /** Every host process mapping a file of the advisory's packages. */
  processes: readonly { pid: number; vulnerable: Vulnerable }[];
  /** Containers: whether their image ships a version below the fix. */
  containers: readonly { id: string; vulnerable: Vulnerable }[];
}

export interface HostVerdict {
  verdict: Verdict;
  /** Every reason found, worst first. */
  reasons: { verdict: Verdict; why: string }[];
}

/** The headline verdict for one advisory on one host, with every reason. */
export function hostVerdict(
  h: HostFacts,
  compare: (a: string, b: string) => Ordering,
): HostVerdict {
  const reasons: HostVerdict['reasons'] = [];
  for (const p of h.installed) {
    if (p.version === null || p.fixed === null) {
      reasons.push({
        verdict: 'unknown',
        why: `${p.name}: ${p.version === null ? 'installed version unknown' : 'no fixed version for this distribution'}`,
      });
    } else if (compare(p.version, p.fixed) < 0) {
      reasons.push({ verdict: 'unpatched', why: `${p.name} ${p.version} is below ${p.fixed}` });
    }
  }
  if (h.kernel) {
    if (h.kernel.running === null)
      reasons.push({ verdict: 'unknown', why: 'running kernel package version unknown' });
    else if (compare(h.kernel.running, h.kernel.fixed) < 0)
      reasons.push({
        verdict: 'reboot-needed',
        why: `running kernel ${h.kernel.running} is below ${h.kernel.fixed}`,
      });
  }
  const vuln = h.processes.filter((p) => p.vulnerable === true);
  if (vuln.length > 0)
    reasons.push({
      verdict: 'restart-needed',
      why: `${vuln.length} process(es) run a version below the fix`,
    });
  const unsure = h.processes.filter((p) => p.vulnerable === 'unknown');
  if (unsure.length > 0)
    reasons.push({
      verdict: 'unknown',
      why: `${unsure.length} process(es) run a version that cannot be told`,
    });
  for (const c of h.containers) {
    if (c.vulnerable === true)
      reasons.push({
        verdict: 'image-vulnerable',
        why: `container ${c.id}: its image ships a version below the fix`,
      });
    else if (c.vulnerable === 'unknown')
      reasons.push({
        verdict: 'unknown',
        why: `container ${c.id}: its package version cannot be read`,
      });
  }
  reasons.sort((a, b) => VERDICTS.indexOf(a.verdict) - VERDICTS.indexOf(b.verdict));
  return { verdict: worstVerdict(reasons.map((r) => r.verdict)), reasons };
}
