// Running the package-manager hooks (integrations/apt, integrations/dnf) the way apt, dpkg and dnf
// do, for their integration tests: argv without a shell, a stdin nobody writes to, and a result
// to print when an assertion fails.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Result {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs argv (no shell) with stdin an open pipe that is never written nor closed: anything that
 * reads stdin would hang until the timeout, which the test then reports.
 */
export function runOpenStdin(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  timeoutMs = 120_000,
): Promise<Result> {
  const [file, ...args] = argv;
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(file ?? '', args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (b: Buffer) => out.push(b));
    child.stderr?.on('data', (b: Buffer) => err.push(b));
    child.stdin?.on('error', () => {});
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${argv.join(' ')}: still running after ${timeoutMs} ms (reading stdin?)`));
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      child.stdin?.destroy();
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
  });
}

/** Runs file with args (no shell, stdin closed) and resolves with how it ended, never rejects. */
export function runPlain(
  file: string,
  args: readonly string[],
  env?: NodeJS.ProcessEnv,
  timeoutMs = 60_000,
): Promise<Result> {
  return new Promise((resolve) => {
    execFile(file, args, { env, timeout: timeoutMs }, (e, stdout, stderr) => {
      const code = e ? (typeof e.code === 'number' ? e.code : null) : 0;
      resolve({ code, signal: null, stdout, stderr });
    });
  });
}

export const show = (r: Result) =>
  `exit ${r.code}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`;

/**
 * A pattern matching every path not under `prefix`, without lookahead (patterns must run on the
 * linear-time engine, docs/security.md): the path ends or differs at some character of it.
 */
export function notUnder(prefix: string): string {
  const esc = (t: string) => t.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
  const alts = [...prefix].map((c, i) => `${esc(prefix.slice(0, i))}(?:[^${esc(c)}]|$)`);
  return `^(?:${alts.join('|')})`;
}

/** The PATH the hooks get in their tests (a package manager's, not the test runner's). */
export const HOOK_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Stand-ins for `afterpatch` under `dir`: shell scripts, and ones that record how they ran. */
export function afterpatchStubs(dir: string): {
  stub: (name: string, body: string) => string;
  recorder: (name: string) => { bin: string; log: string; calls: () => string[] };
} {
  /** An executable shell script `bin-NAME/afterpatch` with this body; returns its path. */
  const stub = (name: string, body: string): string => {
    const d = join(dir, `bin-${name}`);
    mkdirSync(d);
    const f = join(d, 'afterpatch');
    writeFileSync(f, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
    return f;
  };
  /** A stub that records its argv and its stdin, one line per call, into `log`. */
  const recorder = (name: string) => {
    const log = join(dir, `${name}.log`);
    const bin = stub(
      name,
      `printf '%s|stdin=%s\\n' "$*" "$(readlink /proc/$$/fd/0)" >>'${log}'\nexit 0`,
    );
    return {
      bin,
      log,
      calls: () => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : []),
    };
  };
  return { stub, recorder };
}
