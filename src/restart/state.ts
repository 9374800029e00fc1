// What earlier runs did, kept in /var/lib/afterpatch/state.json (written atomically) so that a
// unit that stayed stale is not restarted again and again for the same files (needrestart #340).
import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { UserError } from '../errors.ts';
import { writeFileAtomic } from '../fs-atomic.ts';

export const DEFAULT_STATE_DIR = '/var/lib/afterpatch';

export type Outcome = 'verified' | 'still-stale' | 'failed' | 'timeout';

export interface UnitRecord {
  time: string;
  action: string;
  outcome: Outcome;
  /** Identity of the stale files that motivated the action: "inode:path". */
  files: string[];
}

export interface RestartState {
  version: 1;
  units: Record<string, UnitRecord>;
}

const KEEP_DAYS = 30;

export function emptyState(): RestartState {
  return { version: 1, units: {} };
}

export function readState(dir: string): RestartState {
  const file = join(dir, 'state.json');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return emptyState();
    throw new UserError(`cannot read ${file} (${(e as NodeJS.ErrnoException).code}).`, 3);
  }
  try {
    const data = JSON.parse(text) as RestartState;
    if (data.version !== 1 || typeof data.units !== 'object' || data.units === null)
      throw new Error();
    return data;
  } catch {
    throw new UserError(
      `${file} is not a state file of this version: move it away to start afresh.`,
      3,
    );
  }
}

/** Writes to a temporary file in the same directory, syncs it, then renames it into place. */
export function writeState(dir: string, state: RestartState, now = new Date()): void {
  const cutoff = now.getTime() - KEEP_DAYS * 86_400_000;
  const units = Object.fromEntries(
    Object.entries(state.units).filter(([, r]) => Date.parse(r.time) >= cutoff),
  );
  writeStateFile(join(dir, 'state.json'), `${JSON.stringify({ version: 1, units }, null, 2)}\n`);
}

function writeStateFile(file: string, text: string): void {
  try {
    mkdirSync(dirname(file), { recursive: true, mode: 0o755 });
    writeFileAtomic(file, text);
  } catch (e) {
    throw new UserError(
      `cannot write ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}).`,
      3,
    );
  }
}

/**
 * One afterpatch restart at a time: a lock file created exclusively, holding our PID; a lock
 * left by a process that no longer exists is taken over.
 */
export function acquireLock(dir: string): () => void {
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const file = join(dir, 'lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx', 0o644);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return () => {
        try {
          unlinkSync(file);
        } catch {}
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new UserError(`cannot create ${file} (${(e as NodeJS.ErrnoException).code}).`, 3);
      }
      const holder = Number(readFileSync(file, 'utf8').trim());
      if (Number.isInteger(holder) && holder > 0 && isRunning(holder)) {
        throw new UserError(
          `another afterpatch restart (PID ${holder}) is running; wait for it to finish.`,
          3,
        );
      }
      unlinkSync(file);
    }
  }
  throw new UserError(`cannot take the lock ${file}; remove it if no afterpatch is running.`, 3);
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
