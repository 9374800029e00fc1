// Entry point of a scan worker thread: drains the shared PID queue with its own reader.
import { parentPort, workerData } from 'node:worker_threads';
import { ProcReader } from '../procfs/reader.ts';
import type { CollectOptions } from './collect.ts';
import { collect } from './collect.ts';
import { sharedQueue } from './queue.ts';

export interface WorkerInput {
  root: string;
  pids: Int32Array;
  counter: Int32Array;
  options: CollectOptions;
}

const input = workerData as WorkerInput;
parentPort?.postMessage(
  collect(new ProcReader(input.root), sharedQueue(input.pids, input.counter), input.options),
);
