// Spreads the per-process reads over threads: the kernel's work of formatting maps is the
// dominant cost and runs in parallel when several threads read (docs/performance.md).
import { readdirSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { Worker } from 'node:worker_threads';
import { UserError } from '../errors.ts';
import { ProcReader, readFileBounded } from '../procfs/reader.ts';
import { statFields } from '../procfs/status.ts';
import { BULK_CGROUP_THRESHOLD, CgroupSnapshot } from './cgroups.ts';
import type { CollectOptions, CollectResult } from './collect.ts';
import { addReadError, collect } from './collect.ts';
import {
  CHUNK,
  type ListReply,
  type ListRequest,
  sharedQueue,
  WORKER_CANCELLED,
  WORKER_IDLE,
  WORKER_WORKING,
  type WorkerInput,
} from './queue.ts';
import { threadCountError } from './threads.ts';

declare const __SCAN_WORKER_SOURCE__: string;

/** Below this many processes a worker's start-up costs more than it saves. */
const MIN_PIDS_FOR_WORKERS = 2500;

/** Stale processes of its own above which the main thread walks the cgroups (see collectAll). */
const WALK_ABOVE = 2 * BULK_CGROUP_THRESHOLD;

/**
 * A worker kept after its reads, for dpkg's `.list` search, which runs there while the main
 * thread attributes owners (the search was 30-40 ms of a 10,000-process scan on the main thread
 * alone), and which it begins for its own stale files as soon as it posts its result
 * (CollectOptions.listsAhead). `terminate` ends it; idle, it keeps nothing alive.
 */
export type ScanHelper = Pick<ScanThread, 'scanLists' | 'terminate'>;

export interface Collected extends CollectResult {
  /** A worker that took part, still running; null when none did. */
  helper: ScanHelper | null;
  /** The cgroups the main thread walked while it waited for the workers' results, or null. */
  cgroups: CgroupSnapshot | null;
}

export async function collectAll(
  root: string,
  pids: readonly number[],
  options: CollectOptions,
  threads?: number,
  test: {
    /** The main thread starts only once every worker has taken work (the path a fast machine
     *  takes with a large process table, made certain on a small fixture). */
    mainAfterWorkers?: boolean;
    /** Each worker ends when its reads are done, without posting its result. */
    exitBeforeResult?: boolean;
    /** The main thread walks the cgroups above this many stale processes of its own. */
    walkCgroupsAbove?: number;
  } = {},
): Promise<Collected> {
  const bad = threads === undefined ? null : threadCountError(threads);
  if (bad !== null) throw new UserError(`--threads: ${bad}; give a smaller number`);
  const shared = new Int32Array(new SharedArrayBuffer(4 * pids.length));
  shared.set(pids);
  const counter = new Int32Array(new SharedArrayBuffer(4));
  // The choice prewarmScanThreads made (moments ago, from the same /proc files), once.
  const early = warmChoice;
  warmChoice = null;
  // An explicit thread count is obeyed; the default skips workers for small process tables.
  const workers =
    threads !== undefined
      ? threads - 1
      : pids.length < MIN_PIDS_FOR_WORKERS
        ? 0
        : (early ?? defaultThreads() - 1);
  // One slot per worker: whether it took work (await it) or not yet (cancel it instead).
  const state = new Int32Array(new SharedArrayBuffer(4 * workers));
  const jitFlag = armedJitFlag;
  armedJitFlag = undefined;
  // Threads started early (prewarmScanThreads) first; any not needed end here.
  const ready = warm.splice(0);
  for (const t of ready.splice(workers)) void t.terminate();
  const started = Array.from({ length: workers }, (_, slot) => {
    const t = ready[slot] ?? newScanThread();
    t.start({
      root,
      pids: shared,
      counter,
      options,
      state,
      slot,
      jitFlag,
      exitBeforeResult: test.exitBeforeResult,
    });
    return t;
  });
  // With workers, the first to take work sets the flag: it has started by then.
  if (jitFlag !== undefined && workers === 0) setFlagsFromString(jitFlag);
  if (test.mainAfterWorkers) {
    // Each worker has taken its first chunk (the counter moved past them), not only claimed its
    // slot: between the two a loaded machine could let this thread take the first chunk.
    const until = Date.now() + 10_000;
    const taken = () => Atomics.load(counter, 0) >= workers * CHUNK;
    while (
      (state.some((s, slot) => slot < workers && s === WORKER_IDLE) || !taken()) &&
      Date.now() < until
    )
      await new Promise((resolve) => setTimeout(resolve, 2));
  }
  // The main thread works too, from the start: a worker joins when it is up (30-100 ms later),
  // so its start-up overlaps the reads instead of delaying them.
  const reader = new ProcReader(root);
  const results = [collect(reader, sharedQueue(shared, counter), options)];
  // While a worker copies its result out (7-20 ms at 5,000 stale processes), this thread walks
  // the cgroups for the attribution that follows: the walk (15-20 ms at 10,000 processes, most
  // of it the kernel listing cgroup.procs) no longer waits for the results, and the worker goes
  // straight on to the `.list` search. Only for this host's /proc and a large share of stale
  // processes (below it, reading each one's cgroup file later costs less).
  let cgroups: CgroupSnapshot | null = null;
  if (
    root === '/proc' &&
    state.some((s) => s === WORKER_WORKING) &&
    (results[0]?.processes.length ?? 0) > (test.walkCgroupsAbove ?? WALK_ABOVE)
  ) {
    try {
      cgroups = CgroupSnapshot.take(reader);
    } catch {
      // Only a head start: cgroupsOf reads or walks itself.
    }
  }
  let helper: ScanThread | null = null;
  try {
    for (const [slot, w] of started.entries()) {
      // The queue is drained: a worker that has not taken any of it is not waited for.
      if (Atomics.compareExchange(state, slot, WORKER_IDLE, WORKER_CANCELLED) === WORKER_IDLE)
        void w.terminate();
      else {
        results.push(await w.result);
        if (helper === null) helper = w;
        else void w.terminate();
      }
    }
  } catch (e) {
    for (const w of started) void w.terminate();
    throw e;
  }
  return {
    helper,
    cgroups,
    processes: results.flatMap((r) => r.processes).sort((a, b) => a.pid - b.pid),
    interpreted: results.flatMap((r) => r.interpreted).sort((a, b) => a.pid - b.pid),
    foreign: results.flatMap((r) => r.foreign).sort((a, b) => a.pid - b.pid),
    scanned: results.reduce((n, r) => n + r.scanned, 0),
    denied: results.reduce((n, r) => n + r.denied, 0),
    failed: results.reduce((n, r) => n + r.failed, 0),
    readErrors: results.reduce((into: string[], r) => {
      for (const e of r.readErrors) addReadError(into, e);
      return into;
    }, []),
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
  runnableNow = runnableOthers(loadavgTasks()) ?? load1,
): number {
  const saturated = load1 >= 2 * cpus && runnableNow >= 2 * cpus;
  return saturated ? 1 : Math.max(1, Math.min(cpus, 4));
}

/** /proc/loadavg: the 1-minute average, the tasks runnable now and all of them (every thread of
 *  every process, in every PID namespace); null if unreadable. */
function loadavgTasks(): { load1: number; runnable: number; total: number } | null {
  try {
    const text = readFileBounded('/proc/loadavg', 256).toString('latin1');
    const m = /^(\S+) \S+ \S+ (\d+)\/(\d+)/.exec(text);
    if (!m) return null;
    return { load1: Number(m[1]), runnable: Number(m[2]), total: Number(m[3]) };
  } catch {
    return null;
  }
}

/**
 * The runnable tasks that are not this program's own threads (V8 compiles and collects garbage
 * on threads of its own while the program starts: counted, they made an idle 2-CPU host look
 * saturated in about one scan in eight); null when unknown. Read only when the count decides
 * something, not on a host too small for workers.
 */
function runnableOthers(tasks: { runnable: number } | null): number | null {
  return tasks === null ? null : Math.max(0, tasks.runnable - ownRunnable());
}

/** How many of this program's threads are runnable now (at least this one). */
function ownRunnable(): number {
  let n = 0;
  try {
    for (const tid of readdirSync('/proc/self/task')) {
      try {
        const stat = readFileBounded(`/proc/self/task/${tid}/stat`, 4096).toString('latin1');
        if (statFields(stat)?.[0] === 'R') n++;
      } catch {
        // the thread ended meanwhile
      }
    }
  } catch {
    // no /proc/self: count this thread only
  }
  return Math.max(1, n);
}

/** A scan thread: it boots, then waits for its share of the work (`start`). */
interface ScanThread {
  start(input: WorkerInput): void;
  result: Promise<CollectResult>;
  /** After the result: dpkg's `.list` search on this thread; rejects when the thread is gone. */
  scanLists(infoDir: string, wanted: ReadonlySet<string>): Promise<Map<string, string[]>>;
  terminate: () => Promise<number>;
}

function newScanThread(idle = false): ScanThread {
  const worker: Worker =
    typeof __SCAN_WORKER_SOURCE__ === 'string'
      ? new Worker(__SCAN_WORKER_SOURCE__, { eval: true })
      : // Running from source (tests): load the TypeScript worker through tsx.
        new Worker(
          `import('tsx/esm/api').then((t) => { t.register(); return import(${JSON.stringify(new URL('./worker.ts', import.meta.url).href)}); })`,
          { eval: true },
        );
  /** Requests asked and not answered yet, by id. */
  const asked = new Map<number, { answer: (r: ListReply) => void; fail: (e: Error) => void }>();
  let nextId = 0;
  let gone = false;
  const result = new Promise<CollectResult>((resolve, reject) => {
    worker.once('message', (r: CollectResult) => {
      resolve(r);
      worker.on('message', (reply: ListReply) => {
        const a = asked.get(reply.id);
        asked.delete(reply.id);
        a?.answer(reply);
        if (asked.size === 0) worker.unref();
      });
      // Kept for the next steps: idle, it holds nothing up; the scan ends it. (After the
      // listener: adding a 'message' listener refs the worker's port again.)
      worker.unref();
    });
    worker.once('error', reject);
    // Ended without a result (terminated, or exited early): only ever awaited once it took work.
    worker.once('exit', () => {
      gone = true;
      reject(new Error('a scan thread ended without its result'));
      for (const a of asked.values()) a.fail(new Error('the scan thread ended'));
      asked.clear();
    });
  });
  // A worker that fails before taking work is cancelled, never awaited: its error is moot.
  result.catch(() => {});
  // Waiting for work that may never come (the command failed first) keeps nothing alive.
  if (idle) worker.unref();
  /** Posts a request (its id added) and settles with the reply `take` makes of it. */
  const ask = <T>(request: Omit<ListRequest, 'id'>, take: (reply: ListReply) => T): Promise<T> => {
    if (gone) return Promise.reject(new Error('the scan thread ended'));
    return new Promise((resolve, reject) => {
      const id = nextId++;
      asked.set(id, {
        answer: (r) => {
          try {
            resolve(take(r));
          } catch (e) {
            reject(e);
          }
        },
        fail: reject,
      });
      worker.ref();
      worker.postMessage({ ...request, id });
    });
  };
  return {
    start(input) {
      worker.ref();
      worker.postMessage(input);
    },
    result,
    scanLists(infoDir, wanted) {
      return ask({ kind: 'lists', infoDir, wanted: [...wanted] }, (r) => {
        if ('error' in r) throw new Error(r.error);
        return new Map(r.found);
      });
    },
    terminate: () => worker.terminate(),
  };
}

/** The flag armJitBudget was given, for the next scan only. */
let armedJitFlag: string | undefined;

/**
 * Has the next scan set a V8 flag (the optimizing compiler's budget) once its threads have
 * started: the first worker to take work sets it, or the main thread when it reads alone. Not
 * before: V8 refuses the code cache of Node's own modules once a flag differs from the one it
 * was made with, and a worker thread that starts after a flag changed took 73 ms instead of 33,
 * on the core the reads need (docs/performance.md). The flag is process-wide.
 */
export function armJitBudget(flag: string): void {
  armedJitFlag = flag;
}

/** Threads started by prewarmScanThreads and not yet given work. */
const warm: ScanThread[] = [];
/** How many workers prewarmScanThreads chose by default, for the next scan only. */
let warmChoice: number | null = null;

/**
 * Starts the scan's worker threads before the command line is parsed, so their start-up (30-70
 * ms on a busy core) overlaps the program's own instead of the reads. Only on a host with
 * enough tasks for workers (/proc/loadavg counts every thread, an upper bound on the
 * processes), or `count` of them. A thread never given work does not keep the program alive.
 * Returns how many were started.
 */
export function prewarmScanThreads(count?: number): number {
  let n = count;
  if (n === undefined) {
    const tasks = loadavgTasks();
    if (tasks === null || tasks.total < MIN_PIDS_FOR_WORKERS) return 0;
    n = defaultThreads(availableParallelism(), tasks.load1, runnableOthers(tasks) ?? 0) - 1;
    warmChoice = n;
  }
  for (let i = 0; i < n; i++) warm.push(newScanThread(true));
  return n;
}

/** Threads prewarmed and not yet given work (tests). */
export function warmThreads(): number {
  return warm.length;
}
