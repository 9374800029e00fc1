import type { CollectOptions, PidQueue } from './collect.ts';

/** PIDs a thread takes from the shared queue at a time. */
export const CHUNK = 16;

/** A queue over PIDs in shared memory, drained by several threads through one atomic counter. */
export function sharedQueue(pids: Int32Array, counter: Int32Array): PidQueue {
  return {
    next() {
      const start = Atomics.add(counter, 0, CHUNK);
      if (start >= pids.length) return null;
      return Array.from(pids.subarray(start, Math.min(start + CHUNK, pids.length)));
    },
  };
}

/** A scan worker's slot in the shared state: set by whichever of it and the main thread is first. */
export const WORKER_IDLE = 0;
/** The worker took its first chunk: the main thread awaits its result. */
export const WORKER_WORKING = 1;
/** The main thread drained the queue first: the worker takes nothing and is not awaited. */
export const WORKER_CANCELLED = 2;

export interface WorkerInput {
  root: string;
  pids: Int32Array;
  counter: Int32Array;
  options: CollectOptions;
  /** One slot per worker (WORKER_IDLE, WORKER_WORKING, WORKER_CANCELLED). */
  state: Int32Array;
  slot: number;
  /** A V8 flag the worker sets when it takes work (armJitBudget), if any. */
  jitFlag?: string | undefined;
  /** Tests: the worker ends when its reads are done, without posting its result. */
  exitBeforeResult?: boolean | undefined;
}

/** After its share of the reads, a worker searches dpkg's `.list` files for these paths. */
export interface ListRequest {
  /** Echoed in the reply: searches may finish in another order than they were asked. */
  id: number;
  kind: 'lists';
  infoDir: string;
  wanted: string[];
}

/** The search's result (path → `.list` names, as scanListFiles returns it) or why it failed. */
export type ListReply = { id: number } & ({ found: [string, string[]][] } | { error: string });
