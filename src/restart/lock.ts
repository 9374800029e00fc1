// One afterpatch restart at a time. Node has no flock(2) and the bundle takes no native addon, so
// the lock is a file created with O_EXCL that names its holder by PID and process start time (a
// reused PID is not mistaken for the holder). A lock whose holder is gone is taken over by one
// process only: the takeover itself runs under a second O_EXCL file, re-checks that the stale lock
// is still in place, renames a new lock over it (the name never disappears, so a plain O_EXCL
// create keeps failing meanwhile) and re-reads it to confirm ownership.
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  constants,
  linkSync,
  openSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { EnvironmentError, errnoCode, errnoOf, UserError } from '../errors.ts';
import { statFields } from '../procfs/status.ts';
import { readTrustedFile, trustedDir } from './state.ts';

interface Holder {
  pid: number;
  /** Field 22 of /proc/PID/stat (clock ticks after boot); null in locks of older versions. */
  start: string | null;
}

/** The start time of a running process, or null when it is gone (or /proc is unreadable). */
export function processStart(pid: number): string | null {
  try {
    // Field 22 (starttime): the 20th from field 3 on.
    return statFields(readFileSync(`/proc/${pid}/stat`, 'utf8'))?.[19] ?? null;
  } catch {
    return null;
  }
}

function parseHolder(text: string): Holder | null {
  const m = /^(\d{1,10})(?: (\d{1,20}))?\n?$/.exec(text);
  if (!m) return null;
  return { pid: Number(m[1]), start: m[2] ?? null };
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return errnoCode(e) === 'EPERM';
  }
}

/** Alive: the PID runs and, when the lock recorded it, with the same start time. */
function holderAlive(h: Holder): boolean {
  if (h.pid <= 0 || !isRunning(h.pid)) return false;
  return h.start === null || processStart(h.pid) === h.start;
}

/**
 * Creates `file` with `text` only if it does not exist, complete from the first instant (written
 * to a private temporary file, then link(2)ed into place): no reader ever sees it empty.
 */
function createExclusive(file: string, text: string): boolean {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  let fd: number;
  try {
    fd = openSync(
      tmp,
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
      0o644,
    );
  } catch (e) {
    throw new EnvironmentError(`cannot create ${tmp} (${errnoOf(e)}).`);
  }
  try {
    try {
      writeSync(fd, text);
    } finally {
      closeSync(fd);
    }
    linkSync(tmp, file);
    return true;
  } catch (e) {
    if (errnoCode(e) === 'EEXIST') return false;
    throw new EnvironmentError(`cannot create ${file} (${errnoOf(e)}).`);
  } finally {
    unlinkQuietly(tmp);
  }
}

function busy(h: Holder): UserError {
  return new UserError(
    `another afterpatch restart (PID ${h.pid}) is running; wait for it to finish.`,
  );
}

function unlinkQuietly(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // Already gone.
  }
}

/** Takes the lock of `dir` or throws why not; the returned function releases it (once). */
export function acquireLock(dir: string): () => void {
  trustedDir(dir, true);
  const file = join(dir, 'lock');
  const start = processStart(process.pid);
  const mine = `${process.pid}${start === null ? '' : ` ${start}`}\n`;
  const release = () => {
    // Only our own lock: never one another process took over after a mistake.
    try {
      if (readTrustedFile(file, 'the lock file') === mine) unlinkQuietly(file);
    } catch {
      // Unreadable now: leave it; the next run reports it.
    }
  };
  for (let attempt = 0; attempt < 20; attempt++) {
    if (createExclusive(file, mine)) return release;
    const text = readTrustedFile(file, 'the lock file');
    if (text === null) continue; // released meanwhile
    const holder = parseHolder(text);
    if (holder && holderAlive(holder)) throw busy(holder);
    if (takeOver(dir, file, text, mine)) return release;
  }
  throw new UserError(`cannot take the lock ${file}; remove it if no afterpatch is running.`);
}

/** Replaces the stale lock `staleText` by ours; false when the lock changed meanwhile. */
function takeOver(dir: string, file: string, staleText: string, mine: string): boolean {
  const guard = join(dir, 'lock.takeover');
  if (!createExclusive(guard, mine)) {
    const text = readTrustedFile(guard, 'the lock file');
    if (text === null) return false; // that takeover just ended: look at the lock again
    const h = parseHolder(text);
    if (h && holderAlive(h)) throw busy(h);
    throw new UserError(
      `${guard} was left by an afterpatch that ended while taking over a stale lock; remove it if no afterpatch is running.`,
    );
  }
  try {
    // Under the guard nobody else replaces the lock; a live holder may only have released it.
    if (readTrustedFile(file, 'the lock file') !== staleText) return false;
    // A new lock file renamed over the stale one: the name never disappears meanwhile.
    const next = `${file}.${process.pid}.next`;
    unlinkQuietly(next);
    if (!createExclusive(next, mine)) throw new EnvironmentError(`cannot create ${next}.`);
    try {
      renameSync(next, file);
    } catch (e) {
      unlinkQuietly(next);
      throw new EnvironmentError(`cannot replace the stale lock ${file} (${errnoOf(e)}).`);
    }
    return readTrustedFile(file, 'the lock file') === mine;
  } finally {
    unlinkQuietly(guard);
  }
}
