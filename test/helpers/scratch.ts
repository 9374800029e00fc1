// Scratch directories for one test file: fresh subdirectories of one mkdtemp root, removed after.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';

/** Call at describe level; each call of the result is a new empty directory (mode 0755). */
export function scratchDirs(prefix: string): () => string {
  const root = mkdtempSync(join(tmpdir(), `${prefix}-`));
  after(() => rmSync(root, { recursive: true, force: true }));
  let n = 0;
  return () => {
    const d = join(root, `d${n++}`);
    mkdirSync(d, { mode: 0o755 });
    return d;
  };
}
