// Processes of a unit, read from the cgroup file system (the unit's ControlGroup and below).
import { join } from 'node:path';
import { walkCgroupTree } from '../cgroup/tree.ts';
import { readFileBounded } from '../procfs/reader.ts';

/**
 * Where systemd's hierarchy is mounted: the cgroup2 mount (unified or hybrid hosts) or, on
 * pure cgroup v1, the `name=systemd` one. Null when neither is visible.
 */
export function systemdCgroupMount(mountinfo: string): string | null {
  let v1: string | null = null;
  for (const line of mountinfo.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep === -1) continue;
    const left = line.slice(0, sep).split(' ');
    const right = line.slice(sep + 3).split(' ');
    const mountPoint = unescapeMountinfo(left[4] ?? '');
    if (right[0] === 'cgroup2') return mountPoint;
    if (right[0] === 'cgroup' && (right[2] ?? '').split(',').includes('name=systemd'))
      v1 = mountPoint;
  }
  return v1;
}

function unescapeMountinfo(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
}

let cachedMount: string | null | undefined;

export function hostCgroupMount(): string | null {
  if (cachedMount === undefined) {
    try {
      cachedMount = systemdCgroupMount(readFileBounded('/proc/self/mountinfo').toString('utf8'));
    } catch {
      cachedMount = null;
    }
  }
  return cachedMount;
}

/** The PIDs of a cgroup and its descendants, or why they could not be read. */
export type CgroupPids = { pids: number[]; error: null } | { pids: null; error: string };

/**
 * Every PID in a cgroup and its descendants. A unit's own cgroup that cannot be read (missing,
 * EACCES, not a cgroup file system) is an error, never "no processes": verification must not say
 * `verified` without evidence. A child cgroup removed during the walk is simply gone.
 */
export function cgroupPids(mount: string, controlGroup: string): CgroupPids {
  const pids: number[] = [];
  const error = walkCgroupTree(join(mount, controlGroup), 'strict', (_, found) => {
    for (const pid of found) pids.push(pid);
  });
  return error === null ? { pids: pids.sort((a, b) => a - b), error: null } : { pids: null, error };
}
