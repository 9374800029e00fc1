// Each stale process's cgroup path: from /proc/PID/cgroup, or — when there are many — from one
// walk of the cgroup file system, which costs per cgroup instead of per process.
import { parseCgroupFile } from '../cgroup/parse.ts';
import { walkCgroupTree } from '../cgroup/tree.ts';
import type { ProcReader } from '../procfs/reader.ts';
import { isFailure } from '../procfs/reader.ts';
import { systemdCgroupMount } from '../systemd/cgroupfs.ts';

/** Above this many processes one walk of the hierarchy is cheaper than a file per process. */
export const BULK_CGROUP_THRESHOLD = 500;

export function cgroupOf(reader: ProcReader, pid: number): string | null {
  const text = reader.read(`${pid}/cgroup`);
  return isFailure(text) ? null : parseCgroupFile(text);
}

/** A PID's cgroup path, when known (a walk's snapshot, or a map). */
export type CgroupLookup = Pick<ReadonlyMap<number, string>, 'has' | 'get'>;

/** The mount point of the systemd hierarchy this process sees, or null. */
function mountOf(reader: ProcReader): string | null {
  const info = reader.read('self/mountinfo');
  return isFailure(info) ? null : systemdCgroupMount(info);
}

/**
 * Every process's cgroup, from one walk: made by the main thread once its reads are done, while
 * a worker copies its results out (src/scan/parallel.ts). A process started after the walk is
 * not in it: its cgroup is read from /proc like any other missing one.
 */
export class CgroupSnapshot {
  /** Distinct cgroup paths; `#at` maps a PID to its index here. */
  readonly #paths: string[] = [];
  readonly #at = new Map<number, number>();

  /** The walk of the systemd hierarchy that `reader`'s /proc shows, or null without one. */
  static take(reader: ProcReader): CgroupSnapshot | null {
    const mount = mountOf(reader);
    return mount === null ? null : CgroupSnapshot.walk(mount);
  }

  /** The walk of the hierarchy mounted at `mount`. */
  static walk(mount: string): CgroupSnapshot {
    const snap = new CgroupSnapshot();
    walkCgroupTree(mount, 'lenient', (path, pids) => {
      const index = snap.#paths.push(path) - 1;
      for (const pid of pids) snap.#at.set(pid, index);
    });
    return snap;
  }

  has(pid: number): boolean {
    return this.#at.has(pid);
  }

  get(pid: number): string | undefined {
    const index = this.#at.get(pid);
    return index === undefined ? undefined : this.#paths[index];
  }
}

/**
 * Cgroup paths of `pids`. The bulk walk is used only for the real /proc, and only after a few
 * processes read the classic way agree with it (a mount seen from another cgroup namespace, or a
 * v1-only layout, would not). `early`: that walk, made ahead (CgroupSnapshot, src/scan/parallel.ts),
 * or any PID → path look-up.
 */
export function cgroupsOf(
  reader: ProcReader,
  pids: readonly number[],
  early: CgroupLookup | null = null,
): Map<number, string | null> {
  const out = new Map<number, string | null>();
  let bulk: CgroupLookup | null = null;
  if (pids.length > BULK_CGROUP_THRESHOLD && reader.root === '/proc') {
    const mount = early === null ? mountOf(reader) : null;
    const walked = early ?? (mount === null ? null : CgroupSnapshot.walk(mount));
    const sample = pids.slice(0, 3);
    if (
      walked !== null &&
      sample.every((pid) => !walked.has(pid) || walked.get(pid) === cgroupOf(reader, pid))
    )
      bulk = walked;
  }
  for (const pid of pids) out.set(pid, bulk?.get(pid) ?? cgroupOf(reader, pid));
  return out;
}
