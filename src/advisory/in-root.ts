// Reading a file of a container's own file system through /proc/PID/root without ever leaving
// it: the kernel would resolve an absolute symlink found under /proc/PID/root against *our* root
// (the host's files), so the path is walked one component at a time, each opened relative to the
// directory before it (/proc/self/fd/N/NAME with O_NOFOLLOW: no symlink is followed by the
// kernel), symlinks resolved here against the container's root, `..` never above it. A symlink
// swapped in meanwhile is refused by O_NOFOLLOW, not followed. Bounded and non-blocking.
import { closeSync, constants, fstatSync, openSync, readlinkSync } from 'node:fs';
import { readFully } from '../io/read-fully.ts';

/** Symlinks followed in one resolution, as the kernel's own limit. */
const MAX_HOPS = 40;
/** Path components walked in one resolution: a hostile tree of deep links stays cheap. */
const MAX_STEPS = 1024;

/**
 * The bytes of `path` inside the root directory `rootDir` (e.g. /proc/PID/root), at most
 * `maxBytes`; null when absent, not a regular file, larger, or unreadable.
 */
export function readInRoot(
  rootDir: string,
  path: string,
  maxBytes: number,
  /** Files already read, by device, inode, size and mtime: containers of one image share them. */
  cache?: Map<string, Buffer>,
): Buffer | null {
  let rootFd: number;
  try {
    rootFd = openSync(rootDir, constants.O_RDONLY | constants.O_DIRECTORY);
  } catch {
    return null;
  }
  const stack: number[] = [rootFd];
  const closeAbove = (n: number) => {
    while (stack.length > n) closeSync(stack.pop() as number);
  };
  try {
    const queue = path.split('/').filter((c) => c !== '' && c !== '.');
    let hops = 0;
    let steps = 0;
    while (queue.length > 0) {
      if (++steps > MAX_STEPS) return null;
      const comp = queue.shift() as string;
      if (comp === '..') {
        if (stack.length > 1) closeAbove(stack.length - 1);
        continue;
      }
      const last = queue.length === 0;
      const at = `/proc/self/fd/${stack[stack.length - 1]}/${comp}`;
      const flags =
        constants.O_RDONLY |
        constants.O_NOFOLLOW |
        constants.O_NONBLOCK |
        (last ? 0 : constants.O_DIRECTORY);
      let fd: number;
      try {
        fd = openSync(at, flags);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== 'ELOOP' && code !== 'ENOTDIR') return null;
        // A symlink (or not a directory): resolve it here, inside the root.
        let target: string;
        try {
          target = readlinkSync(at);
        } catch {
          return null;
        }
        if (++hops > MAX_HOPS) return null;
        if (target.startsWith('/')) closeAbove(1);
        queue.unshift(...target.split('/').filter((c) => c !== '' && c !== '.'));
        continue;
      }
      if (!last) {
        stack.push(fd);
        continue;
      }
      try {
        const st = fstatSync(fd);
        if (!st.isFile() || st.size > maxBytes) return null;
        const key = `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
        const hit = cache?.get(key);
        if (hit) return hit;
        const out = readFully(fd, st.size);
        cache?.set(key, out);
        return out;
      } finally {
        closeSync(fd);
      }
    }
    return null;
  } catch {
    return null;
  } finally {
    closeAbove(0);
  }
}
