import { closeSync, openSync, readdirSync, readlinkSync, readSync } from 'node:fs';

/** Why a read failed: `gone` (the process exited; skip silently) or `denied` (not ours to read). */
export type ReadFailure = 'gone' | 'denied';

/**
 * Synchronous reader of a procfs tree under an injectable root ("/proc" on a host, a fixture
 * directory in tests). Synchronous on purpose: procfs reads never block on I/O, and one reader
 * runs per thread, so a shared buffer avoids an allocation per file.
 */
export class ProcReader {
  readonly root: string;
  #buf: Buffer = Buffer.allocUnsafe(256 * 1024);

  constructor(root = '/proc') {
    this.root = root.endsWith('/') ? root.slice(0, -1) : root;
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
    let fd: number;
    try {
      fd = openSync(`${this.root}/${rel}`, 'r');
    } catch (e) {
      return failure(e);
    }
    try {
      let len = 0;
      for (;;) {
        if (len === this.#buf.length) this.#grow();
        const n = readSync(fd, this.#buf, len, this.#buf.length - len, null);
        if (n === 0) return len;
        len += n;
      }
    } catch (e) {
      return failure(e);
    } finally {
      closeSync(fd);
    }
  }

  /** The buffer filled by the last readRaw (valid until the next read). */
  get buffer(): Buffer {
    return this.#buf;
  }

  read(rel: string): string | ReadFailure {
    const n = this.readRaw(rel);
    return typeof n === 'number' ? this.#buf.toString('utf8', 0, n) : n;
  }

  readlink(rel: string): string | ReadFailure {
    try {
      return readlinkSync(`${this.root}/${rel}`);
    } catch (e) {
      return failure(e);
    }
  }

  #grow(): void {
    const next = Buffer.allocUnsafe(this.#buf.length * 2);
    this.#buf.copy(next);
    this.#buf = next;
  }
}

function failure(e: unknown): ReadFailure {
  const code = (e as NodeJS.ErrnoException).code;
  // EACCES/EPERM: another user's process without root; everything else means it is gone.
  return code === 'EACCES' || code === 'EPERM' ? 'denied' : 'gone';
}

export function isFailure(v: unknown): v is ReadFailure {
  return v === 'gone' || v === 'denied';
}
