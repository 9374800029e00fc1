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
  // A view bounded to this file: the shared buffer holds stale bytes beyond it.
  const buf = buffer.subarray(0, len);
  let from = 0;
  for (;;) {
    const hit = buf.indexOf(DELETED_BYTES, from);
    if (hit === -1) return out;
    const after = hit + DELETED.length;
    from = after;
    // Only a suffix counts: " (deleted)" inside a path is not the kernel's marker.
    if (after < len && buf[after] !== 10) continue;
    const start = hit === 0 ? 0 : buf.lastIndexOf(10, hit - 1) + 1;
    const m = parseMapsLine(buf.toString('utf8', start, after));
    if (m?.deleted && m.inode !== 0 && m.path.startsWith('/')) out.push(m);
  }
}

/** A mapping with `x` permission runs code; anything else is data. */
export function isCode(m: Mapping): boolean {
  return m.perms.charCodeAt(2) === 120;
}
