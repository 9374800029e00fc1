import { readFileSync, statSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { EnvironmentError, errnoOf } from '../errors.ts';
import { writeFileAtomic } from '../fs-atomic.ts';

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

/**
 * writeSentinel for commands: a file system that refuses the write (ENOSPC, EACCES, EROFS) is
 * the host's problem, reported in one line, not a bug.
 */
export function writeSentinelOrExplain(runDir: string, packages: readonly string[]): SentinelWrite {
  try {
    return writeSentinel(runDir, packages);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === undefined) throw e;
    throw new EnvironmentError(
      `cannot write the reboot sentinel in ${runDir} (${errnoOf(e)}); free space or fix its permissions.`,
    );
  }
}
