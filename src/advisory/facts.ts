// What the running-version logic needs from the host about one mapping: stat() only, never a
// read of the mapped file. Small and synchronous like the rest of the /proc reads.
import { readFileSync, statSync } from 'node:fs';
import { parseBtime, parseStartTicks, startTimeMs } from '../interp/detect.ts';
import { type Mapping, mapFilesName, parseMaps } from '../procfs/maps.ts';
import { readFileBounded } from '../procfs/reader.ts';

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

/**
 * The per-process reads of the assessment from a procfs. The mapping of a stale file is the one
 * the scan saw (`rangeOf`, no second read); only without it is /proc/PID/maps read again
 * (once per process, bounded).
 */
export function procProcessIo(
  procRoot: string,
  rangeOf: (pid: number, file: { path: string; inode: number }) => string | null = () => null,
): {
  replacedAtMs(
    pid: number,
    file: { path: string; inode: number; device?: string; hostPath?: string | null },
  ): number | null;
  startMs(pid: number): number | null;
} {
  const maps = new Map<number, Mapping[] | null>();
  // One inode has one ctime, however many processes map it (after a libc upgrade: thousands).
  // A mapped inode cannot be reused while mapped; the path is part of the key because on btrfs
  // the device maps prints is the file system's, not the subvolume's (inode numbers repeat).
  const ctimes = new Map<string, number>();
  return {
    replacedAtMs(pid, file) {
      const inodeKey =
        file.device === undefined
          ? null
          : `${file.device}:${file.inode}:${file.hostPath ?? file.path}`;
      const known = inodeKey === null ? undefined : ctimes.get(inodeKey);
      if (known !== undefined) return known;
      const range = rangeOf(pid, file);
      if (range !== null) {
        const dash = range.indexOf('-');
        const ms = mappedFileCtimeMs(procRoot, pid, {
          start: range.slice(0, dash),
          end: range.slice(dash + 1),
        });
        // Only an answer is shared: a process that could not be read says nothing of the inode.
        if (ms !== null && inodeKey !== null) ctimes.set(inodeKey, ms);
        return ms;
      }
      let list = maps.get(pid);
      if (list === undefined) {
        try {
          list = parseMaps(readFileBounded(`${procRoot}/${pid}/maps`).toString('utf8'));
        } catch {
          list = null;
        }
        maps.set(pid, list);
      }
      const m = list?.find((x) => x.deleted && x.inode === file.inode && x.path === file.path);
      return m ? mappedFileCtimeMs(procRoot, pid, m) : null;
    },
    startMs: (pid) => processStartMs(procRoot, pid),
  };
}
