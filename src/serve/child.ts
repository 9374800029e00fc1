// `serve` gathers health in a child process: a read of /proc can block inside the kernel (a
// process stuck in its mmap_lock, a hung NFS mapping), and a blocked synchronous read can be
// interrupted neither in the main thread nor in a worker thread. The process answering HTTP only
// waits on a pipe, so it always answers (503 past --timeout) and always stops on SIGTERM; a child
// past its time is killed (SIGKILL, by PID, only our own child) and the next gathering starts
// afresh. The child is this same program re-run (the bundle, or the single executable itself)
// with CHILD_ENV set; options go in and the Health comes out through v8.serialize on pipes.
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { deserialize, serialize } from 'node:v8';
import type { Health, HealthOptions } from '../check/health.ts';
import { isSea } from '../cli/sea.ts';

/** Set (to "1") in the child's environment: run one gathering, print it, exit. */
export const CHILD_ENV = 'AFTERPATCH_SERVE_GATHER';
/**
 * Test hook, honoured only in the child: a path read (blocking) before gathering. A FIFO without
 * a writer blocks the child in read(2), as a stuck /proc read would (test/serve/child.integration.test.ts).
 */
export const TEST_BLOCK_ENV = 'AFTERPATCH_TEST_GATHER_BLOCK';
/** Bound on what the child may send back (a Health of 100,000 stale processes is ~50 MB). */
const MAX_REPLY_BYTES = 512 * 1024 * 1024;
const MAX_STDERR_BYTES = 8192;

type Reply = { ok: true; health: Health } | { ok: false; message: string };

/** How to start this program again: [file, args] (the bundle or tsx entry, or the SEA binary). */
export function selfCommand(): [string, string[]] {
  const entry = process.argv[1];
  if (isSea() || entry === undefined) return [process.execPath, []];
  return [process.execPath, [...process.execArgv, entry]];
}

export interface ChildGathererOptions {
  health: HealthOptions;
  /** A gathering running longer than this is killed and fails. */
  timeoutMs: number;
  /** Extra environment for the child (tests: TEST_BLOCK_ENV). */
  env?: NodeJS.ProcessEnv;
}

/** Runs gatherings in child processes; kill() ends the one running, if any. */
export class ChildGatherer {
  readonly #o: ChildGathererOptions;
  /** The options as the child reads them (serialized once: they do not change). */
  readonly #input: Buffer;
  #running = new Set<ChildProcess>();

  constructor(o: ChildGathererOptions) {
    this.#o = o;
    this.#input = serialize(o.health);
  }

  gather(): Promise<Health> {
    const [file, args] = selfCommand();
    const child = spawn(file, args, {
      env: { ...process.env, ...this.#o.env, [CHILD_ENV]: '1' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.#running.add(child);
    return new Promise<Health>((resolve, reject) => {
      const out: Buffer[] = [];
      let outBytes = 0;
      let err = '';
      let failure: string | null = null;
      const kill = (why: string) => {
        failure ??= why;
        if (child.pid !== undefined && child.exitCode === null && child.signalCode === null)
          child.kill('SIGKILL');
      };
      const timer = setTimeout(
        () =>
          kill(
            `scan still running after ${Math.round(this.#o.timeoutMs / 1000)} s (--scan-timeout); killed it`,
          ),
        this.#o.timeoutMs,
      );
      child.stdout?.on('data', (d: Buffer) => {
        outBytes += d.length;
        if (outBytes > MAX_REPLY_BYTES) kill('the gathering process sent too much; killed it');
        else out.push(d);
      });
      child.stderr?.setEncoding('utf8');
      child.stderr?.on('data', (d: string) => {
        if (err.length < MAX_STDERR_BYTES) err += d.slice(0, MAX_STDERR_BYTES - err.length);
      });
      child.stdin?.on('error', () => {}); // a child that died early: reported on close
      child.stdin?.end(this.#input);
      child.once('error', (e) => {
        failure ??= `cannot start the gathering process (${e.message})`;
        // Never started: no 'close' is coming.
        if (child.pid === undefined) {
          clearTimeout(timer);
          this.#running.delete(child);
          reject(new Error(failure));
        }
      });
      child.once('close', (code, signal) => {
        clearTimeout(timer);
        this.#running.delete(child);
        if (failure !== null) return reject(new Error(failure));
        let reply: Reply | null = null;
        try {
          reply = code === 0 ? (deserialize(Buffer.concat(out)) as Reply) : null;
        } catch {
          reply = null;
        }
        if (reply?.ok) return resolve(reply.health);
        const detail =
          reply?.message ?? (err.trim().split('\n')[0] || `exit ${code ?? signal ?? '?'}`);
        reject(new Error(`gathering process failed: ${detail}`));
      });
    });
  }

  /** Kills every running gathering (serve is stopping). */
  kill(): void {
    for (const c of this.#running)
      if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  }
}

/** The child's side: options from stdin, one gatherHealth, the reply on stdout. */
export async function runGatherChild(): Promise<void> {
  delete process.env[CHILD_ENV]; // not for anything this process starts
  const block = process.env[TEST_BLOCK_ENV];
  let reply: Reply;
  try {
    const options = deserialize(readFileSync(0)) as HealthOptions;
    if (block) readFileSync(block);
    const { gatherHealth } = await import('../check/health.ts');
    reply = { ok: true, health: await gatherHealth(options) };
  } catch (e) {
    reply = { ok: false, message: String((e as Error)?.message ?? e).replace(/\s+/g, ' ') };
  }
  const buf = serialize(reply);
  await new Promise<void>((resolve) => process.stdout.write(buf, () => resolve()));
  process.exitCode = 0;
}
