// What the running-version logic needs from the host about one mapping: stat() only, never a
// read of the mapped file. Small and synchronous like the rest of the /proc reads.
import { readFileSync, statSync } from 'node:fs';
import { parseBtime, parseStartTicks, startTimeMs } from '../interp/detect.ts';
import { mapFilesName } from '../procfs/maps.ts';

/**
 * ctime of a mapped file's inode (/proc/PID/map_files/RANGE; needs root): renaming over or
 * unlinking a file changes its ctime, so for a replaced file it is the moment of the replacement.
 * Null when it cannot be read.
 */
export function mappedFileCtimeMs(
  procRoot: string,
  pid: number,
  m: { start: string; end: string },
): number | null {
  try {
    return statSync(`${procRoot}/${pid}/map_files/${mapFilesName(m)}`).ctimeMs;
  } catch {
    return null;
  }
}

/** When a process started (ms since the epoch), or null when it cannot be read. */
export function processStartMs(procRoot: string, pid: number): number | null {
  try {
    const btime = parseBtime(readFileSync(`${procRoot}/stat`, 'utf8'));
    const ticks = parseStartTicks(readFileSync(`${procRoot}/${pid}/stat`, 'utf8'));
    return btime === null || ticks === null ? null : startTimeMs(ticks, btime);
  } catch {
    return null;
  }
}
