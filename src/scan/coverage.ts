// How much of /proc a scan saw: the one rule by which every answer (scan's and restart's exit
// status, check's state, the metrics) tells a partial scan from a whole one, and the one sentence
// that says why processes could not be read (docs/running-unattended.md, "CAP_SYS_PTRACE").
import { readFileBounded } from '../procfs/reader.ts';

/** CAP_SYS_PTRACE's number (linux/capability.h): reading another user's maps needs it, root too. */
const CAP_SYS_PTRACE = 19;

export interface Coverage {
  asRoot: boolean;
  /** Whether the scan had CAP_SYS_PTRACE; absent (a report read back from JSON): as root has. */
  ptrace?: boolean | undefined;
  /** A scan document's own verdict (its `partial` field), which decides when present. */
  partial?: boolean | undefined;
  summary: {
    unreadable: number;
    /** Of `unreadable`, the processes that failed to read for another reason than access
     *  (EMFILE, ELOOP, EIO, a refused file); absent (older documents): none. */
    failed?: number | undefined;
    /** Absent where only the unreadable count is known. */
    scanned?: number | undefined;
  };
  /** Why the `failed` processes could not be read ("EMFILE: too many open files"). */
  readErrors?: readonly string[] | undefined;
}

/**
 * Whether the processes a scan could not read make it partial: always, except when every one
 * was denied as root with CAP_SYS_PTRACE — then the kernel refused root itself (a sandbox's PID
 * 1, owned by a parent user namespace), which nothing on this host can change. Root without the
 * capability sees only root's own processes: nginx's workers, any daemon under its own user, go
 * unseen. A read that failed otherwise (EMFILE, ELOOP, EIO) is no such exception, and a scan
 * that read no process at all never says clean.
 */
export function isPartialScan(c: Coverage): boolean {
  if (c.partial !== undefined) return c.partial;
  const s = c.summary;
  if ((s.failed ?? 0) > 0) return true;
  if (s.unreadable > 0 && s.scanned === 0) return true;
  return s.unreadable > 0 && missingPrivilege(c) !== null;
}

/**
 * What the scan lacked to read other users' processes: root, CAP_SYS_PTRACE (root without it),
 * or nothing (null: root with it, so a denial came from the kernel refusing root itself).
 */
export function missingPrivilege(
  c: Pick<Coverage, 'asRoot' | 'ptrace'>,
): 'root' | 'CAP_SYS_PTRACE' | null {
  if (!c.asRoot) return 'root';
  return c.ptrace === false ? 'CAP_SYS_PTRACE' : null;
}

/** Why the failed processes could not be read: "EMFILE: too many open files" (or "; "-joined). */
export function readErrorText(c: Pick<Coverage, 'readErrors'>): string {
  return c.readErrors !== undefined && c.readErrors.length > 0
    ? c.readErrors.join('; ')
    : 'read errors';
}

/** The unreadable processes in one sentence, with what to do about them; null when none. */
export function unreadableNote(c: Coverage & { summary: { scanned: number } }): string | null {
  const s = c.summary;
  if (s.unreadable === 0) return null;
  const of = `${s.unreadable} of ${s.scanned + s.unreadable} processes could not be read`;
  const failed = s.failed ?? 0;
  const denied = s.unreadable - failed;
  const lacking = missingPrivilege(c);
  const remedy =
    lacking === 'root'
      ? 'run as root to see all'
      : "afterpatch runs without CAP_SYS_PTRACE, which reading other users' processes needs";
  if (failed === 0) {
    if (lacking !== null) return `${of}: ${remedy}.`;
    return `${of} (access denied even to root)${s.scanned === 0 ? ': the scan is partial' : ''}.`;
  }
  const deniedWhy = lacking === null ? 'access denied even to root' : `access denied: ${remedy}`;
  const why = `(${readErrorText(c)})`;
  if (denied === 0) return `${of} ${why}: the scan is partial.`;
  return `${of}: ${failed} ${why}, ${denied} ${deniedWhy}; the scan is partial.`;
}

/** Whether this process has CAP_SYS_PTRACE in its effective set; false when that is unknown. */
export function ownPtraceCapability(statusPath = '/proc/self/status'): boolean {
  try {
    return hasCapability(readFileBounded(statusPath, 64 * 1024).toString('latin1'), CAP_SYS_PTRACE);
  } catch {
    return false;
  }
}

/** Whether the CapEff line of a /proc/PID/status text has capability `cap`; false without one. */
export function hasCapability(status: string, cap: number): boolean {
  const m = /^CapEff:\s*([0-9a-f]{1,16})$/m.exec(status);
  return m?.[1] !== undefined && ((BigInt(`0x${m[1]}`) >> BigInt(cap)) & 1n) === 1n;
}
