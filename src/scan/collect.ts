// The per-process part of a scan: runs on the main thread and in worker threads alike.
import { type BigIntStats, statSync } from 'node:fs';
import { firstMappedPath, interpreterOf, mappedCodePaths } from '../interp/detect.ts';
import { type RawInterp, readInterp } from '../interp/read.ts';
import { forEachDeleted, isCode, type Mapping, mapFilesName } from '../procfs/maps.ts';
import type { ProcReader } from '../procfs/reader.ts';
import { isFailure } from '../procfs/reader.ts';
import type { IgnoredFile } from './model.ts';
import type { NoiseConfig } from './noise.ts';
import { noiseMatcher } from './noise.ts';

export interface RawFile {
  path: string;
  kind: 'code' | 'data';
  inode: number;
  device: string;
  /** The first mapping's /proc/PID/map_files name ("start-end"): the advisory assessment stats
   *  it for the replaced inode's ctime without reading maps again. */
  range: string;
}

/**
 * What one thread learnt about one process with at least one deleted file mapping: only what
 * correctness needs (cheap links); cgroup and display details are read later, in bulk or for a
 * bounded sample (docs/performance.md).
 */
export interface RawProcess {
  pid: number;
  /** Target of /proc/PID/ns/pid, e.g. "pid:[4026531836]"; null when unreadable. */
  pidNs: string | null;
  root: string;
  /** Command name, read only when process ignore rules need it. */
  comm: string | null;
  files: RawFile[];
  ignored: IgnoredFile[];
  /** Deleted mappings not examined because the process maps more than MAX_FILES_PER_PROCESS
   *  distinct deleted files (hostile or broken); absent when none. */
  omittedMappings?: number;
}

/**
 * At most this many distinct deleted files (and as many noise files) are kept per process: a
 * maps file can hold a million deleted lines (2 GB of objects when all were kept); one stale
 * file already says the process needs a restart, the rest are counted and reported.
 */
export const MAX_FILES_PER_PROCESS = 256;

export interface CollectOptions {
  noise: NoiseConfig;
  /** Keep processes whose only deleted files are noise (for --all). */
  keepIgnored: boolean;
  /** Read each candidate's command name (needed by process ignore rules). */
  wantComm: boolean;
  /** Look for interpreter processes (docs/interpreted.md); off unless true. */
  interpreted?: boolean;
}

export interface CollectResult {
  processes: RawProcess[];
  /** Interpreter processes (stale or not), with what the interpreted-code detector needs. */
  interpreted: RawInterp[];
  scanned: number;
  denied: number;
}

/** Hands out PIDs in small chunks so threads that start late still get a fair share. */
export interface PidQueue {
  next(): readonly number[] | null;
}

export function collect(reader: ProcReader, queue: PidQueue, opts: CollectOptions): CollectResult {
  const isNoise = noiseMatcher(opts.noise);
  const res: CollectResult = { processes: [], interpreted: [], scanned: 0, denied: 0 };
  for (let chunk = queue.next(); chunk; chunk = queue.next()) {
    for (const pid of chunk) {
      const len = reader.readRaw(`${pid}/maps`);
      // Refused (a FIFO, a device or an endless file in a fixture tree): unreadable, not clean.
      if (len === 'denied' || len === 'refused') res.denied++;
      if (isFailure(len)) continue;
      res.scanned++;
      const files = new Map<string, RawFile>();
      const ignored = new Map<string, IgnoredFile>();
      /** Keys of mappings whose " (deleted)" is part of the file's real name (not deleted). */
      const named = new Set<string>();
      let omitted = 0;
      // The first file mapping is the executable: a look at one line, no extra read, for
      // every process that is not an interpreter (before anything else reuses the buffer).
      const exe = opts.interpreted ? firstMappedPath(reader.buffer, len) : null;
      const interp = exe === null ? null : interpreterOf(exe);
      const mapped = interp === null ? null : mappedCodePaths(reader.buffer, len);
      const left = forEachDeleted(reader.buffer, len, (m) => {
        const kind = isCode(m) ? 'code' : 'data';
        const key = `${m.inode}\0${m.path}`;
        const rule = isNoise(m.path);
        const into = rule === null ? files : ignored;
        const prev = into.get(key);
        if (prev) {
          if (kind === 'code') prev.kind = kind;
          return true;
        }
        if (into.size >= MAX_FILES_PER_PROCESS) {
          omitted++;
          // Enough stale files to call the process stale: the rest is only counted. Noise
          // alone never stops the look (real stale code may follow it).
          return rule !== null;
        }
        if (named.has(key)) return true;
        if (suffixIsName(reader.root, pid, m)) named.add(key);
        else if (rule !== null) ignored.set(key, { path: m.path, kind, rule });
        else
          files.set(key, {
            path: m.path,
            kind,
            inode: m.inode,
            device: m.device,
            range: mapFilesName(m),
          });
        return true;
      });
      omitted += left;
      if (interp !== null) {
        const raw = readInterp(reader, pid, interp, mapped ?? []);
        if (raw) res.interpreted.push(raw);
      }
      if (files.size === 0 && !(opts.keepIgnored && ignored.size > 0)) continue;
      const pidNs = reader.readlink(`${pid}/ns/pid`);
      if (pidNs === 'gone') continue; // exited meanwhile
      const root = reader.readlink(`${pid}/root`);
      const comm = opts.wantComm ? reader.read(`${pid}/comm`) : null;
      res.processes.push({
        pid,
        pidNs: isFailure(pidNs) ? null : pidNs,
        // An unreadable root (another user's process) is taken as "/": the common case.
        root: isFailure(root) ? '/' : root,
        comm: comm === null || isFailure(comm) ? null : comm.trimEnd(),
        files: [...files.values()],
        ignored: [...ignored.values()],
        ...(omitted > 0 ? { omittedMappings: omitted } : {}),
      });
    }
  }
  return res;
}

/**
 * Whether a mapping the kernel marks " (deleted)" is in fact of a file whose real name ends in
 * " (deleted)" (the suffix is ambiguous: anyone can create `libx.so (deleted)` and map it). Only
 * when such a file exists (one failed stat() in the common case) are the mapped file
 * (/proc/PID/map_files/RANGE) and the named file compared by device and inode: the two stat()
 * results, since the device field of maps does not match st_dev on btrfs or overlayfs. Unknown
 * (map_files unreadable) counts as deleted: a stale file is never hidden by a doubt.
 */
function suffixIsName(procRoot: string, pid: number, m: Mapping): boolean {
  let named: BigIntStats | undefined;
  let mapped: BigIntStats;
  try {
    // ENOENT (the common case) without the cost of an exception.
    named = statSync(`${procRoot}/${pid}/root${m.path} (deleted)`, {
      bigint: true,
      throwIfNoEntry: false,
    });
    if (!named?.isFile()) return false;
    mapped = statSync(`${procRoot}/${pid}/map_files/${mapFilesName(m)}`, { bigint: true });
  } catch {
    // EACCES, ENOTDIR, ELOOP, a process gone: cannot tell, so it stays deleted.
    return false;
  }
  return mapped.ino === named.ino && mapped.dev === named.dev;
}
