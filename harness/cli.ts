// Runs the built CLI (dist/afterpatch.cjs) as a real child process.
import { execFile } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../dist/afterpatch.cjs', import.meta.url));

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

let sharedCopy: string | null = null;

/**
 * The bundle as the CLI tests run it: a copy under another name (`ap-copy`), reached through a
 * symlink under a third name (`ap-link`), so every CLI test also proves that the program runs
 * whatever its file is called and however it is reached (issue 11.4). Readable by every user:
 * another uid cannot reach the checkout when it lives below a private directory (a clone under
 * /root). The bundle is self-contained, so a copy runs alike.
 */
export function cliForAnyUser(): string {
  if (sharedCopy === null) {
    const dir = mkdtempSync(join(tmpdir(), 'afterpatch-cli-'));
    chmodSync(dir, 0o755);
    const copy = join(dir, 'ap-copy');
    copyFileSync(CLI, copy);
    chmodSync(copy, 0o755);
    sharedCopy = join(dir, 'ap-link');
    symlinkSync('ap-copy', sharedCopy);
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  return sharedCopy;
}

export function runCli(
  args: readonly string[],
  opts: { env?: NodeJS.ProcessEnv; uid?: number; gid?: number } = {},
): Promise<RunResult> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run "npm run build" first`);
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [cliForAnyUser(), ...args],
      {
        env: opts.env ?? { PATH: process.env.PATH ?? '/usr/bin:/bin' },
        maxBuffer: 64 * 1024 * 1024,
        uid: opts.uid,
        gid: opts.gid,
      },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 127) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}
