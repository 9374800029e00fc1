// Processes of a unit, read from the cgroup file system (the unit's ControlGroup and below).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { errnoCode } from '../errors.ts';
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
  const walk = (dir: string, top: boolean): string | null => {
    let text: string;
    let entries: import('node:fs').Dirent[];
    try {
      text = readFileSync(join(dir, 'cgroup.procs'), 'utf8');
      entries = readdirSync(dir, { withFileTypes: true });
    } catch (e) {
      const code = errnoCode(e) ?? 'error';
      return top || code !== 'ENOENT' ? `cannot read ${join(dir, 'cgroup.procs')} (${code})` : null;
    }
    for (const l of text.split('\n')) {
      const pid = Number(l);
      if (l === '') continue;
      if (!Number.isInteger(pid) || pid <= 0)
        return `unexpected content in ${join(dir, 'cgroup.procs')}`;
      pids.push(pid);
    }
    for (const e of entries) {
      if (!e.isDirectory()) continue;
      const err = walk(join(dir, e.name), false);
      if (err) return err;
    }
    return null;
  };
  const error = walk(join(mount, controlGroup), true);
  return error === null ? { pids: pids.sort((a, b) => a - b), error: null } : { pids: null, error };
}
