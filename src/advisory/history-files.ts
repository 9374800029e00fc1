// Reading the package managers' logs, bounded: a log is a file in /var/log that root owns, but
// it may be huge or replaced by a FIFO or a symlink; nothing here may block, follow or exhaust.
import { closeSync, constants, fstatSync, openSync, readdirSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { readFully } from '../io/read-fully.ts';
import {
  type HistoryEvent,
  mergeHistory,
  parseDnfRpmLog,
  parseDpkgLog,
  parseYumLog,
  type Wanted,
} from './history.ts';

/** At most this much of one log (its newest part) is read, and at most this much unpacked. */
export const MAX_LOG_BYTES = 32 * 1024 * 1024;
/** At most this many rotations of one log. */
export const MAX_ROTATIONS = 32;

export interface LogText {
  text: string;
  /** The file was larger than MAX_LOG_BYTES: only its newest part was read. */
  truncated: boolean;
  mtimeMs: number;
}

/** A regular file's text (gunzipped for `.gz`), or null when absent or not a plain file. */
export function readLog(path: string, maxBytes = MAX_LOG_BYTES): LogText | null {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return null;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return null;
    const gz = path.endsWith('.gz');
    // A compressed file is read whole (its tail alone cannot be unpacked), within the bound.
    if (gz && st.size > maxBytes) return null;
    const size = Math.min(st.size, maxBytes);
    const start = gz ? 0 : st.size - size;
    let bytes = readFully(fd, size, start);
    if (gz) bytes = gunzipSync(bytes, { maxOutputLength: maxBytes });
    let text = bytes.toString('utf8');
    const truncated = !gz && st.size > size;
    // A cut-off first line is not a log line.
    if (truncated) text = text.slice(text.indexOf('\n') + 1);
    return { text, truncated, mtimeMs: st.mtimeMs };
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}

/** `base`, `base.1`, `base.2.gz`… (also `base-20240710` as logrotate's dateext names them), newest first. */
export function rotations(dir: string, base: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const rank = (n: string): number | null => {
    if (n === base) return 0;
    const m = new RegExp(`^${base.replace(/\./g, '\\.')}[.-](\\d+)(?:\\.gz)?$`).exec(n);
    if (!m) return null;
    const k = Number(m[1]);
    // Date suffixes: newer dates first, after the live file.
    return k > 1_000_000 ? 1e9 - k : k;
  };
  return names
    .map((n) => ({ n, r: rank(n) }))
    .filter((x): x is { n: string; r: number } => x.r !== null)
    .sort((a, b) => a.r - b.r)
    .slice(0, MAX_ROTATIONS)
    .map((x) => `${dir}/${x.n}`);
}

/** dpkg's history under a root ("" for the host): dpkg.log and its rotations. */
export function dpkgHistory(root: string, wanted: Wanted): HistoryEvent[] {
  const parts: HistoryEvent[][] = [];
  for (const f of rotations(`${root}/var/log`, 'dpkg.log')) {
    const log = readLog(f);
    if (log) parts.push(parseDpkgLog(log.text, wanted));
  }
  return mergeHistory(parts);
}

/** rpm's history: dnf.rpm.log and yum.log with their rotations. */
export function rpmHistory(root: string, wanted: Wanted): HistoryEvent[] {
  const parts: HistoryEvent[][] = [];
  for (const f of rotations(`${root}/var/log`, 'dnf.rpm.log')) {
    const log = readLog(f);
    if (log) parts.push(parseDnfRpmLog(log.text, wanted));
  }
  for (const f of rotations(`${root}/var/log`, 'yum.log')) {
    const log = readLog(f);
    if (log) parts.push(parseYumLog(log.text, wanted, new Date(log.mtimeMs).getFullYear()));
  }
  return mergeHistory(parts);
}
