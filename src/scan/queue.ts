import type { PidQueue } from './collect.ts';

const CHUNK = 16;

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
