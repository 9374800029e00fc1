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

/** PID → cgroup path for the wanted PIDs found in the hierarchy mounted at `mount`. */
export function walkCgroups(mount: string, wanted: ReadonlySet<number>): Map<number, string> {
  const out = new Map<number, string>();
  walkCgroupTree(mount, 'lenient', (path, pids) => {
    for (const pid of pids) if (wanted.has(pid)) out.set(pid, path);
  });
  return out;
}

/**
 * Cgroup paths of `pids`. The bulk walk is used only for the real /proc, and only after a few
 * processes read the classic way agree with it (a mount seen from another cgroup namespace, or a
 * v1-only layout, would not).
 */
export function cgroupsOf(reader: ProcReader, pids: readonly number[]): Map<number, string | null> {
  const out = new Map<number, string | null>();
  let bulk: Map<number, string> | null = null;
  if (pids.length > BULK_CGROUP_THRESHOLD && reader.root === '/proc') {
    const info = reader.read('self/mountinfo');
    const mount = isFailure(info) ? null : systemdCgroupMount(info);
    if (mount) {
      const walked = walkCgroups(mount, new Set(pids));
      const sample = pids.slice(0, 3);
      if (sample.every((pid) => !walked.has(pid) || walked.get(pid) === cgroupOf(reader, pid)))
        bulk = walked;
    }
  }
  for (const pid of pids) out.set(pid, bulk?.get(pid) ?? cgroupOf(reader, pid));
  return out;
}
