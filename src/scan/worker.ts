// Entry point of a scan worker thread: boots (possibly before the command line is parsed), then
// drains the shared PID queue with its own reader once it is given work. After its result it
// stays for the scan's next steps: the cgroups, and dpkg's `.list` search, while the main thread
// goes on.
import { setFlagsFromString } from 'node:v8';
import { parentPort } from 'node:worker_threads';
import { scanListFiles } from '../packages/dpkg.ts';
import { ProcReader } from '../procfs/reader.ts';
import { BULK_CGROUP_THRESHOLD, CgroupSnapshot } from './cgroups.ts';
import { collect } from './collect.ts';
import {
  type CgroupReply,
  type HelperRequest,
  type ListReply,
  sharedQueue,
  WORKER_IDLE,
  WORKER_WORKING,
  type WorkerInput,
} from './queue.ts';

/** Stale processes of its own above which the first worker walks the cgroups (see run). */
const WALK_ABOVE = 2 * BULK_CGROUP_THRESHOLD;

/** The cgroups this thread walked after its reads, or null (see run). */
let snapshot: CgroupSnapshot | null = null;

function run(input: WorkerInput): void {
  // Claimed before any work: the main thread cancels a worker that comes up after the queue is
  // drained and does not wait for it.
  if (Atomics.compareExchange(input.state, input.slot, WORKER_IDLE, WORKER_WORKING) !== WORKER_IDLE)
    return;
  // This thread has started (see armJitBudget); the flag is process-wide.
  if (input.jitFlag !== undefined) setFlagsFromString(input.jitFlag);
  const reader = new ProcReader(input.root);
  const result = collect(reader, sharedQueue(input.pids, input.counter), input.options);
  if (input.exitBeforeResult) process.exit(0);
  parentPort?.postMessage(result);
  parentPort?.on('message', answer);
  // While the main thread takes the results in (and the cgroups are not needed yet), this
  // thread walks them: 15-20 ms at 10,000 processes, most of it the kernel listing
  // cgroup.procs, off the main thread's path. Only the first worker (the one kept as the
  // scan's helper when it took work: src/scan/parallel.ts), only for this host's /proc, and
  // only when its own share is large: the `.list` search, which comes next on this thread,
  // waits for the walk, while the main thread reads a thousand cgroups (or walks) in less
  // time than that search takes (10,000 processes, 1,000 stale: the wait for both 33 -> 25 ms).
  if (
    input.slot === 0 &&
    input.root === '/proc' &&
    result.processes.length > (input.walkCgroupsAbove ?? WALK_ABOVE)
  ) {
    try {
      snapshot = CgroupSnapshot.take(reader);
    } catch {
      // Only a head start: the main thread walks itself.
    }
  }
}

function answer(req: HelperRequest): void {
  if (req.kind === 'cgroups') {
    const reply: CgroupReply =
      snapshot === null
        ? { id: req.id, walked: false }
        : { id: req.id, walked: true, ...snapshot.lookup(req.pids) };
    parentPort?.postMessage(reply);
    return;
  }
  scanListFiles(req.infoDir, new Set(req.wanted)).then(
    (found): void => parentPort?.postMessage({ id: req.id, found: [...found] } satisfies ListReply),
    (e: unknown): void =>
      parentPort?.postMessage({ id: req.id, error: (e as Error).message } satisfies ListReply),
  );
}

parentPort?.once('message', run);
