// A tiny tmpfs mounted (as root) on a test directory: the way to get a real ENOSPC.
import { execFileSync } from 'node:child_process';

export const IS_ROOT = process.getuid?.() === 0;

/** Mounts a tmpfs of `bytes` (rounded up to pages) on `dir`; returns the unmount function. */
export function mountTinyTmpfs(dir: string, bytes: number): () => void {
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes},mode=0755`, 'tmpfs', dir]);
  return () => execFileSync('umount', ['-l', dir]);
}
