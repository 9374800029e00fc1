// What earlier runs did, kept in /var/lib/afterpatch/state.json (written atomically) so that a
// unit that stayed stale is not restarted again and again for the same files (needrestart #340).
// The directory decides what root does next, so it is trusted only when nobody else can write it.
import { closeSync, fstatSync, mkdirSync, type Stats, statSync } from 'node:fs';
import { join } from 'node:path';
import * as v from 'valibot';
import { EnvironmentError, errnoCode, errnoOf, UserError } from '../errors.ts';
import { type RestartState, RestartStateSchema } from '../formats/state.ts';
import { writeFileAtomic } from '../io/fs-atomic.ts';
import { openNoFollow } from '../io/open-no-follow.ts';
import { readFully } from '../io/read-fully.ts';

export const DEFAULT_STATE_DIR = '/var/lib/afterpatch';

export { OUTCOMES, type Outcome } from '../formats/restart.ts';
export type { RestartState, UnitRecord } from '../formats/state.ts';

const KEEP_DAYS = 30;
/** Clocks get corrected; a record dated further ahead than this is not believed. */
const FUTURE_SLACK_MS = 86_400_000;
const MAX_STATE_BYTES = 16 * 1024 * 1024;

export function emptyState(): RestartState {
  return { version: 1, units: {} };
}

/** Records that still count at `now`: not older than 30 days, not dated in the future. */
function current(units: RestartState['units'], now: Date): RestartState['units'] {
  const cutoff = now.getTime() - KEEP_DAYS * 86_400_000;
  const limit = now.getTime() + FUTURE_SLACK_MS;
  return Object.fromEntries(
    Object.entries(units).filter(([, r]) => {
      const t = Date.parse(r.time);
      return t >= cutoff && t <= limit;
    }),
  );
}

/**
 * Refuses a path that someone other than us (or root) owns or that others may write: a planted
 * record would silently skip a unit, a planted lock would block restarts forever.
 */
export function assertTrusted(path: string, st: Stats, what: string): void {
  const uid = process.getuid?.() ?? 0;
  const fix = `make it owned by ${uid === 0 ? 'root' : `uid ${uid}`} and writable only by its owner`;
  if (st.uid !== uid && st.uid !== 0) {
    throw new UserError(`refusing ${what} ${path}: owned by uid ${st.uid}; ${fix}.`);
  }
  if (uid === 0 && st.uid !== 0) {
    throw new UserError(`refusing ${what} ${path}: not owned by root; ${fix}.`);
  }
  if ((st.mode & 0o022) !== 0) {
    const mode = (st.mode & 0o7777).toString(8).padStart(4, '0');
    throw new UserError(
      `refusing ${what} ${path}: writable by group or others (mode ${mode}); ${fix}.`,
    );
  }
}

/** The state directory, checked (and created when `create`); false when missing and not created. */
export function trustedDir(dir: string, create: boolean): boolean {
  let st: Stats;
  try {
    st = statSync(dir);
  } catch (e) {
    if (errnoCode(e) !== 'ENOENT') {
      throw new EnvironmentError(`cannot read the state directory ${dir} (${errnoOf(e)}).`);
    }
    if (!create) return false;
    try {
      mkdirSync(dir, { recursive: true, mode: 0o755 });
      st = statSync(dir);
    } catch (e2) {
      throw new EnvironmentError(`cannot create the state directory ${dir} (${errnoOf(e2)}).`);
    }
  }
  if (!st.isDirectory())
    throw new UserError(`refusing the state directory ${dir}: not a directory.`);
  assertTrusted(dir, st, 'the state directory');
  return true;
}

/**
 * Reads a small file of the state directory without following a symlink and without blocking
 * (a FIFO planted there would hang a plain open): null when it does not exist.
 */
export function readTrustedFile(file: string, what: string): string | null {
  let fd: number | null | 'symlink';
  try {
    fd = openNoFollow(file);
  } catch (e) {
    throw new EnvironmentError(`cannot read ${file} (${errnoOf(e)}).`);
  }
  if (fd === null) return null;
  if (fd === 'symlink') throw new UserError(`refusing ${what} ${file}: it is a symbolic link.`);
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new UserError(`refusing ${what} ${file}: not a regular file.`);
    assertTrusted(file, st, what);
    if (st.size > MAX_STATE_BYTES) {
      throw new UserError(`refusing ${what} ${file}: larger than ${MAX_STATE_BYTES} bytes.`);
    }
    return readFully(fd, st.size).toString('utf8');
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new EnvironmentError(`cannot read ${file} (${errnoOf(e)}).`);
  } finally {
    closeSync(fd);
  }
}

export function readState(dir: string, now = new Date()): RestartState {
  if (!trustedDir(dir, false)) return emptyState();
  const file = join(dir, 'state.json');
  const text = readTrustedFile(file, 'the state file');
  if (text === null) return emptyState();
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new UserError(`${file} is not valid JSON: move it away to start afresh.`);
  }
  const r = v.safeParse(RestartStateSchema, data);
  if (!r.success) {
    // Where, not what: the file's content is not echoed.
    const where = (r.issues[0].path ?? [])
      .map((p, i) => (i === 1 ? `record ${recordIndex(data, p.key)}` : String(p.key)))
      .join('.');
    throw new UserError(
      `${file} is not a state file of this version: move it away to start afresh${where ? ` (invalid ${where})` : ''}.`,
    );
  }
  return { version: 1, units: current(r.output.units, now) };
}

function recordIndex(data: unknown, key: unknown): number {
  const units = (data as { units?: object }).units ?? {};
  return Object.keys(units).indexOf(String(key)) + 1;
}

/** Writes to a temporary file in the same directory, syncs it, then renames it into place. */
export function writeState(dir: string, state: RestartState, now = new Date()): void {
  const units = current(state.units, now);
  const file = join(dir, 'state.json');
  trustedDir(dir, true);
  try {
    writeFileAtomic(file, `${JSON.stringify({ version: 1, units }, null, 2)}\n`);
  } catch (e) {
    throw new EnvironmentError(`cannot write ${file} (${errnoOf(e)}).`);
  }
}
