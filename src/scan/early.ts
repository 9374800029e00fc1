// What a command that scans the whole process table sets up before its command line is even
// parsed (docs/performance.md): the JIT's threshold and the scan's worker threads.
import { armJitBudget, prewarmScanThreads } from './parallel.ts';

/** Commands that begin with a scan of the whole process table. */
const SCANNING_COMMANDS = new Set(['scan', 'check', 'metrics', 'restart', 'reboot-required']);

/**
 * V8's default budget before optimizing a function, in bytecodes run. A scan is short: at 10,000
 * processes the optimizing compiler spent ~220 ms of CPU on the two threads' per-process
 * functions (once per thread), on the same two cores that read /proc. 16 times the budget keeps
 * the functions a 10,000-stale-process scan really runs hot and drops the rest: alone, 10 %
 * stale 621 → 537 ms, all stale 1.29 → 1.21 s (docs/performance.md).
 */
const V8_DEFAULT_INTERRUPT_BUDGET = 67_584;
const SCAN_INTERRUPT_BUDGET = 16 * V8_DEFAULT_INTERRUPT_BUDGET;

/**
 * `argv` as process.argv; does nothing unless the command scans all of /proc. Says what it did:
 * whether the JIT's budget will be raised, how many threads were started.
 */
export function prepareForScan(
  argv: readonly string[],
  prewarm: () => number = prewarmScanThreads,
): { jit: boolean; threads: number } {
  const none = { jit: false, threads: 0 };
  const command = argv[2];
  if (command === undefined || !SCANNING_COMMANDS.has(command)) return none;
  if (argv.some((a) => a === '--help' || a === '-h')) return none;
  // A heuristic of the tiering manager only, read when a budget is set: no state changes under
  // it (unlike the garbage collector's flags, which crash V8 when changed at run time). Set by
  // the scan itself once its threads have started, not here (see armJitBudget).
  armJitBudget(`--interrupt-budget=${SCAN_INTERRUPT_BUDGET}`);
  // --threads is obeyed as given; --proc-root and --pid do not read this host's whole /proc.
  if (argv.some((a) => /^--(threads|proc-root|pid)(=|$)/.test(a))) return { jit: true, threads: 0 };
  try {
    return { jit: true, threads: prewarm() };
  } catch {
    // Only a head start: the scan starts its threads itself and reports what fails then.
    return { jit: true, threads: 0 };
  }
}
