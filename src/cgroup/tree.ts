// Walking a mounted cgroup hierarchy: each cgroup's processes (cgroup.procs), then its children.
// The one walk behind the scan's bulk attribution and restart's verification.
import { type Dirent, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { errnoCode } from '../errors.ts';
import { readFileBounded } from '../procfs/reader.ts';

/**
 * `lenient`: what cannot be read is skipped (the scan falls back to /proc/PID/cgroup).
 * `strict`: the first cgroup that cannot be read, or a cgroup.procs line that is not a PID, ends
 * the walk with the reason — verification must not take "unreadable" for "no processes"; only a
 * child cgroup removed during the walk (ENOENT) is simply gone.
 */
export type CgroupWalkMode = 'strict' | 'lenient';

/**
 * Calls `visit` for the cgroup at `top` and each descendant, depth first, with its path relative
 * to `top` ("/" for `top` itself) and its PIDs. Returns null, or in strict mode why it stopped.
 */
export function walkCgroupTree(
  top: string,
  mode: CgroupWalkMode,
  visit: (path: string, pids: readonly number[]) => void,
): string | null {
  const walk = (dir: string, path: string): string | null => {
    const file = join(dir, 'cgroup.procs');
    const failed = (e: unknown): string | null => {
      const code = errnoCode(e) ?? 'error';
      return mode === 'strict' && (path === '/' || code !== 'ENOENT')
        ? `cannot read ${file} (${code})`
        : null;
    };
    let text: string;
    try {
      text = readFileBounded(file).toString('latin1');
    } catch (e) {
      return failed(e);
    }
    const pids: number[] = [];
    for (const line of text.split('\n')) {
      if (line === '') continue;
      const pid = Number(line);
      if (Number.isInteger(pid) && pid > 0) pids.push(pid);
      else if (mode === 'strict') return `unexpected content in ${file}`;
    }
    visit(path, pids);
    let entries: Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch (e) {
      return failed(e);
    }
    for (const e of entries) {
      if (!e.isDirectory()) continue;
      const err = walk(join(dir, e.name), path === '/' ? `/${e.name}` : `${path}/${e.name}`);
      if (err !== null) return err;
    }
    return null;
  };
  return walk(top, '/');
}
