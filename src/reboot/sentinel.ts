// Writing the reboot-required sentinel the Debian way: `<run>/reboot-required` exists, and
// `<run>/reboot-required.pkgs` lists the packages asking for it, one a line, without duplicates.
// Every file is replaced by rename(2) from a temporary file in the same directory, so a reader
// sees either the old or the new content, never a half-written file.

import { Buffer } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  fchmodSync,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  utimesSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** Text of a newly created `reboot-required`; motd scripts on Ubuntu print it at login. */
export const SENTINEL_TEXT = '*** System restart required (afterpatch) ***\n';

export interface SentinelWrite {
  /** `reboot-required` did not exist before. */
  created: boolean;
  /** Package names appended to `reboot-required.pkgs` (those not already listed). */
  added: string[];
}

function readIfExists(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

function modeOf(path: string): number | null {
  try {
    return statSync(path).mode & 0o7777;
  } catch {
    return null;
  }
}

/** Writes `text` to `path` through a temporary file in the same directory and rename(2). */
export function writeFileAtomic(path: string, text: string, mode = 0o644): void {
  const tmp = join(
    dirname(path),
    `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`,
  );
  const fd = openSync(tmp, 'wx', mode);
  let renamed = false;
  try {
    try {
      fchmodSync(fd, mode); // exact mode, whatever the umask
      const data = Buffer.from(text, 'utf8');
      let done = 0;
      while (done < data.length) done += writeSync(fd, data, done, data.length - done);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
    renamed = true;
  } finally {
    if (!renamed) {
      try {
        unlinkSync(tmp);
      } catch {
        // Already gone.
      }
    }
  }
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
    writeFileAtomic(pkgsPath, text, modeOf(pkgsPath) ?? 0o644);
  }
  const flagPath = join(runDir, 'reboot-required');
  let created = false;
  try {
    const now = new Date();
    utimesSync(flagPath, now, now); // touch: keep the content, record the latest request
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    writeFileAtomic(flagPath, SENTINEL_TEXT);
    created = true;
  }
  return { created, added };
}
