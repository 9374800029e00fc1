// Entry point of a scan worker thread: boots (possibly before the command line is parsed), then
// drains the shared PID queue with its own reader once it is given work. After its result it
// stays for dpkg's `.list` search, which it begins at once for its own stale files while the
// main thread takes the results in.
import { statSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { parentPort } from 'node:worker_threads';
import { scanListFiles } from '../packages/dpkg.ts';
import { candidatePaths } from '../packages/usrmerge.ts';
import { ProcReader } from '../procfs/reader.ts';
import { type CollectResult, collect, hostFilePaths } from './collect.ts';
import {
  type ListReply,
  type ListRequest,
  sharedQueue,
  WORKER_IDLE,
  WORKER_WORKING,
  type WorkerInput,
} from './queue.ts';

/** The search begun right after the result (see run), or null. */
let ahead: {
  infoDir: string;
  /** The directory's mtime before the search: dpkg adds, renames and removes `.list` files. */
  mtimeNs: bigint;
  wanted: Set<string>;
  found: Promise<Map<string, string[]>>;
} | null = null;

function run(input: WorkerInput): void {
  // Claimed before any work: the main thread cancels a worker that comes up after the queue is
  // drained and does not wait for it.
  if (Atomics.compareExchange(input.state, input.slot, WORKER_IDLE, WORKER_WORKING) !== WORKER_IDLE)
    return;
  // This thread has started (see armJitBudget); the flag is process-wide.
  if (input.jitFlag !== undefined) setFlagsFromString(input.jitFlag);
  const result = collect(
    new ProcReader(input.root),
    sharedQueue(input.pids, input.counter),
    input.options,
  );
  if (input.exitBeforeResult) process.exit(0);
  parentPort?.postMessage(result);
  parentPort?.on('message', answer);
  // The look-up will ask for every stale file's package: the search for this thread's own
  // files begins now, while the main thread takes the results in (it asks ~10-30 ms later, and
  // the search then bounded the scan's end). After an upgrade the two threads' shares map the
  // same few files; what the request adds is searched then. Only the first worker: the one the
  // scan keeps for the search when it took work (src/scan/parallel.ts), the others end.
  const lists = input.options.listsAhead;
  if (lists !== undefined && input.slot === 0) {
    const wanted = ownPaths(result, lists.hostPidNs);
    const mtimeNs = wanted.size > 0 ? mtimeOf(lists.infoDir) : null;
    if (mtimeNs !== null) {
      const found = scanListFiles(lists.infoDir, wanted);
      found.catch(() => {});
      ahead = { infoDir: lists.infoDir, mtimeNs, wanted, found };
    }
  }
}

function mtimeOf(dir: string): bigint | null {
  try {
    return statSync(dir, { bigint: true }).mtimeNs;
  } catch {
    return null;
  }
}

/**
 * Every name a `.list` file may give this thread's stale files of the host's PID namespace
 * (their merged-/usr aliases): what the look-up will ask for. The distinct paths first: aliases
 * for each file of each process cost 6-14 ms cold at 5,000 processes.
 */
function ownPaths(result: CollectResult, hostPidNs: string | null): Set<string> {
  const wanted = new Set<string>();
  for (const path of hostFilePaths(result.processes, hostPidNs))
    for (const c of candidatePaths(path)) wanted.add(c);
  return wanted;
}

function answer(req: ListRequest): void {
  lists(req).then(
    (found): void => parentPort?.postMessage({ id: req.id, found: [...found] } satisfies ListReply),
    (e: unknown): void =>
      parentPort?.postMessage({ id: req.id, error: (e as Error).message } satisfies ListReply),
  );
}

/** The search asked for: from the one begun ahead for the paths it covers, the rest now. */
async function lists(req: ListRequest): Promise<Map<string, string[]>> {
  const wanted = new Set(req.wanted);
  let before: Map<string, string[]> | null = null;
  if (ahead !== null && ahead.infoDir === req.infoDir) {
    try {
      before = await ahead.found;
    } catch {
      // searched below, which says what is wrong
    }
    // dpkg changed the lists meanwhile (a package installed, upgraded, renamed): all again.
    if (mtimeOf(req.infoDir) !== ahead.mtimeNs) before = null;
  }
  const covered = before === null ? null : (ahead?.wanted ?? null);
  const rest = new Set<string>();
  for (const path of wanted) if (covered === null || !covered.has(path)) rest.add(path);
  const found =
    rest.size === 0 ? new Map<string, string[]>() : await scanListFiles(req.infoDir, rest);
  if (before !== null)
    for (const [path, owners] of before) if (wanted.has(path)) found.set(path, owners);
  return found;
}

parentPort?.once('message', run);
