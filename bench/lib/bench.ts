// bench/lib/bench.ts - what every bench script shares: errors and log lines carrying the
// script's name, the environment knobs, running commands on the host (never with
// NODE_EXTRA_CA_CERTS), the work directory bench/out/<prefix>XXXXXX/ and the run itself (main,
// then always the cleanup; exit status 0 or 2). hyperfine.ts runs hyperfine, scripts.ts writes
// the scripts the benches hand to it; what the benches share with the tests (the sandbox, the rig,
// the test packages, the CLI's path) is in harness/ at the top of the repository.
//
// A script's main runs through runBench(), which names the script for every message.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLI } from '../../harness/cli.ts';
import { stopHyperfine } from './hyperfine.ts';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));
export const OUT = join(REPO, 'bench', 'out');
export const PATH_ENV = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** Characters allowed in every value written into a script or a hyperfine command line. */
export const SAFE_PATH = /^\/[A-Za-z0-9_./-]+$/;

// ---------------------------------------------------------------------------------------------
// The script: its messages, its knobs, what it needs

let benchName = 'bench';
/** The running script's name (`bench/restart`), for messages and the scripts it writes. */
export const scriptName = () => benchName;
let workPrefix = 'bench-';
let defaultTimeoutMs = 300_000;
/** Set: log lines carry the seconds since runBench() started. */
let logStart: number | undefined;

export class BenchError extends Error {}
export function die(msg: string): never {
  throw new BenchError(msg);
}

/** `== msg` on stderr: progress. */
export function log(msg: string): void {
  const t =
    logStart === undefined ? '' : `[${((performance.now() - logStart) / 1000).toFixed(0)} s] `;
  process.stderr.write(`== ${t}${msg}\n`);
}

/** `bench/NAME: msg` on stderr: what went wrong. */
function warn(msg: string): void {
  process.stderr.write(`${benchName}: ${msg}\n`);
}

/** A whole number from the environment, `def` when unset or empty. */
export function intEnv(name: string, def: number, min: number, max = 9_999): number {
  const v = process.env[name];
  if (v === undefined || v === '') return def;
  if (!/^[0-9]{1,6}$/.test(v) || Number(v) < min || Number(v) > max)
    die(`${name} must be a number from ${min} to ${max}`);
  return Number(v);
}

/** A number (decimals allowed) from the environment, `def` when unset or empty. */
export function numEnv(name: string, def: number, min: number, max: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return def;
  if (!/^[0-9]+(\.[0-9]+)?$/.test(v) || Number(v) < min || Number(v) > max)
    die(`${name} must be a number from ${min} to ${max}`);
  return Number(v);
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Waits up to a minute for dist/afterpatch.cjs: a concurrent `npm run build` removes dist/ first. */
export async function waitForDist(): Promise<void> {
  for (let i = 0; i < 60 && !existsSync(CLI); i++) await sleep(1000);
  if (!existsSync(CLI)) die(`${CLI} is missing: run "npm run build" first`);
}

/** Dies unless every tool answers `--version`; `install`: how to get them. */
export async function requireTools(tools: readonly string[], install: string): Promise<void> {
  for (const tool of tools) {
    const r = await runHost(tool, ['--version']).catch(() => null);
    if (r?.code !== 0) die(`${tool} not found (${install})`);
  }
}

/**
 * Dies unless node, dist/afterpatch.cjs, the checkout and `more` are paths SAFE_PATH allows:
 * they go into scripts and hyperfine command lines.
 */
export function requireSafePaths(more: readonly string[] = []): void {
  for (const p of [process.execPath, CLI, REPO, ...more]) {
    if (!SAFE_PATH.test(p.replace(/\/$/, '')))
      die(`path ${JSON.stringify(p)} has unsafe characters`);
  }
}

// ---------------------------------------------------------------------------------------------
// Processes on the host

export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** Environment for everything we run: NODE_EXTRA_CA_CERTS never reaches a timed command. */
export function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  delete env.NODE_EXTRA_CA_CERTS;
  return env;
}

/** Runs a command to its end (killed after the timeout); rejects only when it cannot run. */
export function runHost(
  file: string,
  args: readonly string[],
  opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<Ran> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      {
        env: opts.env ?? childEnv(),
        timeout: opts.timeoutMs ?? defaultTimeoutMs,
        maxBuffer: 256 << 20,
        killSignal: 'SIGKILL',
        ...(opts.cwd === undefined ? {} : { cwd: opts.cwd }),
      },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== 'number') {
          reject(new Error(`${file}: ${err.message}\n${stderr}`));
          return;
        }
        resolve({ code: typeof err?.code === 'number' ? err.code : 0, stdout, stderr });
      },
    );
  });
}

/** runHost(), and its stdout; dies unless it exits 0. */
export async function mustRun(file: string, args: readonly string[]): Promise<string> {
  const r = await runHost(file, args);
  if (r.code !== 0) die(`${file} ${args.join(' ')} exited ${r.code}:\n${r.stderr}`);
  return r.stdout;
}

// ---------------------------------------------------------------------------------------------
// Cleanup, whatever happens

let work: string | undefined;

/** Creates bench/out/<workPrefix>XXXXXX/ (removed by runBench(), or on exit: removeWorkSync). */
export function makeWorkDir(): string {
  mkdirSync(OUT, { recursive: true });
  work = mkdtempSync(join(OUT, workPrefix));
  const dir = work;
  if (!SAFE_PATH.test(dir)) die(`work directory ${JSON.stringify(dir)} has unsafe characters`);
  return dir;
}

export function removeWorkSync(): void {
  if (work === undefined) return;
  try {
    rmSync(work, { recursive: true, force: true, maxRetries: 5 });
  } catch (e) {
    warn(`could not remove ${work}: ${(e as Error).message}`);
  }
  work = undefined;
}

/** (Re)adds removeWorkSync as the last 'exit' listener: after the harness's sandbox teardown. */
export function removeWorkOnExit(): void {
  process.removeListener('exit', removeWorkSync);
  process.on('exit', removeWorkSync);
}

function onSignal(sig: NodeJS.Signals): void {
  warn(`${sig}, cleaning up`);
  stopHyperfine();
  // 'exit' listeners: the harness tears the sandboxes down synchronously, then the script's own.
  process.exit(128 + (osConstants.signals[sig] ?? 0));
}

let failed = false;

/** One step of the cleanup: its failure is reported (`what: …`), fails the run, and we go on. */
export async function cleanupStep(what: string, step: () => Promise<unknown>): Promise<void> {
  await step().catch((e: unknown) => {
    failed = true;
    warn(`${what}: ${(e as Error).message}`);
  });
}

/**
 * The whole run. First the script's settings - name: `bench/restart`, first word of every
 * message; workPrefix: the work directory's name in bench/out before mkdtemp's six characters
 * (also how leftovers of earlier runs are spotted); timestamps: `== [12 s] …` log lines;
 * timeoutMs: runHost()'s default timeout (300 s) - and the SIGINT/SIGTERM/SIGHUP handlers (stop
 * hyperfine, exit: the 'exit' listeners clean up). Then main; then always: stops hyperfine, runs
 * `teardown` (its cleanupStep()s), removes the work directory and points out leftovers of
 * interrupted earlier runs (not ours to guess at). Exits 0, or 2 when main or a cleanup step
 * failed.
 */
export async function runBench(
  opts: { name: string; workPrefix: string; timestamps?: boolean; timeoutMs?: number },
  main: () => Promise<void>,
  teardown: () => Promise<void>,
): Promise<never> {
  benchName = opts.name;
  workPrefix = opts.workPrefix;
  if (opts.timestamps) logStart = performance.now();
  if (opts.timeoutMs !== undefined) defaultTimeoutMs = opts.timeoutMs;
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, onSignal);
  try {
    await main();
  } catch (e) {
    failed = true;
    warn(e instanceof BenchError ? e.message : ((e as Error).stack ?? String(e)));
  } finally {
    stopHyperfine();
    await teardown();
    removeWorkSync();
    const mine = new RegExp(`^${workPrefix}[A-Za-z0-9]{6}$`);
    const stray = existsSync(OUT) ? readdirSync(OUT).filter((n) => mine.test(n)) : [];
    if (stray.length > 0) log(`note: leftover directories in ${OUT}: ${stray.join(' ')}`);
  }
  process.exit(failed ? 2 : 0);
}
