// The per-process part of a scan: runs on the main thread and in worker threads alike.
import { type BigIntStats, statSync } from 'node:fs';
import { Executables, mappedCodePaths } from '../interp/detect.ts';
import { type RawInterp, readInterp } from '../interp/read.ts';
import {
  bounded,
  forEachDeleted,
  hasDeletedMarker,
  isCode,
  MappedFiles,
  type Mapping,
  mapFilesName,
} from '../procfs/maps.ts';
import type { ProcReader, ReadFailure } from '../procfs/reader.ts';
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
   *  it for the replaced inode's ctime without reading maps again. Null unless asked for
   *  (`ranges`): one string less per stale file to make and to copy between threads. */
  range: string | null;
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
  /** The first mapped file (the executable, as the maps show it), null when none was seen. */
  exe: string | null;
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
  /** Record each stale file's map_files name (RawFile.range); off unless true. */
  ranges?: boolean;
  /**
   * dpkg's info directory when the scan will look up the stale files' packages, and the host's
   * PID namespace (null: unknown): a worker then searches the `.list` files for its own stale
   * files of the host's namespace right after posting its result (src/scan/worker.ts). Not read
   * by collect itself.
   */
  listsAhead?: { infoDir: string; hostPidNs: string | null } | undefined;
  /**
   * The host's PID namespace (ns/pid link of PID 1): when given, every process's namespace is
   * read here, in the scan's threads, and the ones in another are returned in `foreign` (the
   * advisory assessment looks for containers among them).
   */
  hostPidNs?: string | undefined;
}

/** A process in another PID namespace than the host's, with its mount namespace. */
export interface ForeignProcess {
  pid: number;
  mntNs: string;
}

export interface CollectResult {
  processes: RawProcess[];
  /** Interpreter processes (stale or not), with what the interpreted-code detector needs. */
  interpreted: RawInterp[];
  /** With `hostPidNs`: the processes in another PID namespace whose mount namespace is known. */
  foreign: ForeignProcess[];
  scanned: number;
  /** Processes whose maps were denied (EACCES/EPERM). */
  denied: number;
  /** Processes whose maps could not be read for another reason (EMFILE, ELOOP, EIO, a refused
   *  file, ...): unread, never gone nor clean. */
  failed: number;
  /** Why, distinct, at most MAX_READ_ERRORS ("EMFILE: too many open files"). */
  readErrors: string[];
}

/** Distinct read errors kept per scan (they are for a one-line note). */
export const MAX_READ_ERRORS = 3;

/** Adds `cause` to the distinct read errors (bounded). */
export function addReadError(into: string[], cause: string): void {
  if (into.length < MAX_READ_ERRORS && !into.includes(cause)) into.push(cause);
}

/** Whether `p` runs in another PID namespace than the host's (`hostPidNs`; null: unknown). */
export function inForeignPidNs(p: { pidNs: string | null }, hostPidNs: string | null): boolean {
  return hostPidNs !== null && p.pidNs !== null && p.pidNs !== hostPidNs;
}

/**
 * The distinct paths of the stale files of the processes in the host's PID namespace, added to
 * `into`: what the package look-up asks for (a container's files are its image's). An indexed
 * loop: it runs once per stale process while the code is still cold, where for…of costs ~3
 * times as much (10,000 processes: ~3 ms).
 */
export function hostFilePaths(
  processes: readonly RawProcess[],
  hostPidNs: string | null,
  into = new Set<string>(),
): Set<string> {
  for (let i = 0; i < processes.length; i++) {
    const p = processes[i] as RawProcess;
    if (inForeignPidNs(p, hostPidNs)) continue;
    for (let j = 0; j < p.files.length; j++) into.add((p.files[j] as RawFile).path);
  }
  return into;
}

/** Hands out PIDs in small chunks so threads that start late still get a fair share. */
export interface PidQueue {
  next(): readonly number[] | null;
}

export function collect(reader: ProcReader, queue: PidQueue, opts: CollectOptions): CollectResult {
  const isNoise = noiseMatcher(opts.noise);
  const named = new NamedFiles(reader.root);
  const seen = new MappedFiles();
  const executables = new Executables();
  const ranges = opts.ranges === true;
  const res: CollectResult = {
    processes: [],
    interpreted: [],
    foreign: [],
    scanned: 0,
    denied: 0,
    failed: 0,
    readErrors: [],
  };
  for (let chunk = queue.next(); chunk; chunk = queue.next()) {
    for (const pid of chunk) {
      let pidNs = opts.hostPidNs === undefined ? undefined : reader.readlink(`${pid}/ns/pid`);
      if (pidNs !== undefined && !isFailure(pidNs) && pidNs !== opts.hostPidNs) {
        const mnt = reader.readlink(`${pid}/ns/mnt`);
        if (!isFailure(mnt)) res.foreign.push({ pid, mntNs: mnt });
      }
      const len = reader.readMaps(pid);
      if (isFailure(len)) {
        // Only an exited process is skipped silently. Refused (a FIFO, a device or an endless
        // file in a fixture tree) or any other error (EMFILE, ELOOP, EIO): unread, not clean.
        if (len === 'denied') res.denied++;
        else if (len !== 'gone') {
          res.failed++;
          addReadError(res.readErrors, reader.lastFailure);
        }
        continue;
      }
      res.scanned++;
      // The bytes read, one view for every look at them below (valid until the next read).
      const maps = bounded(reader.buffer, len);
      // The first file mapping is the executable: a look at one line, no extra read, for
      // every process that is not an interpreter (before anything else reuses the buffer).
      const exe = opts.interpreted ? executables.of(maps, len) : null;
      const interp = exe?.interpreter ?? null;
      // Most processes map nothing deleted: one search of the bytes read, nothing allocated.
      if (interp === null && !hasDeletedMarker(maps, len)) continue;
      const mapped = interp === null ? null : mappedCodePaths(maps, len);
      const exePath = (opts.interpreted ? exe : executables.of(maps, len))?.path ?? null;
      const found = deletedFiles(reader, maps, pid, len, isNoise, named, seen, ranges, () => {
        pidNs ??= reader.readlink(`${pid}/ns/pid`);
        return pidNs;
      });
      if (interp !== null) {
        const raw = readInterp(reader, pid, interp, mapped ?? []);
        if (raw) res.interpreted.push(raw);
      }
      if (found.files.size === 0 && !(opts.keepIgnored && found.ignored.size > 0)) continue;
      const ns = pidNs ?? reader.readlink(`${pid}/ns/pid`);
      if (ns === 'gone') continue; // exited meanwhile
      const root = found.root ?? reader.readlink(`${pid}/root`);
      const comm = opts.wantComm ? reader.read(`${pid}/comm`) : null;
      const raw: RawProcess = {
        pid,
        pidNs: isFailure(ns) ? null : ns,
        // An unreadable root (another user's process) is taken as "/": the common case.
        root: isFailure(root) ? '/' : root,
        comm: comm === null || isFailure(comm) ? null : comm.trimEnd(),
        exe: exePath,
        files: [...found.files.values()],
        ignored: [...found.ignored.values()],
      };
      // Set apart, not spread in: an object spread is a slow path while the code is cold.
      if (found.omitted > 0) raw.omittedMappings = found.omitted;
      res.processes.push(raw);
    }
  }
  return res;
}

/** The distinct deleted files of one process's maps (in the reader's buffer), noise apart. */
function deletedFiles(
  reader: ProcReader,
  maps: Buffer,
  pid: number,
  len: number,
  isNoise: (path: string) => string | null,
  named: NamedFiles,
  seen: MappedFiles,
  ranges: boolean,
  pidNsOf: () => string | ReadFailure,
): {
  files: Map<string, RawFile>;
  ignored: Map<string, IgnoredFile>;
  omitted: number;
  /** The root link when the check of real " (deleted)" names read it. */
  root: string | ReadFailure | null;
} {
  const files = new Map<string, RawFile>();
  const ignored = new Map<string, IgnoredFile>();
  /** Keys of mappings whose " (deleted)" is part of the file's real name (not deleted). */
  const realName = new Set<string>();
  let omitted = 0;
  let view = null as ProcessView | null; // read at the first new file (set in the callback)
  // A file's mappings are consecutive lines: the key and noise rule of the last one are reused.
  let lastPath = '';
  let lastInode = -1;
  let lastKey = '';
  let lastRule: string | null = null;
  const left = forEachDeleted(
    maps,
    len,
    (m) => {
      const kind = isCode(m) ? 'code' : 'data';
      if (m.path !== lastPath || m.inode !== lastInode) {
        lastPath = m.path;
        lastInode = m.inode;
        lastKey = `${m.inode}\0${m.path}`;
        lastRule = isNoise(m.path);
      }
      const key = lastKey;
      const rule = lastRule;
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
      if (realName.has(key)) return true;
      view ??= processView(reader, pid, pidNsOf());
      if (named.suffixIsName(pid, view.key, m)) realName.add(key);
      else if (rule !== null) ignored.set(key, { path: m.path, kind, rule });
      else
        files.set(key, {
          path: m.path,
          kind,
          inode: m.inode,
          device: m.device,
          range: ranges ? mapFilesName(m) : null,
        });
      return true;
    },
    (exec) => {
      // Another mapping of the file just visited: only its kind can change anything.
      const prev = (lastRule === null ? files : ignored).get(lastKey);
      if (prev === undefined) return null; // not kept (counted, or a real name): in full
      if (exec) prev.kind = 'code';
      return true;
    },
    seen,
  );
  return { files, ignored, omitted: omitted + left, root: view?.root ?? null };
}

interface ProcessView {
  /** PID namespace and root together: processes with the same key (almost always) see the
   *  same files; see NamedFiles for why not the mount namespace. */
  key: string | null;
  root: string | ReadFailure;
}

/** The view of a process, from the two links the scan reads for every stale process anyway. */
function processView(reader: ProcReader, pid: number, pidNs: string | ReadFailure): ProcessView {
  const root = reader.readlink(`${pid}/root`);
  return { key: isFailure(pidNs) || isFailure(root) ? null : `${pidNs}\0${root}`, root };
}

/** Entries kept by one thread's NamedFiles (a hostile process table cannot grow it further). */
const MAX_NAMED_CACHE = 65_536;

/**
 * Whether a mapping the kernel marks " (deleted)" is in fact of a file whose real name ends in
 * " (deleted)" (the suffix is ambiguous: anyone can create `libx.so (deleted)` and map it). Only
 * when such a file exists is the mapped file (/proc/PID/map_files/RANGE) compared with the named
 * file by device and inode: the two stat() results, since the device field of maps does not
 * match st_dev on btrfs or overlayfs. Unknown (map_files unreadable) counts as deleted: a stale
 * file is never hidden by a doubt. The look-up of the named file — one failed stat() in the
 * common case — is done once per path and view, not per process: after a libc upgrade thousands
 * of processes map the same few deleted paths. The view is the PID namespace and root, which the
 * scan reads for every stale process anyway, not the mount namespace (a third link per stale
 * process, 7 % of a scan's CPU with 10,000 stale processes): services with a private mount
 * namespace share it. Only "no such file" is shared that way, and at worst it reports a mapping
 * as deleted whose " (deleted)" is the real name of a file visible only in such a namespace (a
 * false alarm, never a hidden stale file); a file that does exist is looked up per process.
 */
class NamedFiles {
  readonly #procRoot: string;
  /** Paths in a view (key + path) where no file is named `PATH (deleted)`. */
  readonly #absent = new Set<string>();

  constructor(procRoot: string) {
    this.#procRoot = procRoot;
  }

  suffixIsName(pid: number, view: string | null, m: Mapping): boolean {
    const cacheKey = view === null ? null : `${view}\0${m.path}`;
    if (cacheKey !== null && this.#absent.has(cacheKey)) return false;
    const named = this.#stat(`${this.#procRoot}/${pid}/root${m.path} (deleted)`);
    if (named === null && cacheKey !== null && this.#absent.size < MAX_NAMED_CACHE)
      this.#absent.add(cacheKey);
    if (!named?.isFile()) return false;
    const mapped = this.#stat(`${this.#procRoot}/${pid}/map_files/${mapFilesName(m)}`, true);
    return mapped !== null && mapped.ino === named.ino && mapped.dev === named.dev;
  }

  /** stat() or null: ENOENT (the common case) without the cost of an exception; EACCES,
   *  ENOTDIR, ELOOP, a process gone: cannot tell, so the mapping stays deleted. */
  #stat(path: string, mustExist = false): BigIntStats | null {
    try {
      return statSync(path, { bigint: true, throwIfNoEntry: mustExist }) ?? null;
    } catch {
      return null;
    }
  }
}
