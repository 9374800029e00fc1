// The advisory parts of the scan outputs (docs/advisories.md, docs/json.md): one typed function
// per place in the document, so the JSON schemas of src/formats/ can adopt them as they are.
import {
  type AdvisoryAssessment,
  type AdvisoryVerdict,
  type ContainerVersion,
  groupVulnerable,
  type ProcessVersion,
  worstVulnerable,
} from '../advisory/assess.ts';
import { VERDICTS, type Verdict, type Vulnerable } from '../advisory/running.ts';

/** Top level of `scan --json` with advisories: the host's verdict and each advisory's. */
export interface AdvisoryDocument {
  /** The worst verdict over the advisories. */
  advisoryVerdict: Verdict;
  advisories: AdvisoryVerdict[];
  /** Per container and advisory: the version its own package database ships. */
  containerVersions: ContainerVersion[];
}

/** Per process and per entry (unit): what it runs of the advisories' packages. */
export interface AdvisoryMark {
  /** true: runs a version below a fix; "unknown": cannot be told; false: every version ≥ fix. */
  vulnerable: Vulnerable;
  versions: ProcessVersion[];
}

export function advisoryDocument(a: AdvisoryAssessment | undefined): AdvisoryDocument | object {
  if (a === undefined) return {};
  return { advisoryVerdict: a.verdict, advisories: a.advisories, containerVersions: a.containers };
}

const NO_ANSWERS: readonly ProcessVersion[] = [];

/** One process's answers: what its mark is made of (the same items, the same mark). */
export function processAnswers(a: AdvisoryAssessment, pid: number): readonly ProcessVersion[] {
  return a.processes.get(pid) ?? NO_ANSWERS;
}

/** The mark of a set of PIDs (one process, or a unit's); nothing when no advisory was given. */
export function advisoryMark(
  a: AdvisoryAssessment | undefined,
  pids: readonly number[],
): AdvisoryMark | object {
  if (a === undefined) return {};
  if (pids.length === 1) {
    // One process (10,000 of them in a scan's JSON): its list holds each advisory's package
    // once already, so there is nothing to merge.
    const own = processAnswers(a, pids[0] as number);
    return { vulnerable: worstVulnerable(own.map((v) => v.vulnerable)), versions: [...own] };
  }
  const seen = new Set<string>();
  // Processes that share an answer share its object (10,000 of them after a libc upgrade):
  // an object seen already needs no key.
  const seenObjects = new Set<ProcessVersion>();
  const versions: ProcessVersion[] = [];
  for (let i = 0; i < pids.length; i++)
    for (const v of processAnswers(a, pids[i] as number)) {
      if (seenObjects.has(v)) continue;
      seenObjects.add(v);
      // A unit lists each (advisory, package, version, evidence) once.
      const key = `${v.advisory}\0${v.package}\0${v.runningVersion}\0${v.evidence}\0${v.vulnerable}`;
      if (seen.has(key)) continue;
      seen.add(key);
      versions.push(v);
    }
  return { vulnerable: groupVulnerable(a, pids), versions };
}

/** The text line of a process or unit: ` VULNERABLE (CVE-…: libssl3 3.0.11-1 < 3.0.13-1)`. */
export function advisoryText(a: AdvisoryAssessment | undefined, pids: readonly number[]): string {
  if (a === undefined) return '';
  const v = groupVulnerable(a, pids);
  const list = pids.flatMap((pid) => a.processes.get(pid) ?? []);
  if (list.length === 0) return '';
  const worst = list.find((x) => x.vulnerable === v);
  if (worst === undefined) return '';
  const running = worst.runningVersion ?? (worst.olderThan ? `< ${worst.olderThan.version}` : '?');
  const what = `${worst.advisory}: ${worst.package} ${running}${worst.lowerBound ? '+' : ''}, fixed ${worst.fixed ?? '?'}`;
  if (v === true) return ` VULNERABLE (${what})`;
  if (v === 'unknown') return ` vulnerable? (${what})`;
  return ` not vulnerable (${what})`;
}

/** The summary lines of the text output: one per advisory, with its reasons. */
export function advisorySummaryText(a: AdvisoryAssessment | undefined): string[] {
  if (a === undefined) return [];
  const out: string[] = [];
  for (const adv of a.advisories) {
    out.push(`Advisory ${adv.id}: ${adv.verdict}`);
    for (const r of adv.reasons) out.push(`  ${r.verdict}: ${r.why}`);
    // A name no installed package has (nor is built from) makes "clean" of a typo: say so.
    for (const p of adv.packages) {
      if (p.installed.length === 0 && adv.verdict !== 'unknown') {
        out.push(
          `  note: no installed package is named ${p.name} or built from it (check the name)`,
        );
      }
    }
  }
  return out;
}

/**
 * The Prometheus series of the advisories: a 0/1 gauge per advisory and verdict, and the counts
 * of vulnerable processes. Bounded: at most MAX_RUN_ADVISORIES advisories (ids of at most 64
 * characters, checked on input) times the six verdicts.
 */
export function advisorySeries(a: AdvisoryAssessment | undefined): {
  verdicts: [Record<string, string>, number][];
  processes: [Record<string, string>, number][];
} | null {
  if (a === undefined) return null;
  return {
    verdicts: a.advisories.flatMap((adv) =>
      VERDICTS.map((verdict): [Record<string, string>, number] => [
        { advisory: adv.id, verdict },
        adv.verdict === verdict ? 1 : 0,
      ]),
    ),
    processes: a.advisories.flatMap((adv): [Record<string, string>, number][] => [
      [{ advisory: adv.id, vulnerable: 'true' }, adv.vulnerableProcesses],
      [{ advisory: adv.id, vulnerable: 'unknown' }, adv.unknownProcesses],
    ]),
  };
}

/**
 * With advisories, the stale entries `restart` left out of its plan because every version they
 * run is at or above the fixes (src/restart/restart.ts): their keys, for the restart report.
 */
export function advisoryLeftAlone(scan: {
  advisories?: AdvisoryAssessment;
  groups: readonly { key: string; severity: 'code' | 'data'; pids: number[] }[];
}): string[] | null {
  if (scan.advisories === undefined) return null;
  const a = scan.advisories;
  return scan.groups
    .filter((g) => g.severity === 'code' && groupVulnerable(a, g.pids) === false)
    .map((g) => g.key);
}
