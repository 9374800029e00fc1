// dpkg ownership: the `.list` files in <root>/var/lib/dpkg/info name each package's paths, `status`
// gives versions, `diversions` says which package's copy of a path really sits where.

import { Buffer } from 'node:buffer';
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { setImmediate } from 'node:timers/promises';
import { errnoCode } from '../errors.ts';
import { RefusedFileError, readFileBounded } from '../procfs/reader.ts';
import type { PackageRef } from '../scan/model.ts';
import type { LookupOptions, PackageDb } from './db.ts';
import { candidatePaths } from './usrmerge.ts';

/** Third word of `Status:` for packages whose files are on disk (not `not-installed`/`config-files`). */
const FILES_ON_DISK: ReadonlySet<string> = new Set([
  'installed',
  'triggers-pending',
  'triggers-awaited',
  'half-configured',
  'unpacked',
  'half-installed',
]);

/** The most of dpkg's status file read (a FIFO or device there is refused, never waited on). */
export const MAX_STATUS_BYTES = 64 * 1024 * 1024;

/** `.list` files read between two turns of the event loop. */
const LIST_FILES_PER_TICK = 128;

export interface InstalledPackage {
  name: string;
  arch: string;
  version: string;
}

/** Installed packages from the status file, found by the name of their `.list` file. */
export class StatusIndex {
  readonly #byName = new Map<string, InstalledPackage[]>();

  add(pkg: InstalledPackage): void {
    const same = this.#byName.get(pkg.name);
    if (same) same.push(pkg);
    else this.#byName.set(pkg.name, [pkg]);
  }

  /** The package of a `.list` file named `pkg` or `pkg:arch` (without `.list`); null when not installed. */
  resolve(listName: string): PackageRef | null {
    const colon = listName.indexOf(':');
    const name = colon === -1 ? listName : listName.slice(0, colon);
    const all = this.#byName.get(name);
    if (!all) return null;
    const pkg = colon === -1 ? all[0] : all.find((p) => p.arch === listName.slice(colon + 1));
    if (!pkg) return null;
    // `libssl3:amd64` is just `libssl3` unless another architecture of it is installed too.
    const shown = all.length > 1 ? `${pkg.name}:${pkg.arch}` : pkg.name;
    return { name: shown, version: pkg.version, manager: 'dpkg' };
  }
}

/** Parses `/var/lib/dpkg/status` (RFC 822-like stanzas), keeping packages whose files are on disk. */
export function parseStatus(text: string): StatusIndex {
  const index = new StatusIndex();
  let fields = new Map<string, string>();
  const flush = (): void => {
    const pkg = installedPackage(fields);
    if (pkg) index.add(pkg);
    fields = new Map();
  };
  for (const line of text.split('\n')) {
    if (line.trim() === '') flush();
    else if (line[0] !== ' ' && line[0] !== '\t') addField(fields, line);
  }
  flush();
  return index;
}

function addField(fields: Map<string, string>, line: string): void {
  const colon = line.indexOf(':');
  if (colon > 0) fields.set(line.slice(0, colon), line.slice(colon + 1).trim());
}

function installedPackage(fields: Map<string, string>): InstalledPackage | null {
  const name = fields.get('Package');
  const version = fields.get('Version');
  const state = fields.get('Status')?.split(/\s+/)[2];
  if (!name || !version || state === undefined || !FILES_ON_DISK.has(state)) return null;
  return { name, arch: fields.get('Architecture') ?? '', version };
}

/** The status file's stanzas of these packages (every architecture), as one status text. */
export function stanzasOf(text: string, names: readonly string[]): string {
  const out: string[] = [];
  for (const name of new Set(names)) {
    const needle = `Package: ${name}\n`;
    for (let at = text.indexOf(needle); at !== -1; at = text.indexOf(needle, at + 1)) {
      if (at > 0 && text[at - 1] !== '\n') continue;
      // The whole stanza: dpkg writes Package first, other writers may not.
      const before = at === 0 ? -1 : text.lastIndexOf('\n\n', at - 1);
      const end = text.indexOf('\n\n', at);
      out.push(text.slice(before === -1 ? 0 : before + 2, end === -1 ? text.length : end));
    }
  }
  return out.join('\n\n');
}

/** One `dpkg-divert` entry: files other than `by`'s own copy of `from` are installed at `to`. */
export interface Diversion {
  from: string;
  to: string;
  /** Package whose copy is not diverted; `:` for a local (administrator's) diversion. */
  by: string;
}

export interface Diversions {
  byFrom: Map<string, Diversion>;
  byTo: Map<string, Diversion>;
}

/** Parses `/var/lib/dpkg/diversions`: three lines per entry (from, to, package). */
export function parseDiversions(text: string): Diversions {
  const lines = text.split('\n');
  const out: Diversions = { byFrom: new Map(), byTo: new Map() };
  for (let i = 0; i + 2 < lines.length; i += 3) {
    const [from, to, by] = lines.slice(i, i + 3);
    if (!from || !to || !by) continue;
    const d: Diversion = { from, to, by };
    out.byFrom.set(from, d);
    out.byTo.set(to, d);
  }
  return out;
}

/**
 * Up to this many wanted paths, each is looked for in a `.list` file's bytes by a native search;
 * beyond, the lines are compared with the set (one pass whatever the count). A scan runs this
 * once, before V8 has optimized the line loop: for 4 paths in 8.4 MB of lists, ~50 ms by search
 * against ~90 ms line by line on a cold start (warm, both ~20 ms).
 */
const MAX_SEARCHED_PATHS = 16;

/** For each wanted path, the names (without `.list`) of the `.list` files that record it, sorted. */
export async function scanListFiles(
  infoDir: string,
  wanted: ReadonlySet<string>,
): Promise<Map<string, string[]>> {
  const found = new Map<string, string[]>();
  if (wanted.size === 0) return found;
  const names = (await readDb(infoDir, () => readdir(infoDir))).filter((n) => n.endsWith('.list'));
  const matcher =
    wanted.size <= MAX_SEARCHED_PATHS ? new PathSearch(wanted) : new LineMatcher(wanted);
  const reader = new ListReader();
  for (let i = 0; i < names.length; i++) {
    // Synchronous reads are 3-4x faster than readFile here; yield now and then to stay responsive.
    if (i > 0 && i % LIST_FILES_PER_TICK === 0) await setImmediate();
    const name = names[i] as string;
    const lines = reader.read(`${infoDir}/${name}`);
    if (lines !== null) matcher.collect(lines, name.slice(0, -'.list'.length), found);
  }
  for (const owners of found.values()) owners.sort();
  return found;
}

interface ListMatcher {
  collect(lines: Buffer, listName: string, found: Map<string, string[]>): void;
}

function addOwner(found: Map<string, string[]>, path: string, listName: string): void {
  const owners = found.get(path);
  if (!owners) found.set(path, [listName]);
  // A path listed twice in one file is one owner.
  else if (owners.at(-1) !== listName) owners.push(listName);
}

/** Few wanted paths: a search for each path as a whole line, on the bytes as dpkg wrote them. */
class PathSearch implements ListMatcher {
  readonly #paths: { path: string; line: Buffer }[];

  constructor(wanted: ReadonlySet<string>) {
    this.#paths = [...wanted].map((path) => ({ path, line: Buffer.from(`\n${path}\n`) }));
  }

  collect(lines: Buffer, listName: string, found: Map<string, string[]>): void {
    for (const p of this.#paths) if (lines.includes(p.line)) addOwner(found, p.path, listName);
  }
}

/**
 * Reads `.list` files into one reused buffer (readFileSync allocated, and stat'ed, per file),
 * framed by a newline on each side: every line, the first and the last too, reads `\nPATH\n`.
 */
class ListReader {
  #buf = Buffer.allocUnsafe(256 * 1024);

  /** The file's bytes, framed; null when it vanished (dpkg removed the package meanwhile). */
  read(path: string): Buffer | null {
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return null;
      throw dbError(path, e);
    }
    try {
      let len = 0;
      for (;;) {
        // Room for the closing newline is always kept.
        if (len + 2 >= this.#buf.length) this.#grow();
        const n = readSync(fd, this.#buf, 1 + len, this.#buf.length - 2 - len, null);
        if (n === 0) break;
        len += n;
      }
      this.#buf[0] = 0x0a;
      this.#buf[len + 1] = 0x0a;
      return this.#buf.subarray(0, len + 2);
    } catch (e) {
      throw dbError(path, e);
    } finally {
      closeSync(fd);
    }
  }

  #grow(): void {
    const bigger = Buffer.allocUnsafe(this.#buf.length * 2);
    this.#buf.copy(bigger);
    this.#buf = bigger;
  }
}

/**
 * Many wanted paths: the lines of a `.list` file compared with the set. Text is compared as
 * latin1 (one char per byte: exact for any byte sequence and cheaper to decode than UTF-8), and
 * only lines whose length matches some wanted path are sliced out at all.
 */
class LineMatcher implements ListMatcher {
  /** latin1 form of each wanted path → the path as asked. */
  readonly #wanted = new Map<string, string>();
  readonly #lengths = new Set<number>();

  constructor(wanted: ReadonlySet<string>) {
    for (const path of wanted) {
      const bytes = Buffer.from(path, 'utf8').toString('latin1');
      this.#wanted.set(bytes, path);
      this.#lengths.add(bytes.length);
    }
  }

  collect(lines: Buffer, listName: string, found: Map<string, string[]>): void {
    const text = lines.toString('latin1', 1, lines.length - 1);
    for (let start = 0; start < text.length; ) {
      let end = text.indexOf('\n', start);
      if (end === -1) end = text.length;
      const path = this.#lengths.has(end - start)
        ? this.#wanted.get(text.slice(start, end))
        : undefined;
      if (path !== undefined) addOwner(found, path, listName);
      start = end + 1;
    }
  }
}

/** The package name of a `.list` name (`libssl3:amd64` → `libssl3`), as diversions record it. */
function packageName(listName: string): string {
  const colon = listName.indexOf(':');
  return colon === -1 ? listName : listName.slice(0, colon);
}

/** `.list` names whose copy of `path` is the file that really sits at `path`, diversions applied. */
export function ownersAt(
  path: string,
  listed: ReadonlyMap<string, string[]>,
  diversions: Diversions,
): string[] {
  const owners: string[] = [];
  const into = diversions.byTo.get(path);
  if (into) {
    for (const l of listed.get(into.from) ?? []) if (packageName(l) !== into.by) owners.push(l);
  }
  const away = diversions.byFrom.get(path);
  for (const l of listed.get(path) ?? []) {
    if (!away || packageName(l) === away.by) owners.push(l);
  }
  return owners;
}

export class DpkgDb implements PackageDb {
  readonly manager = 'dpkg' as const;
  readonly #dir: string;

  /** `root` is "" for the host, else a directory prefix without a trailing slash. */
  constructor(root: string) {
    this.#dir = `${root}/var/lib/dpkg`;
  }

  async lookup(
    paths: readonly string[],
    options: LookupOptions = {},
  ): Promise<Map<string, PackageRef>> {
    const result = new Map<string, PackageRef>();
    if (paths.length === 0) return result;
    // Nothing awaited before the search starts: given elsewhere, it runs while this thread goes
    // on with its own work (the caller's, until it awaits this lookup).
    const diversions = this.#diversions();
    const wanted = wantedPaths(paths, diversions);
    const search = searchLists(`${this.#dir}/info`, wanted, options.listSearch);
    search.catch(() => {});
    // The status file's error first when both fail: it is the one that says the most.
    const statusText = this.#statusText();
    const listed = await search;
    // Only the owners' stanzas are parsed, not the whole file (~30 ms for 1,000 packages).
    const owners = new Set<string>();
    for (const lists of listed.values()) for (const l of lists) owners.add(packageName(l));
    const status = parseStatus(stanzasOf(statusText, [...owners]));
    for (const path of paths) {
      const ref = resolvePath(path, listed, diversions, status);
      if (ref) result.set(path, ref);
    }
    return result;
  }

  /**
   * Read synchronously (~1 MB, 1-4 ms): read with fs.promises it took six turns of the event
   * loop, which a scan's thread gives only once its own work is done — 16-23 ms after the
   * search had answered, at 10,000 stale processes.
   */
  #statusText(): string {
    const path = `${this.#dir}/status`;
    try {
      return readFileBounded(path, MAX_STATUS_BYTES).toString('utf8');
    } catch (e) {
      throw dbError(path, e);
    }
  }

  /** Read synchronously: a few lines, needed before the search can start. */
  #diversions(): Diversions {
    const path = `${this.#dir}/diversions`;
    try {
      return parseDiversions(readFileSync(path, 'utf8'));
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return parseDiversions('');
      throw dbError(path, e);
    }
  }
}

/** scanListFiles, run elsewhere when that is given and works, else here. */
async function searchLists(
  infoDir: string,
  wanted: ReadonlySet<string>,
  elsewhere: LookupOptions['listSearch'],
): Promise<Map<string, string[]>> {
  if (elsewhere !== undefined && wanted.size > 0) {
    try {
      return await elsewhere(infoDir, wanted);
    } catch {
      // The other thread failed or is gone: searched here, which says what is wrong if anything.
    }
  }
  return scanListFiles(infoDir, wanted);
}

/** Every path a `.list` file may record for the asked paths: merged-/usr aliases and diversion sources. */
function wantedPaths(paths: readonly string[], diversions: Diversions): Set<string> {
  const wanted = new Set<string>();
  for (const path of paths) {
    for (const c of candidatePaths(path)) {
      wanted.add(c);
      const into = diversions.byTo.get(c);
      if (into) wanted.add(into.from);
    }
  }
  return wanted;
}

function resolvePath(
  path: string,
  listed: ReadonlyMap<string, string[]>,
  diversions: Diversions,
  status: StatusIndex,
): PackageRef | null {
  for (const c of candidatePaths(path)) {
    for (const listName of ownersAt(c, listed, diversions)) {
      const ref = status.resolve(listName);
      if (ref) return ref;
    }
  }
  return null;
}

async function readDb<T>(path: string, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (e) {
    throw dbError(path, e);
  }
}

function dbError(path: string, cause: unknown): Error {
  // A FIFO, socket or device, or a file over the bound: its own words say which.
  if (cause instanceof RefusedFileError && cause.code === 'EREFUSED')
    return new Error(`cannot read the dpkg database: ${cause.message}`, { cause });
  const code = errnoCode(cause) ?? String(cause);
  return new Error(`cannot read the dpkg database: ${path}: ${code}`, { cause });
}
