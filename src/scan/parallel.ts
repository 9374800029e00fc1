// Spreads the per-process reads over threads: the kernel's work of formatting maps is the
// dominant cost and runs in parallel when several threads read (docs/performance.md).
import { availableParallelism, loadavg } from 'node:os';
import { Worker } from 'node:worker_threads';
import { UserError } from '../errors.ts';
import { ProcReader, readFileBounded } from '../procfs/reader.ts';
import type { CollectOptions, CollectResult } from './collect.ts';
import { collect } from './collect.ts';
import { sharedQueue } from './queue.ts';
import { threadCountError } from './threads.ts';
import type { WorkerInput } from './worker.ts';

declare const __SCAN_WORKER_SOURCE__: string;

/** Below this many processes a worker's start-up costs more than it saves. */
const MIN_PIDS_FOR_WORKERS = 2500;

export async function collectAll(
  root: string,
  pids: readonly number[],
  options: CollectOptions,
  threads?: number,
): Promise<CollectResult> {
  const bad = threads === undefined ? null : threadCountError(threads);
  if (bad !== null) throw new UserError(`--threads: ${bad}; give a smaller number`);
  const shared = new Int32Array(new SharedArrayBuffer(4 * pids.length));
  shared.set(pids);
  const counter = new Int32Array(new SharedArrayBuffer(4));
  // An explicit thread count is obeyed; the default skips workers for small process tables.
  const workers =
    threads !== undefined
      ? threads - 1
      : pids.length < MIN_PIDS_FOR_WORKERS
        ? 0
        : defaultThreads() - 1;
  const input: WorkerInput = { root, pids: shared, counter, options };
  const started = Array.from({ length: workers }, () => startWorker(input));
  // A worker boots two to four times slower while this thread is busy: let it come up first.
  await Promise.all(started.map((w) => w.online));
  // The main thread works too instead of waiting.
  const results = [collect(new ProcReader(root), sharedQueue(shared, counter), options)];
  results.push(...(await Promise.all(started.map((w) => w.result))));
  return {
    processes: results.flatMap((r) => r.processes).sort((a, b) => a.pid - b.pid),
    interpreted: results.flatMap((r) => r.interpreted).sort((a, b) => a.pid - b.pid),
    foreign: results.flatMap((r) => r.foreign).sort((a, b) => a.pid - b.pid),
    scanned: results.reduce((n, r) => n + r.scanned, 0),
    denied: results.reduce((n, r) => n + r.denied, 0),
  };
}

/**
 * The CPUs available, at most 4; one thread alone when the cores are saturated — the 1-minute
 * load average AND the tasks runnable right now (other than this scan) both at least twice the
 * CPUs: a worker's start-up, JIT warm-up and result copy then only add CPU (10,000 stale
 * processes on 2 saturated cores: 5.2 s on one thread, 7.3 s on two). Otherwise two threads win
 * (2 cores, load 1.5–3.5: 1.25 s against 1.5 s). The average alone lags: after a burst (an
 * upgrade that just ended, 10,000 processes just started) it said "saturated" for a minute on
 * idle cores, and the scan ran on one thread (10 % stale: 1.18 s of CPU per second of wall).
 */
export function defaultThreads(
  cpus = availableParallelism(),
  load1 = loadavg()[0] ?? 0,
  runnableNow = runnableOthers() ?? load1,
): number {
  const saturated = load1 >= 2 * cpus && runnableNow >= 2 * cpus;
  return saturated ? 1 : Math.max(1, Math.min(cpus, 4));
}

/** Tasks runnable now other than this thread (/proc/loadavg's fourth field), null if unknown. */
function runnableOthers(): number | null {
  try {
    const m = /^\S+ \S+ \S+ (\d+)\//.exec(readFileBounded('/proc/loadavg', 256).toString('latin1'));
    return m ? Math.max(0, Number(m[1]) - 1) : null;
  } catch {
    return null;
  }
}

function startWorker(input: WorkerInput): {
  online: Promise<void>;
  result: Promise<CollectResult>;
} {
  const worker =
    typeof __SCAN_WORKER_SOURCE__ === 'string'
      ? new Worker(__SCAN_WORKER_SOURCE__, { eval: true, workerData: input })
      : // Running from source (tests): load the TypeScript worker through tsx.
        new Worker(
          `import('tsx/esm/api').then((t) => { t.register(); return import(${JSON.stringify(new URL('./worker.ts', import.meta.url).href)}); })`,
          { eval: true, workerData: input },
        );
  const result = new Promise<CollectResult>((resolve, reject) => {
    worker.once('message', (r: CollectResult) => {
      resolve(r);
      void worker.terminate();
    });
    worker.once('error', reject);
  });
  // A worker that fails to start still lets the main thread do all the work.
  const online = new Promise<void>((resolve) => {
    worker.once('online', () => resolve());
    worker.once('error', () => resolve());
  });
  return { online, result };
}
