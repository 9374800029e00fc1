// Exit codes, decided by pure functions so every command documents and tests them one way.
import type { Verdict } from './formats/advisory.ts';
import { type Coverage, isPartialScan, missingPrivilege, readErrorText } from './scan/coverage.ts';
import type { ScanReport } from './scan/scan.ts';

export const EXIT = {
  /** scan: nothing stale. */
  ok: 0,
  /** scan: stale code found. */
  stale: 1,
  /** Any command: bad usage, bad configuration or a runtime failure. */
  error: 2,
  /**
   * scan: nothing stale among what could be read, but without root some processes could not be,
   * or some failed to read (EMFILE, ELOOP, EIO: root too); or an advisory's verdict is unknown.
   */
  partial: 3,
} as const;

/**
 * The status of a usage or runtime error (a UserError, a bad flag) per command: 2, except where 1
 * and 2 already mean findings — restart (RESTART_EXIT.error) and check (Nagios UNKNOWN).
 */
export function errorExitFor(command: string): number {
  if (command === 'restart') return RESTART_EXIT.error;
  if (command === 'check') return CHECK_UNKNOWN;
  return EXIT.error;
}

/** check's status when it cannot judge (Nagios UNKNOWN). */
const CHECK_UNKNOWN = 3;

/**
 * Only stale code counts; processes keeping deleted data files only are reported but exit 0.
 * "Nothing stale" is said only of a whole scan: without root (or CAP_SYS_PTRACE), other users'
 * processes are unreadable, and the clean status would be a guess (as root with it, a process
 * even root cannot read is a counted note, like check's: isPartialScan).
 */
export function scanExitCode(
  r: Pick<ScanReport, 'groups'> &
    Coverage & {
      advisories?: { verdict: Verdict } | undefined;
    },
): number {
  // With --fixed/--advisory the question is the advisory's too: an unpatched host is not "0".
  const verdict = r.advisories?.verdict ?? 'clean';
  if (r.groups.some((g) => g.severity === 'code') || (verdict !== 'clean' && verdict !== 'unknown'))
    return EXIT.stale;
  if (verdict === 'unknown') return EXIT.partial;
  return isPartialScan(r) ? EXIT.partial : EXIT.ok;
}

/** The stderr line of a partial scan (scanExitCode's EXIT.partial), or null. */
export function partialScanNote(
  r: Parameters<typeof scanExitCode>[0] & { summary: { scanned: number } },
): string | null {
  if (scanExitCode(r) !== EXIT.partial || !isPartialScan(r)) return null;
  const s = r.summary;
  const total = s.scanned + s.unreadable;
  const failed = s.failed ?? 0;
  const others = s.scanned === 0 ? 'no process was read' : 'nothing stale among the others';
  const lacking = missingPrivilege(r);
  if (failed > 0 || lacking === null) {
    // Read errors (EMFILE, ELOOP, EIO), or all denied even to root: no access to give.
    const why = failed > 0 ? readErrorText(r) : 'access denied even to root';
    const denied = s.unreadable - failed;
    const more = failed > 0 && denied > 0 ? `, ${denied} more denied` : '';
    return `afterpatch: ${failed > 0 ? failed : s.unreadable} of ${total} processes could not be read (${why})${more}: ${others}, but the scan is partial (exit 3).`;
  }
  const remedy = lacking === 'root' ? 'run as root' : 'give afterpatch CAP_SYS_PTRACE';
  return `afterpatch: ${s.unreadable} of ${total} processes could not be read without ${lacking}: ${others}, but the scan is partial; ${remedy} (exit 3).`;
}

/**
 * `restart` exit codes (docs/restart.md): 0 all verified or nothing to do, 1 a human must act,
 * 2 an action failed or was not verified, 3 usage or runtime error (nothing done), 4 actions were
 * taken and reported but their outcomes could not be saved, 5 stopped by a signal after the
 * jobs in flight (what was done is reported and saved).
 */
export const RESTART_EXIT = {
  ok: 0,
  needsHuman: 1,
  failed: 2,
  error: 3,
  stateNotSaved: 4,
  interrupted: 5,
} as const;

/**
 * The plan's scan decides too: when it was partial (isPartialScan: without root, or as root
 * without CAP_SYS_PTRACE), processes that could not be read may run stale code nobody planned
 * for, so "nothing to do" is never said then — a human must give it the access it lacks.
 */
export function restartExitCode(r: {
  plan: readonly { needsHuman: boolean }[];
  results: readonly { outcome: string }[];
  interrupted?: string | null;
  stateError?: string | null;
  scan?: Coverage;
}): number {
  if (r.stateError) return RESTART_EXIT.stateNotSaved;
  if (r.interrupted) return RESTART_EXIT.interrupted;
  if (r.results.some((x) => x.outcome !== 'verified')) return RESTART_EXIT.failed;
  if (r.plan.some((e) => e.needsHuman)) return RESTART_EXIT.needsHuman;
  if (r.scan !== undefined && isPartialScan(r.scan)) return RESTART_EXIT.needsHuman;
  return RESTART_EXIT.ok;
}

/**
 * `reboot-required` follows `needs-restarting -r`: 1 reboot needed, 0 not, 2 error, 3 unknown (no
 * reason found, but evidence that could have been one could not be read): never 0 on a doubt.
 */
export const REBOOT_EXIT = { notRequired: 0, required: 1, error: 2, unknown: 3 } as const;

export function rebootExitCode(r: {
  required: boolean;
  unknown?: readonly string[] | undefined;
}): number {
  if (r.required) return REBOOT_EXIT.required;
  return rebootUnknown(r) ? REBOOT_EXIT.unknown : REBOOT_EXIT.notRequired;
}

/** No reason found, but some evidence could not be read: the verdict is unknown, not "no reboot". */
export function rebootUnknown(r: {
  required: boolean;
  unknown?: readonly string[] | undefined;
}): boolean {
  return !r.required && (r.unknown?.length ?? 0) > 0;
}
