// Is a program installed? Looked up on PATH without spawning a shell, for tests that skip
// (with the reason) when a tool they need is missing.
import { accessSync, constants, statSync } from 'node:fs';
import { join } from 'node:path';

/** The first executable regular file `name` in the directories of `path` (default: $PATH). */
export function which(name: string, path = process.env.PATH ?? ''): string | undefined {
  for (const dir of path.split(':')) {
    if (dir === '') continue;
    const p = join(dir, name);
    try {
      accessSync(p, constants.X_OK);
      if (statSync(p).isFile()) return p;
    } catch {}
  }
  return undefined;
}

export const hasTool = (name: string): boolean => which(name) !== undefined;
