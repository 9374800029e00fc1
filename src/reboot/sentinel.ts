import { closeSync, fstatSync, futimesSync } from 'node:fs';
import { join } from 'node:path';
import { EnvironmentError, errnoCode, errnoOf } from '../errors.ts';
import { writeFileAtomic } from '../io/fs-atomic.ts';
import { openNoFollow } from '../io/open-no-follow.ts';
import { readFully } from '../io/read-fully.ts';

/** Text of a newly created `reboot-required`; motd scripts on Ubuntu print it at login. */
export const SENTINEL_TEXT = '*** System restart required (afterpatch) ***\n';

/** Mode of both files, whatever an existing file had (a planted 6755 must not carry over). */
export const SENTINEL_MODE = 0o644;

/** A package list longer than this is not read (it is a few lines on a real host). */
const MAX_PKGS_BYTES = 1024 * 1024;

export interface SentinelWrite {
  /** `reboot-required` did not exist before. */
  created: boolean;
  /** Package names appended to `reboot-required.pkgs` (those not already listed). */
  added: string[];
}

/**
 * Opens an existing sentinel file without following a symlink and without blocking on a FIFO;
 * null when it does not exist. Anything but a regular file is refused: its content is not read
 * (a link to a root-only file would be copied into the world-readable list) nor replaced.
 */
function openExisting(path: string): number | null {
  const fd = openNoFollow(path);
  if (fd === null) return null;
  if (fd === 'symlink')
    throw new Error(`${path} is a symbolic link: refusing to follow it; remove it`);
  if (!fstatSync(fd).isFile()) {
    closeSync(fd);
    throw new Error(`${path} is not a regular file: refusing to read or replace it; remove it`);
  }
  return fd;
}

function readIfExists(path: string): string | null {
  const fd = openExisting(path);
  if (fd === null) return null;
  try {
    const size = fstatSync(fd).size;
    if (size > MAX_PKGS_BYTES) {
      throw new Error(`${path} is larger than ${MAX_PKGS_BYTES} bytes: not a package list`);
    }
    return readFully(fd, size).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/** Sets an existing flag file's times to now (through the file, never a link); false when missing. */
function touchIfExists(path: string): boolean {
  const fd = openExisting(path);
  if (fd === null) return false;
  try {
    const now = new Date();
    futimesSync(fd, now, now);
  } finally {
    closeSync(fd);
  }
  return true;
}

/**
 * Asks for a reboot: appends the packages not yet listed to `<runDir>/reboot-required.pkgs`, then
 * creates `<runDir>/reboot-required` if missing (else touches it) (the list first, so whoever sees the flag finds the
 * list complete). Existing lines are kept exactly as they are; an existing `reboot-required` keeps its
 * content; nothing is rewritten when nothing changes. Package names must not contain whitespace.
 * Not a lock: two writers at the same instant can lose one's additions (never corrupt the file).
 */
export function writeSentinel(runDir: string, packages: readonly string[]): SentinelWrite {
  for (const p of packages) {
    if (p === '' || /\s/.test(p)) {
      throw new Error(`not a package name for reboot-required.pkgs: ${JSON.stringify(p)}`);
    }
  }
  const pkgsPath = join(runDir, 'reboot-required.pkgs');
  const existing = readIfExists(pkgsPath);
  const listed = new Set((existing ?? '').split('\n').map((l) => l.trim()));
  const added: string[] = [];
  for (const p of packages) {
    if (!listed.has(p)) {
      listed.add(p);
      added.push(p);
    }
  }
  if (added.length > 0) {
    let text = existing ?? '';
    if (text !== '' && !text.endsWith('\n')) text += '\n';
    text += added.map((p) => `${p}\n`).join('');
    writeFileAtomic(pkgsPath, text, SENTINEL_MODE);
  }
  const flagPath = join(runDir, 'reboot-required');
  // touch: keep the content, record the latest request
  const created = !touchIfExists(flagPath);
  if (created) writeFileAtomic(flagPath, SENTINEL_TEXT, SENTINEL_MODE);
  return { created, added };
}

/**
 * writeSentinel for commands: a file system that refuses the write (ENOSPC, EACCES, EROFS) is
 * the host's problem, reported in one line, not a bug.
 */
export function writeSentinelOrExplain(runDir: string, packages: readonly string[]): SentinelWrite {
  try {
    return writeSentinel(runDir, packages);
  } catch (e) {
    if (errnoCode(e) === undefined) throw e;
    throw new EnvironmentError(
      `cannot write the reboot sentinel in ${runDir} (${errnoOf(e)}); free space or fix its permissions.`,
    );
  }
}
