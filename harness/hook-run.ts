// Running the package-manager hooks (integrations/apt, integrations/dnf) the way apt, dpkg and dnf
// do, for their integration tests: argv without a shell, a stdin nobody writes to, and a result
// to print when an assertion fails.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Result {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs argv (no shell) in a process group of its own; `stdin: 'open'` gives it a pipe that is
 * never written nor closed (anything that reads stdin hangs until the timeout), `'closed'`
 * /dev/null. On the timeout the whole group is killed (the hook and the afterpatch it runs, not
 * only the package manager that started them) and the promise rejects.
 */
function runArgv(
  argv: readonly string[],
  env: NodeJS.ProcessEnv | undefined,
  timeoutMs: number,
  stdin: 'open' | 'closed',
): Promise<Result> {
  const [file, ...args] = argv;
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(file ?? '', args, {
      env: env ?? process.env,
      stdio: [stdin === 'open' ? 'pipe' : 'ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (b: Buffer) => out.push(b));
    child.stderr?.on('data', (b: Buffer) => err.push(b));
    child.stdin?.on('error', () => {});
    const timer = setTimeout(() => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
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

/** argv with stdin an open pipe nobody writes to (see runArgv). */
export function runOpenStdin(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  timeoutMs = 120_000,
): Promise<Result> {
  return runArgv(argv, env, timeoutMs, 'open');
}

/** file with args, stdin /dev/null (see runArgv). */
export function runPlain(
  file: string,
  args: readonly string[],
  env?: NodeJS.ProcessEnv,
  timeoutMs = 60_000,
): Promise<Result> {
  return runArgv([file, ...args], env, timeoutMs, 'closed');
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
