// Turns what the threads read about interpreter processes into findings (docs/interpreted.md).
// `loaded` evidence needs nothing but the reads; `package` evidence needs the package database:
// the owner of the program file, that package's file list, and a stat() of its code files.
import { readdirSync, statSync } from 'node:fs';
import { readFileBounded } from '../procfs/reader.ts';
import type { InterpretedEvidence, PackageRef } from '../scan/model.ts';
import { changedAfterStart, hostPathOf, isPackageCodePath } from './detect.ts';
import type { FileStat, RawInterp } from './read.ts';
import { toFileStat } from './read.ts';

/** A finding, shaped like a stale file (the scan turns it into one). */
export interface InterpFinding {
  /** As the process sees it. */
  path: string;
  inode: number;
  device: string;
  evidence: InterpretedEvidence;
}

/** At most this many changed files are reported per package and process (a big upgrade changes
 *  thousands; one is enough to say the package changed under the process). */
export const MAX_PACKAGE_FILES = 8;

function iso(ms: number): string {
  return new Date(Math.floor(ms)).toISOString();
}

/**
 * Findings that need no package database: the program file (script/jar) and files held open.
 * `isNoise` drops paths the noise rules filter (e.g. scripts under /tmp).
 */
export function loadedFindings(
  p: RawInterp,
  isNoise: (path: string) => string | null,
): InterpFinding[] {
  const out = new Map<string, InterpFinding>();
  const startedAt = iso(p.startMs);
  const mapped = new Set(p.mapped);
  const add = (
    path: string,
    st: FileStat,
    reason: InterpretedEvidence['reason'],
    confidence: InterpretedEvidence['confidence'],
  ) => {
    if (out.has(path) || mapped.has(path) || isNoise(path) !== null) return;
    out.set(path, {
      path,
      inode: st.inode,
      device: st.device,
      evidence: {
        interpreter: p.interpreter,
        confidence,
        reason,
        changedAt: iso(st.ctimeMs),
        startedAt,
      },
    });
  };
  for (const f of p.openFiles) {
    if (f.stat.nlink === 0 || changedAfterStart(f.stat.ctimeMs, p.startMs)) {
      add(f.path, f.stat, 'open-file', 'loaded');
    }
  }
  if (
    p.programPath !== null &&
    p.programStat &&
    changedAfterStart(p.programStat.ctimeMs, p.startMs)
  ) {
    if (p.program.type === 'module') add(p.programPath, p.programStat, 'module', 'package');
    else add(p.programPath, p.programStat, 'script', 'loaded');
  }
  return [...out.values()];
}

/** Where no package installs files: their owners are not looked up (docs/interpreted.md). */
const UNPACKAGED = /^\/(?:home|root|tmp|var\/tmp|run|dev|proc|sys)\//;

/** Host paths whose owning package the `package` evidence needs (only for host processes). */
export function ownerQueries(
  p: RawInterp,
  onHost: boolean,
  isNoise: (path: string) => string | null = () => null,
): string[] {
  if (!onHost || p.root !== '/') return [];
  const paths = p.programPath === null ? [] : [p.programPath];
  for (const f of p.openFiles) if (f.stat.nlink > 0) paths.push(f.path);
  return paths
    .filter((x) => !UNPACKAGED.test(x) && isNoise(x) === null)
    .map((x) => hostPathOf(x, p.root));
}

/** Reads dpkg's file lists and stats package files, each at most once per scan. */
export class PackageFiles {
  readonly #infoDir: string;
  readonly #root: string;
  #listNames: string[] | null = null;
  #infoMtimeMs: number | null | undefined;
  readonly #files = new Map<string, string[]>();
  readonly #stats = new Map<string, FileStat | null>();

  /** `root` is "" for the host, else a prefix without a trailing slash. */
  constructor(root: string) {
    this.#root = root;
    this.#infoDir = `${root}/var/lib/dpkg/info`;
  }

  /**
   * Whether dpkg may have installed or upgraded anything after `startMs`: dpkg renames each
   * package's new `.list` into its info directory, so the directory's mtime is at least the
   * ctime of every file it unpacked. One stat() instead of a database pass for processes
   * started after the last package change. True when it cannot tell.
   */
  changedAfter(startMs: number): boolean {
    if (this.#infoMtimeMs === undefined) {
      try {
        this.#infoMtimeMs = statSync(this.#infoDir).mtimeMs;
      } catch {
        this.#infoMtimeMs = null;
      }
    }
    return this.#infoMtimeMs === null || changedAfterStart(this.#infoMtimeMs, startMs);
  }

  /** Code files (by extension) of an installed dpkg package; [] when unknown. */
  codeFiles(pkg: PackageRef): string[] {
    if (pkg.manager !== 'dpkg') return [];
    const cached = this.#files.get(pkg.name);
    if (cached) return cached;
    const files: string[] = [];
    for (const list of this.#listFilesOf(pkg.name)) {
      let text: string;
      try {
        text = readFileBounded(`${this.#infoDir}/${list}`).toString('utf8');
      } catch {
        continue;
      }
      for (const line of text.split('\n')) if (isPackageCodePath(line)) files.push(line);
    }
    this.#files.set(pkg.name, files);
    return files;
  }

  stat(path: string): FileStat | null {
    if (this.#stats.has(path)) return this.#stats.get(path) ?? null;
    let st: FileStat | null = null;
    try {
      const s = statSync(`${this.#root}${path}`);
      if (s.isFile()) st = toFileStat(s);
    } catch {
      st = null;
    }
    this.#stats.set(path, st);
    return st;
  }

  /** `name.list`, or `name:arch.list` (a ref named `name:arch` names one of them). */
  #listFilesOf(name: string): string[] {
    if (this.#listNames === null) {
      try {
        this.#listNames = readdirSync(this.#infoDir).filter((n) => n.endsWith('.list'));
      } catch {
        this.#listNames = [];
      }
    }
    if (name.includes(':')) return this.#listNames.filter((n) => n === `${name}.list`);
    return this.#listNames.filter((n) => n === `${name}.list` || n.startsWith(`${name}:`));
  }
}

/**
 * `package` findings: code files of the packages owning the program file (or a file held open)
 * that changed after the process started, excluding paths already reported.
 */
export function packageFindings(
  p: RawInterp,
  owners: ReadonlyMap<string, PackageRef>,
  files: PackageFiles,
  already: ReadonlySet<string>,
  isNoise: (path: string) => string | null,
): { finding: InterpFinding; pkg: PackageRef }[] {
  const pkgs = new Map<string, PackageRef>();
  for (const q of ownerQueries(p, true, isNoise)) {
    const ref = owners.get(q);
    if (ref) pkgs.set(ref.name, ref);
  }
  const startedAt = iso(p.startMs);
  // A file the process maps is judged by its mapping alone (deleted: stale; else current).
  const mapped = new Set(p.mapped);
  const out: { finding: InterpFinding; pkg: PackageRef }[] = [];
  for (const pkg of pkgs.values()) {
    let n = 0;
    for (const path of files.codeFiles(pkg)) {
      if (n >= MAX_PACKAGE_FILES) break;
      if (already.has(path) || mapped.has(path) || isNoise(path) !== null) continue;
      const st = files.stat(path);
      if (!st || !changedAfterStart(st.ctimeMs, p.startMs)) continue;
      n++;
      out.push({
        pkg,
        finding: {
          path,
          inode: st.inode,
          device: st.device,
          evidence: {
            interpreter: p.interpreter,
            confidence: 'package',
            reason: 'package-file',
            changedAt: iso(st.ctimeMs),
            startedAt,
          },
        },
      });
    }
  }
  return out;
}
