// Runs the built CLI (dist/afterpatch.cjs): in this process through the bundle's runCli (the
// bundle is what runs, so CLI tests still test what ships), or as a real child process when the
// run needs one. Starting Node and loading the bundle cost ~90 ms of CPU per run, and the fast
// suite makes hundreds of runs: in-process they cost only the command's own work.
//
// A run is spawned when it must be: another user (uid/gid), a command that lives on or handles
// signals (serve; restart on the real /proc), an environment that acts at a
// process's start (LD_PRELOAD, NODE_OPTIONS, AFTERPATCH_TIMING), and always with AFTERPATCH_TEST_SPAWN=1 —
// which runs every CLI test against real processes, as it was before (CONTRIBUTING.md).
import { execFile } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';

import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { CliIo } from '../src/cli/io.ts';

export const CLI = fileURLToPath(new URL('../dist/afterpatch.cjs', import.meta.url));

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  uid?: number;
  gid?: number;
  /** Standard input of the run (else empty in-process; left open in a child, as before). */
  input?: string;
  /** Force a real child process for this run. */
  spawn?: boolean;
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

/** The default environment of a run: only PATH, so the caller's settings do not leak in. */
const defaultEnv = (): NodeJS.ProcessEnv => ({ PATH: process.env.PATH ?? '/usr/bin:/bin' });

export function runCli(args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run "npm run build" first`);
  const env = opts.env ?? defaultEnv();
  return process.env.AFTERPATCH_TEST_SPAWN === '1' || mustSpawn(args, env, opts)
    ? spawnCli(args, env, opts)
    : inProcess(args, env, opts.input);
}

/** True when a run cannot be faithful in this process (see the top of this file). */
export function mustSpawn(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  opts: RunOptions = {},
): boolean {
  if (opts.spawn === true) return true;
  if (opts.uid !== undefined || opts.gid !== undefined) return true;
  // Read once when a process starts: in this process they are what they are. Others (such as
  // NODE_TEST_CONTEXT or NODE_EXTRA_CA_CERTS in a copy of process.env) change nothing for the CLI.
  const atStart = (k: string) =>
    /^(LD_PRELOAD|LD_LIBRARY_PATH|NODE_OPTIONS|AFTERPATCH_TIMING|AFTERPATCH_SERVE_GATHER)$/.test(k);
  if (Object.keys({ ...env, ...process.env }).some((k) => atStart(k) && env[k] !== process.env[k]))
    return true;
  const command = args.find((a) => !a.startsWith('-'));
  if (command === 'serve' || command === 'node') return true;
  // restart on the real /proc keeps one bus connection per process (src/restart/restart.ts).
  if (command === 'restart') return procRoot(args) === '/proc';
  return false;
}

/** The last --proc-root of args (commander's rule), normalised; /proc when none. */
function procRoot(args: readonly string[]): string {
  let root = '/proc';
  for (const [i, a] of args.entries()) {
    if (a === '--proc-root') root = args[i + 1] ?? root;
    else if (a.startsWith('--proc-root=')) root = a.slice('--proc-root='.length);
  }
  return resolve(root);
}

function spawnCli(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  opts: RunOptions,
): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [cliForAnyUser(), ...args],
      { env, maxBuffer: 64 * 1024 * 1024, uid: opts.uid, gid: opts.gid },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 127) : 0;
        resolve({ code, stdout, stderr });
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

interface Bundle {
  runCli(argv: readonly string[], io: CliIo): Promise<number>;
}

let bundle: Bundle | null = null;

/** The bundle, loaded once per process (its require() runs nothing: src/main.ts). */
function loadBundle(): Bundle {
  if (bundle === null) {
    const mod = createRequire(import.meta.url)(CLI) as Partial<Bundle>;
    if (typeof mod.runCli !== 'function') throw new Error(`${CLI} exports no runCli: rebuild it`);
    bundle = mod as Bundle;
  }
  return bundle;
}

/** The in-process runs, one after another: each has process.env to itself while it runs. */
let queue: Promise<unknown> = Promise.resolve();

function inProcess(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  input = '',
): Promise<RunResult> {
  const run = queue.then(async () => {
    const { runCli: run } = loadBundle();
    const stdout = capture();
    const stderr = capture();
    const io: CliIo = {
      stdout,
      stderr,
      stdin: Object.assign(Readable.from(input === '' ? [] : [Buffer.from(input)]), {
        isTTY: false,
      }),
      env: { ...env },
    };
    // What the library and the programs it starts (systemctl, rpm, dpkg-query) see, as a child
    // would: its environment is exactly the run's.
    const saved = process.env;
    // Node takes a new TZ only through the real environment object.
    const tz = saved.TZ;
    setTz(saved, env.TZ);
    process.env = io.env;
    try {
      const code = await run([process.execPath, CLI, ...args], io);
      return { code, stdout: stdout.text, stderr: stderr.text };
    } finally {
      process.env = saved;
      setTz(saved, tz);
    }
  });
  queue = run.catch(() => {});
  return run;
}

function setTz(env: NodeJS.ProcessEnv, tz: string | undefined): void {
  if (env.TZ === tz) return;
  if (tz === undefined) delete env.TZ;
  else env.TZ = tz;
}

/** A stream for the CLI that keeps what is written; not a terminal, like a child's pipe. */
function capture(): { write(s: string): boolean; isTTY: false; text: string } {
  return {
    isTTY: false,
    text: '',
    write(s: string) {
      this.text += s;
      return true;
    },
  };
}
