// Entry point of a scan worker thread: boots (possibly before the command line is parsed), then
// drains the shared PID queue with its own reader once it is given work.
import { parentPort } from 'node:worker_threads';
import { ProcReader } from '../procfs/reader.ts';
import { collect } from './collect.ts';
import { sharedQueue, WORKER_IDLE, WORKER_WORKING, type WorkerInput } from './queue.ts';

parentPort?.once('message', (input: WorkerInput) => {
  // Claimed before any work: the main thread cancels a worker that comes up after the queue is
  // drained and does not wait for it.
  if (
    Atomics.compareExchange(input.state, input.slot, WORKER_IDLE, WORKER_WORKING) === WORKER_IDLE
  ) {
    parentPort?.postMessage(
      collect(new ProcReader(input.root), sharedQueue(input.pids, input.counter), input.options),
    );
  }
});
