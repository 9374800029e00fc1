// The per-process part of a scan: runs on the main thread and in worker threads alike.
import { firstMappedPath, interpreterOf } from '../interp/detect.ts';
import { type RawInterp, readInterp } from '../interp/read.ts';
import type { IgnoredFile } from '../model.ts';
import type { NoiseConfig } from '../noise.ts';
import { noiseMatcher } from '../noise.ts';
import { deletedMappings, isCode } from '../procfs/maps.ts';
import type { ProcReader } from '../procfs/reader.ts';
import { isFailure } from '../procfs/reader.ts';

export interface RawFile {
  path: string;
  kind: 'code' | 'data';
  inode: number;
  device: string;
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
}

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
      const deleted = deletedMappings(reader.buffer, len);
      if (opts.interpreted) {
        // The first file mapping is the executable: a look at one line, no extra read, for
        // every process that is not an interpreter.
        const exe = firstMappedPath(reader.buffer, len);
        const interp = exe === null ? null : interpreterOf(exe);
        if (interp !== null) {
          const raw = readInterp(reader, pid, interp);
          if (raw) res.interpreted.push(raw);
        }
      }
      if (deleted.length === 0) continue;
      const files = new Map<string, RawFile>();
      const ignored = new Map<string, IgnoredFile>();
      for (const m of deleted) {
        const kind = isCode(m) ? 'code' : 'data';
        const rule = isNoise(m.path);
        const key = `${m.inode}\0${m.path}`;
        if (rule !== null) {
          const prev = ignored.get(key);
          if (!prev || kind === 'code') ignored.set(key, { path: m.path, kind, rule });
          continue;
        }
        const prev = files.get(key);
        if (!prev || kind === 'code') {
          files.set(key, { path: m.path, kind, inode: m.inode, device: m.device });
        }
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
      });
    }
  }
  return res;
}
