// Which package shipped a file: one interface over dpkg and rpm (see docs/packages.md).

import { constants } from 'node:fs';
import { access, readdir, stat } from 'node:fs/promises';
import { delimiter, join, resolve } from 'node:path';
import type { PackageRef } from '../scan/model.ts';
import { DpkgDb } from './dpkg.ts';
import { RpmDb } from './rpm.ts';

export interface PackageDb {
  readonly manager: 'dpkg' | 'rpm';
  /** Owner of each path (absolute, host paths). Paths not owned are absent from the map. Never throws for
   *  unowned paths; rejects only on a real failure (unreadable database), with an Error whose message is one clear line. */
  lookup(paths: readonly string[], options?: LookupOptions): Promise<Map<string, PackageRef>>;
}

export interface LookupOptions {
  /**
   * dpkg's search of its `.list` files run elsewhere (a scan thread, src/scan/parallel.ts), the
   * way scanListFiles does it; when it fails, the search runs here. rpm has no use for it.
   */
  listSearch?:
    | ((infoDir: string, wanted: ReadonlySet<string>) => Promise<Map<string, string[]>>)
    | undefined;
}

export interface PackageDbOptions {
  /** A file-system root prefix for tests ("" or "/" = host). */
  root?: string | undefined;
}

/** Database directories rpm uses, newest layout first (paths inside the root). */
const RPM_DB_DIRS: readonly string[] = ['/usr/lib/sysimage/rpm', '/var/lib/rpm'];
/** Files that make a directory a real rpm database: sqlite (rpm ≥ 4.16), ndb (SUSE), Berkeley DB. */
const RPM_DB_FILES: readonly string[] = ['rpmdb.sqlite', 'Packages.db', 'Packages'];

/** dpkg when <root>/var/lib/dpkg/status exists, else rpm when an rpm database exists (<root>/var/lib/rpm or
 *  <root>/usr/lib/sysimage/rpm) and the `rpm` binary is on PATH, else null. */
export async function openPackageDb(options: PackageDbOptions = {}): Promise<PackageDb | null> {
  const root = normalizeRoot(options.root);
  if (await exists(`${root}/var/lib/dpkg/status`)) return new DpkgDb(root);
  const dbPath = await findRpmDbDir(root);
  if (dbPath === null) return null;
  const rpmBinary = await findOnPath('rpm');
  if (rpmBinary === null) return null;
  return new RpmDb({ root, dbPath, rpmBinary });
}

/** "" for the host; otherwise the absolute root without a trailing slash, so `${root}${absPath}` is a path. */
export function normalizeRoot(root: string | undefined): string {
  if (root === undefined || root === '') return '';
  return resolve(root).replace(/\/+$/, '');
}

/** The rpm database directory (inside the root) that holds a database file, or null. */
export async function findRpmDbDir(root: string): Promise<string | null> {
  for (const dir of RPM_DB_DIRS) {
    const names = await readdir(`${root}${dir}`).catch(() => [] as string[]);
    if (names.some((n) => RPM_DB_FILES.includes(n))) return dir;
  }
  return null;
}

/** Absolute path of an executable `name` in $PATH, or null. */
export async function findOnPath(name: string): Promise<string | null> {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir.startsWith('/')) continue; // a relative PATH entry would depend on the working directory
    const candidate = join(dir, name);
    if ((await isFile(candidate)) && (await exists(candidate, constants.X_OK))) return candidate;
  }
  return null;
}

async function isFile(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isFile(),
    () => false,
  );
}

async function exists(path: string, mode: number = constants.F_OK): Promise<boolean> {
  try {
    await access(path, mode);
    return true;
  } catch {
    return false;
  }
}
