import {
  closeSync,
  constants,
  fstatSync,
  openSync,
  readdirSync,
  readlinkSync,
  readSync,
  statfsSync,
} from 'node:fs';
import { errnoCode } from '../errors.ts';
import { endsWithGateLine } from './maps.ts';

/**
 * Why a read failed: `gone` (ENOENT or ESRCH: the process exited; skip silently), `denied`
 * (EACCES/EPERM: not ours to read), `refused` (not a regular file, or longer than the bound: a
 * planted FIFO, device or endless file in a fixture tree) or `failed` (any other error: EMFILE,
 * ENFILE, ELOOP, EIO, ...). `refused` and `failed` are never "gone" nor "clean": the scan counts
 * them as unreadable for a reason root cannot be excused of (src/scan/coverage.ts), and
 * ProcReader.lastFailure says why.
 */
export type ReadFailure = 'gone' | 'denied' | 'refused' | 'failed';

/**
 * The most bytes read from one file. A real maps file stays far below (65,530 mappings of a
 * 4 KiB path each would be 270 MiB, a host with 65,530 mappings of typical paths writes ~8 MiB).
 */
export const MAX_PROC_FILE_BYTES = 64 * 1024 * 1024;

// O_NONBLOCK: opening a FIFO must not wait for a writer; O_NOCTTY: a terminal device must not
// become our controlling terminal. Both are no-ops for procfs and regular files.
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY;

/** Thrown by openRegularSync and readFileBounded for a file that is refused. */
export class RefusedFileError extends Error {
  /** EISDIR for a directory (as readFileSync says), EREFUSED for the rest. */
  readonly code: 'EISDIR' | 'EREFUSED';
  constructor(message: string, code: 'EISDIR' | 'EREFUSED' = 'EREFUSED') {
    super(message);
    this.code = code;
  }
}

/**
 * Opens `path` for reading without ever blocking and returns the descriptor only when it is a
 * regular file (procfs files are regular files of size 0). Throws the open error, or
 * RefusedFileError for a FIFO, socket, device or directory.
 */
export function openRegularSync(path: string): number {
  const fd = openSync(path, OPEN_FLAGS);
  let dir = false;
  try {
    const st = fstatSync(fd);
    if (st.isFile()) return fd;
    dir = st.isDirectory();
  } catch (e) {
    closeSync(fd);
    throw e;
  }
  closeSync(fd);
  throw new RefusedFileError(`${path} is not a regular file`, dir ? 'EISDIR' : 'EREFUSED');
}

/** A growable read buffer (one per thread in the scan). */
interface Sink {
  buf: Buffer;
}

/**
 * Reads all of a regular file into `sink.buf` (grown as needed, up to maxBytes): its length, or
 * 'refused' when it has more than maxBytes bytes. Throws open/read errors and RefusedFileError.
 * `procMaps`: the file is a kernel-made procfs maps file: no fstat is needed, and it ends with
 * its gate VMA line when it has one (endsWithGateLine).
 */
function readInto(
  path: string,
  sink: Sink,
  maxBytes: number,
  procMaps = false,
): number | 'refused' {
  const fd = procMaps ? openSync(path, OPEN_FLAGS) : openRegularSync(path);
  try {
    let len = 0;
    for (;;) {
      if (len === sink.buf.length) {
        if (len >= maxBytes) {
          // Full at the bound: one more byte means the file is longer than we accept.
          return readSync(fd, Buffer.alloc(1), 0, 1, null) === 0 ? len : 'refused';
        }
        const next = Buffer.allocUnsafe(Math.min(sink.buf.length * 2, maxBytes));
        sink.buf.copy(next);
        sink.buf = next;
      }
      const n = readSync(fd, sink.buf, len, sink.buf.length - len, null);
      if (n === 0) return len;
      len += n;
      if (procMaps && endsWithGateLine(sink.buf, len)) return len;
    }
  } finally {
    closeSync(fd);
  }
}

/**
 * A whole file, read without blocking and at most maxBytes long: for files under --proc-root or
 * --root outside the scan's reader. Throws the open/read error or RefusedFileError.
 */
export function readFileBounded(path: string, maxBytes = MAX_PROC_FILE_BYTES): Buffer {
  const sink: Sink = { buf: Buffer.allocUnsafe(Math.min(64 * 1024, maxBytes)) };
  const len = readInto(path, sink, maxBytes);
  if (len === 'refused') throw new RefusedFileError(`${path} is longer than ${maxBytes} bytes`);
  return sink.buf.subarray(0, len);
}

export interface ProcReaderOptions {
  /** The most bytes read from one file (default MAX_PROC_FILE_BYTES). */
  maxBytes?: number;
}

/**
 * Synchronous reader of a procfs tree under an injectable root ("/proc" on a host, a fixture
 * directory in tests). Synchronous on purpose: procfs reads do not wait for disk, and one reader
 * runs per thread, so a shared buffer avoids an allocation per file. Every read is bounded and
 * refuses what is not a regular file, so a fixture tree cannot make it block or exhaust memory.
 */
export class ProcReader {
  readonly root: string;
  readonly maxBytes: number;
  /** The root is a mounted procfs: its PID/maps files are the kernel's, never FIFOs or devices. */
  readonly isProcfs: boolean;
  /** Why the last `refused` or `failed` read failed ("EMFILE: too many open files"); set only
   *  on such a failure (never on the success path). */
  lastFailure = '';
  #sink: Sink;

  constructor(root = '/proc', o: ProcReaderOptions = {}) {
    this.root = root.endsWith('/') ? root.slice(0, -1) : root;
    this.maxBytes = o.maxBytes ?? MAX_PROC_FILE_BYTES;
    this.#sink = { buf: Buffer.allocUnsafe(Math.min(256 * 1024, this.maxBytes)) };
    this.isProcfs = isProcfsMount(this.root);
  }

  /** Numeric entries of the root, ascending. */
  listPids(): number[] {
    const pids: number[] = [];
    for (const name of readdirSync(this.root)) {
      const c = name.charCodeAt(0);
      if (c >= 48 && c <= 57) pids.push(Number(name));
    }
    return pids.sort((a, b) => a - b);
  }

  /** Reads a whole file into the shared buffer; returns its length or a failure. */
  readRaw(rel: string): number | ReadFailure {
    try {
      return this.#bounded(readInto(`${this.root}/${rel}`, this.#sink, this.maxBytes));
    } catch (e) {
      return this.#failure(e);
    }
  }

  /**
   * readRaw of `PID/maps`. On a mounted procfs the fstat that refuses FIFOs and devices is
   * skipped (one syscall and one Stats object per process: the scan's hottest loop), and so is
   * the read that returns 0 after the gate VMA's line, the last one on x86-64; anywhere else (a
   * fixture tree) the file is checked and read to its end like every other.
   */
  readMaps(pid: number): number | ReadFailure {
    try {
      return this.#bounded(
        readInto(`${this.root}/${pid}/maps`, this.#sink, this.maxBytes, this.isProcfs),
      );
    } catch (e) {
      return this.#failure(e);
    }
  }

  /** The buffer filled by the last readRaw (valid until the next read). */
  get buffer(): Buffer {
    return this.#sink.buf;
  }

  read(rel: string): string | ReadFailure {
    const n = this.readRaw(rel);
    return typeof n === 'number' ? this.#sink.buf.toString('utf8', 0, n) : n;
  }

  readlink(rel: string): string | ReadFailure {
    try {
      return readlinkSync(`${this.root}/${rel}`);
    } catch (e) {
      return this.#failure(e);
    }
  }

  #bounded(n: number | 'refused'): number | 'refused' {
    if (n === 'refused') this.lastFailure = `longer than ${this.maxBytes} bytes`;
    return n;
  }

  #failure(e: unknown): ReadFailure {
    const f = failure(e);
    if (f === 'refused' || f === 'failed') this.lastFailure = failureCause(e);
    return f;
  }
}

const PROC_SUPER_MAGIC = 0x9fa0;

/** Whether `dir` is the root of a procfs mount (statfs; false when it cannot be told). */
export function isProcfsMount(dir: string): boolean {
  // statfsSync is missing before Node 18.15: then every file is checked.
  if (typeof statfsSync !== 'function') return false;
  try {
    return statfsSync(dir).type === PROC_SUPER_MAGIC;
  } catch {
    return false;
  }
}

function failure(e: unknown): ReadFailure {
  if (e instanceof RefusedFileError) return 'refused';
  const code = errnoCode(e);
  // ENOENT (the PID directory went away) and ESRCH (the task is exiting): the process is gone.
  if (code === 'ENOENT' || code === 'ESRCH') return 'gone';
  // EACCES/EPERM: another user's process without root (or CAP_SYS_PTRACE).
  if (code === 'EACCES' || code === 'EPERM') return 'denied';
  // Anything else (EMFILE, ENFILE, ELOOP, EIO, ...) says nothing about the process: unread.
  return 'failed';
}

/** "EMFILE: too many open files" of a failed read, without the path; one line. */
export function failureCause(e: unknown): string {
  if (e instanceof RefusedFileError)
    return e.code === 'EISDIR' ? 'EISDIR: is a directory' : 'not a regular file';
  const code = errnoCode(e);
  const message = e instanceof Error ? e.message : String(e);
  if (code === undefined) return message.replace(/\s+/g, ' ').slice(0, 200);
  // Node.js writes "CODE: description, syscall 'path'".
  const end = message.indexOf(', ', code.length);
  return message.startsWith(`${code}: `) && end > 0 ? message.slice(0, end) : code;
}

export function isFailure(v: unknown): v is ReadFailure {
  return v === 'gone' || v === 'denied' || v === 'refused' || v === 'failed';
}
