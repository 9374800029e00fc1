// Entry point of a scan worker thread: boots (possibly before the command line is parsed), then
// drains the shared PID queue with its own reader once it is given work. After its result it
// stays for the scan's next step: dpkg's `.list` search, while the main thread reads cgroups.
import { setFlagsFromString } from 'node:v8';
import { parentPort } from 'node:worker_threads';
import { scanListFiles } from '../packages/dpkg.ts';
import { ProcReader } from '../procfs/reader.ts';
import { collect } from './collect.ts';
import {
  type ListReply,
  type ListRequest,
  sharedQueue,
  WORKER_IDLE,
  WORKER_WORKING,
  type WorkerInput,
} from './queue.ts';

parentPort?.once('message', (input: WorkerInput) => {
  // Claimed before any work: the main thread cancels a worker that comes up after the queue is
  // drained and does not wait for it.
  if (
    Atomics.compareExchange(input.state, input.slot, WORKER_IDLE, WORKER_WORKING) === WORKER_IDLE
  ) {
    // This thread has started (see armJitBudget); the flag is process-wide.
    if (input.jitFlag !== undefined) setFlagsFromString(input.jitFlag);
    const result = collect(
      new ProcReader(input.root),
      sharedQueue(input.pids, input.counter),
      input.options,
    );
    if (input.exitBeforeResult) process.exit(0);
    parentPort?.postMessage(result);
    parentPort?.on('message', (req: ListRequest) => {
      scanListFiles(req.infoDir, new Set(req.wanted)).then(
        (found): void =>
          parentPort?.postMessage({ id: req.id, found: [...found] } satisfies ListReply),
        (e: unknown): void =>
          parentPort?.postMessage({ id: req.id, error: (e as Error).message } satisfies ListReply),
      );
    });
  }
});
