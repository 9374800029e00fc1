// Processes of a unit, read from the cgroup file system (the unit's ControlGroup and below).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
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

/** Every PID in a cgroup and its descendants; [] when the cgroup is gone. */
export function cgroupPids(mount: string, controlGroup: string): number[] {
  const pids: number[] = [];
  const walk = (dir: string) => {
    let text: string;
    try {
      text = readFileSync(join(dir, 'cgroup.procs'), 'utf8');
    } catch {
      return;
    }
    for (const l of text.split('\n')) if (l !== '') pids.push(Number(l));
    let entries: import('node:fs').Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) if (e.isDirectory()) walk(join(dir, e.name));
  };
  walk(join(mount, controlGroup));
  return pids.sort((a, b) => a - b);
}
