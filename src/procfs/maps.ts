// Parsing of /proc/PID/maps lines (see docs/kernel-maps.md for the format and its traps).

export interface Mapping {
  start: string;
  end: string;
  perms: string;
  offset: string;
  device: string;
  inode: number;
  /** Path with the kernel's `\012` escapes decoded and without the " (deleted)" suffix; "" when anonymous. */
  path: string;
  deleted: boolean;
}

const DELETED = ' (deleted)';
const DELETED_BYTES = Buffer.from(DELETED, 'latin1');
/** The marker without its space: see findMarker. */
const MARKER_BYTES = DELETED_BYTES.subarray(1);

/**
 * Where " (deleted)" first occurs in `buf` at or after `from`, or -1. Found as "(deleted)" and
 * then its space: Buffer's search goes from one occurrence of the needle's first byte to the
 * next (memchr), and a needle that begins with a space stops at each of the ~6 spaces of every
 * line, where "(" is rare (a 3 KB maps file without the marker: ~2.2 µs against ~0.35 µs, for
 * each of 10,000 processes).
 */
function findMarker(buf: Buffer, from: number): number {
  for (let at = from + 1; ; ) {
    const i = buf.indexOf(MARKER_BYTES, at);
    if (i === -1 || buf[i - 1] === 32) return i === -1 ? -1 : i - 1;
    at = i + 1;
  }
}

/** Parses one maps line; null when it is not a well-formed maps line. */
export function parseMapsLine(line: string): Mapping | null {
  // Five space-separated fields, then padding, then the path (which may itself contain spaces).
  let pos = 0;
  const fields: string[] = [];
  for (let i = 0; i < 5; i++) {
    const sp = line.indexOf(' ', pos);
    if (sp === -1) {
      if (i < 4) return null;
      fields.push(line.slice(pos));
      pos = line.length;
      break;
    }
    fields.push(line.slice(pos, sp));
    pos = sp + 1;
  }
  const [range, perms, offset, device, inodeText] = fields;
  if (range === undefined || perms === undefined || offset === undefined) return null;
  if (device === undefined || inodeText === undefined) return null;
  const dash = range.indexOf('-');
  if (dash <= 0 || perms.length !== 4 || !/^\d+$/.test(inodeText)) return null;
  while (pos < line.length && line.charCodeAt(pos) === 32) pos++;
  let path = line.slice(pos);
  const deleted = path.endsWith(DELETED);
  if (deleted) path = path.slice(0, -DELETED.length);
  return {
    start: range.slice(0, dash),
    end: range.slice(dash + 1),
    perms,
    offset,
    device,
    inode: Number(inodeText),
    path: unescapeMapsPath(path),
    deleted,
  };
}

/** The kernel escapes only newline (as `\012`) in paths it prints in maps. */
export function unescapeMapsPath(path: string): string {
  return path.includes('\\012') ? path.replaceAll('\\012', '\n') : path;
}

export function parseMaps(text: string): Mapping[] {
  const out: Mapping[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const m = parseMapsLine(line);
    if (m) out.push(m);
  }
  return out;
}

/**
 * Only the lines that end in " (deleted)", read straight from a maps buffer: on a typical host
 * almost no process has one, so the common case costs one native substring search.
 */
export function deletedMappings(buffer: Buffer, len: number): Mapping[] {
  const out: Mapping[] = [];
  forEachDeleted(buffer, len, (m) => {
    out.push(m);
    return true;
  });
  return out;
}

/**
 * Whether a maps buffer holds the bytes " (deleted)" anywhere (a native search, no allocation
 * beyond a view): when not, no line of it can be a deleted mapping.
 */
export function hasDeletedMarker(buffer: Buffer, len: number): boolean {
  return findMarker(bounded(buffer, len), 0) !== -1;
}

/**
 * The first `len` bytes of `buffer` as a view: `buffer` itself when that is all of it. The scan
 * makes one view per process and hands it to each reader of the maps (Buffer's subarray costs
 * ~0.5 µs, and each of them made its own for each of 10,000 processes).
 */
export function bounded(buffer: Buffer, len: number): Buffer {
  return buffer.length === len ? buffer : buffer.subarray(0, len);
}

/**
 * Calls `visit` for each line of a maps buffer that ends in " (deleted)", in order, without
 * collecting them: a hostile maps file may hold a million such lines, so the caller decides what
 * to keep. When `visit` returns false the rest is only counted (a substring search per line, no
 * parsing): the number of deleted lines left unvisited is returned.
 *
 * `again`, when given, is asked first about a line of the same file (device, inode and path) as
 * the line visited just before, with only whether it is executable: nothing is decoded or
 * allocated for it (a library is mapped 4–5 times in a row). It answers as `visit` would, or
 * null to have the line visited in full.
 */
export function forEachDeleted(
  buffer: Buffer,
  len: number,
  visit: (m: Mapping) => boolean | undefined,
  again?: (exec: boolean) => boolean | undefined | null,
  /** Files parsed in earlier calls (earlier processes), reused when a line names one again. */
  memo?: MappedFiles,
): number {
  // A view bounded to this file: the shared buffer holds stale bytes beyond it.
  const buf = bounded(buffer, len);
  let from = 0;
  let stopped = false;
  let left = 0;
  // The last parsed line: a file is mapped several times in a row (r--p, r-xp, r--p, rw-p), and
  // a line whose device, inode and path bytes equal the last one's reuses its parse (the utf8
  // decode and split of the whole line cost more than the rest of the scan's JavaScript).
  let last: Mapping | null = null;
  let lastTail = 0;
  let lastEnd = 0;
  let lastVisited = false;
  /** A marker found by looking at the line after the last one (its start), or -1. */
  let next = -1;
  let nextStart = 0;
  for (;;) {
    let hit = next;
    let start = nextStart;
    next = -1;
    if (hit === -1) {
      hit = findMarker(buf, from);
      if (hit === -1) return left;
      start = -1;
    }
    const after = hit + DELETED.length;
    from = after;
    // Only a suffix counts: " (deleted)" inside a path is not the kernel's marker.
    if (after < len && buf[after] !== 10) continue;
    // The next line is often another mapping of this file: its end is looked at directly (the
    // search for the marker, a call through Buffer's argument checks, is made only past it).
    if (after < len) {
      const end = u8IndexOf.call(buf, 10, after + 1);
      const e = end === -1 ? len : end;
      if (e - DELETED.length > after && endsWithDeleted(buf, e)) {
        next = e - DELETED.length;
        nextStart = after + 1;
      }
    }
    if (stopped) {
      left++;
      continue;
    }
    if (start === -1) start = hit === 0 ? 0 : u8LastIndexOf.call(buf, 10, hit - 1) + 1;
    const tail = tailStart(buf, start, hit);
    let m: Mapping | null;
    if (
      last !== null &&
      tail !== -1 &&
      after - tail === lastEnd - lastTail &&
      sameBytes(buf, tail, buf, lastTail, after - tail)
    ) {
      if (again !== undefined && lastVisited) {
        // The four perms (r, w, x, p/s) between the range's space and the next one.
        const perms = u8IndexOf.call(buf, 32, start) + 1;
        const answer =
          perms > start + 1 && buf[perms + 4] === 32 ? again(buf[perms + 2] === 120) : null;
        if (answer !== null) {
          stopped = answer === false;
          continue;
        }
      }
      m = withHead(last, buf.toString('latin1', start, tail - 1));
    } else {
      const known = tail === -1 ? null : (memo?.find(buf, tail, after) ?? null);
      m =
        known === null
          ? parseMapsLine(buf.toString('utf8', start, after))
          : withHead(known, buf.toString('latin1', start, tail - 1));
      if (m !== null && known === null && tail !== -1) memo?.add(buf, tail, after, m);
      if (m !== null) {
        last = tail === -1 ? null : m;
        lastTail = tail;
        lastEnd = after;
      }
    }
    // Only a visited line's file may be answered by `again` (one that was not visited is not
    // the file `again` knows about).
    lastVisited = m?.deleted === true && m.inode !== 0 && m.path.startsWith('/');
    if (lastVisited && m) stopped = visit(m) === false;
  }
}

// The typed array's own searches for one byte: Buffer's versions validate their arguments in
// JavaScript first, which cost more than the search on a line of 100 bytes.
const u8IndexOf = Uint8Array.prototype.indexOf;
const u8LastIndexOf = Uint8Array.prototype.lastIndexOf;

/** Whether the `n` bytes of `a` at `aAt` equal those of `b` at `bAt`. */
function sameBytes(a: Uint8Array, aAt: number, b: Uint8Array, bAt: number, n: number): boolean {
  for (let i = 0; i < n; i++) if (a[aAt + i] !== b[bAt + i]) return false;
  return true;
}

/** The start of x86-64's vsyscall page line: the kernel's gate VMA, printed after every mapping
 *  (no user mapping can start at that address). */
const GATE_LINE = Buffer.from('ffffffffff600000-ffffffffff601000 ', 'latin1');

/**
 * Whether the first `len` bytes of a maps file end with its gate VMA line, i.e. hold the whole
 * file: the read that would return 0 is not needed (one syscall per process). False on other
 * architectures and kernels without it: the file is then read to its end.
 */
export function endsWithGateLine(buf: Uint8Array, len: number): boolean {
  if (len <= GATE_LINE.length || buf[len - 1] !== 10) return false;
  const start = u8LastIndexOf.call(buf, 10, len - 2) + 1; // 0 when it is the only line
  return len - start > GATE_LINE.length && sameBytes(buf, start, GATE_LINE, 0, GATE_LINE.length);
}

/** Whether the bytes before `end` are " (deleted)". */
function endsWithDeleted(buf: Buffer, end: number): boolean {
  return sameBytes(buf, end - DELETED_BYTES.length, DELETED_BYTES, 0, DELETED_BYTES.length);
}

/**
 * Where the device field of the maps line [start, end) begins (after three single spaces), or -1
 * when the head (range, perms, offset) is not plain ASCII: then the line is parsed in full.
 */
function tailStart(buf: Buffer, start: number, end: number): number {
  let spaces = 0;
  for (let i = start; i < end; i++) {
    const c = buf[i] as number;
    if (c >= 128) return -1;
    if (c === 32 && ++spaces === 3) return i + 1;
  }
  return -1;
}

/**
 * The last few byte strings seen by one thread, each with what was made of it: after an upgrade
 * thousands of processes map the same few deleted files and run the same few programs, and a
 * line that names one again is not decoded and split again (its path is then the same string,
 * whose hash the maps and sets that key on it have computed already). For deleted files the
 * bytes are a maps line's device, inode and path (`MappedFiles`); for executables, the path.
 */
export class RecentBytes<T> {
  static readonly SIZE = 8;
  readonly #bytes: Buffer[] = [];
  readonly #made: T[] = [];
  #next = 0;

  /** What was made of the bytes of `buf` in [from, end), or undefined when they were not seen. */
  find(buf: Uint8Array, from: number, end: number): T | undefined {
    const n = end - from;
    for (let i = 0; i < this.#bytes.length; i++) {
      const t = this.#bytes[i] as Buffer;
      if (t.length === n && sameBytes(t, 0, buf, from, n)) return this.#made[i];
    }
    return undefined;
  }

  add(buf: Uint8Array, from: number, end: number, made: T): void {
    const i = this.#next;
    this.#next = (i + 1) % RecentBytes.SIZE;
    this.#bytes[i] = Buffer.from(buf.subarray(from, end));
    this.#made[i] = made;
  }
}

/** The deleted files a thread parsed last (see forEachDeleted's `memo`). */
export class MappedFiles extends RecentBytes<Mapping> {}

/** `prev` with the range, perms and offset of `head` ("start-end perms offset"); null when the
 *  head is not well-formed (as parseMapsLine would say). */
function withHead(prev: Mapping, head: string): Mapping | null {
  const sp1 = head.indexOf(' ');
  const sp2 = head.indexOf(' ', sp1 + 1);
  const dash = head.indexOf('-');
  if (sp1 === -1 || sp2 !== sp1 + 5 || dash <= 0 || dash > sp1) return null;
  return {
    start: head.slice(0, dash),
    end: head.slice(dash + 1, sp1),
    perms: head.slice(sp1 + 1, sp2),
    offset: head.slice(sp2 + 1),
    device: prev.device,
    inode: prev.inode,
    path: prev.path,
    deleted: prev.deleted,
  };
}

/**
 * The name of a mapping's entry in /proc/PID/map_files: the range as `%lx-%lx`, i.e. the maps
 * field without the zero padding maps prints (`00400000-00452000` → `400000-452000`).
 */
export function mapFilesName(m: Pick<Mapping, 'start' | 'end'>): string {
  return `${trimZeros(m.start)}-${trimZeros(m.end)}`;
}

/**
 * `hex` without the zeros that lead a lowercase hex digit (as /^0+(?=[0-9a-f])/ would strip):
 * a loop, once per stale file, where two regular expressions and a closure cost ~1 µs cold.
 */
function trimZeros(hex: string): string {
  let i = 0;
  while (i + 1 < hex.length && hex.charCodeAt(i) === 48 && isLowerHexDigit(hex.charCodeAt(i + 1)))
    i++;
  return i === 0 ? hex : hex.slice(i);
}

function isLowerHexDigit(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 97 && c <= 102);
}

/** A mapping with `x` permission runs code; anything else is data. */
export function isCode(m: Mapping): boolean {
  return m.perms.charCodeAt(2) === 120;
}
