// How many threads a scan may use: each one holds a read buffer and a V8 isolate, so a count
// far above the CPUs only costs memory (99,999 threads asked for 12 GB and aborted).
import { availableParallelism } from 'node:os';

/** Threads per CPU allowed beyond the default (reads of /proc can wait on the kernel's locks). */
export const THREADS_PER_CPU = 4;

export function maxThreads(): number {
  return availableParallelism() * THREADS_PER_CPU;
}

/** Why `n` is not a usable thread count, or null when it is. */
export function threadCountError(n: number): string | null {
  if (!Number.isInteger(n) || n < 1) return `${n} is not a thread count (a positive integer)`;
  const max = maxThreads();
  if (n > max) {
    return `at most ${max} threads (${availableParallelism()} CPUs × ${THREADS_PER_CPU}), not ${n}`;
  }
  return null;
}
