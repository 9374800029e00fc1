// rpm ownership: `rpm -qf` in batches, run directly (argument array, never a shell).

import { execFile } from 'node:child_process';
import type { PackageRef } from '../scan/model.ts';
import type { PackageDb } from './db.ts';
import { usrMergeAliases } from './usrmerge.ts';

const QUERY_FORMAT = '%{NAME}\t%{EPOCH}:%{VERSION}-%{RELEASE}\n';
const OWNER_LINE = /^(\S+)\t(\S+):(\S+)$/;
const NOT_OWNED_LINE = /^file (.+) is not owned by any package$/;
const FILE_ERROR_PREFIX = 'error: file ';
const DEFAULT_BATCH = 200;
const MAX_OUTPUT = 64 * 1024 * 1024;

export interface RpmDbOptions {
  /** "" for the host, else a directory prefix without a trailing slash (passed as `--root`). */
  root: string;
  /** Database directory inside the root; passed as `--dbpath` when a root is set. */
  dbPath: string;
  /** Absolute path of the rpm binary. */
  rpmBinary: string;
  /** Paths per `rpm -qf` call. */
  batchSize?: number;
}

/** What one `rpm -qf` call told about its arguments. */
export interface RpmQueryResult {
  /** Owners of each owned argument, in rpm's order. */
  owners: Map<string, PackageRef[]>;
  /** Arguments whose output lines could not be told apart from their neighbours'; ask again one by one. */
  ambiguous: string[];
  /** "not owned" and "error: file" lines: each counts towards rpm's non-zero exit status. */
  failed: number;
}

export class RpmDb implements PackageDb {
  readonly manager = 'rpm' as const;
  readonly #options: RpmDbOptions;
  /** Number of rpm processes run so far (for tests and measurements). */
  calls = 0;

  constructor(options: RpmDbOptions) {
    this.#options = options;
  }

  async lookup(paths: readonly string[]): Promise<Map<string, PackageRef>> {
    // rpm would resolve a relative name against its working directory, and a newline would split
    // its one-line answers; neither can name a packaged file.
    const unique = [...new Set(paths)].filter((p) => p.startsWith('/') && !p.includes('\n'));
    const result = await this.#queryAll(unique);
    // rpm resolves symlinked directories on the host only, so try merged-/usr names ourselves.
    const aliasOf = new Map<string, string>();
    for (const path of unique) {
      if (result.has(path)) continue;
      for (const alias of usrMergeAliases(path)) if (!aliasOf.has(alias)) aliasOf.set(alias, path);
    }
    const viaAlias = await this.#queryAll([...aliasOf.keys()]);
    for (const [alias, ref] of viaAlias) {
      const path = aliasOf.get(alias);
      if (path !== undefined && !result.has(path)) result.set(path, ref);
    }
    return result;
  }

  async #queryAll(paths: readonly string[]): Promise<Map<string, PackageRef>> {
    const result = new Map<string, PackageRef>();
    const size = this.#options.batchSize ?? DEFAULT_BATCH;
    for (let i = 0; i < paths.length; i += size) {
      const batch = paths.slice(i, i + size);
      const first = await this.#query(batch);
      addFirstOwners(result, first.owners);
      for (const path of first.ambiguous)
        addFirstOwners(result, (await this.#query([path])).owners);
    }
    return result;
  }

  async #query(paths: readonly string[]): Promise<RpmQueryResult> {
    const { code, stdout, stderr } = await this.#run(paths);
    const result = parseRpmQueryOutput(paths, stdout, stderr);
    // rpm exits non-zero for unowned files; with none of those, it failed some other way (bad option).
    if (code !== 0 && result.failed === 0) {
      const why = stderr.split('\n').find((l) => l.trim() !== '') ?? 'no message';
      throw new Error(`rpm -qf failed with exit status ${code}: ${why}`);
    }
    return result;
  }

  #run(paths: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    const { root, dbPath, rpmBinary } = this.#options;
    const args = root === '' ? [] : ['--root', root, '--dbpath', dbPath];
    args.push('-qf', '--queryformat', QUERY_FORMAT, '--', ...paths);
    this.calls++;
    // LC_ALL=C: the "not owned" and "error: file" lines are parsed, so they must not be translated.
    const env = { ...process.env, LC_ALL: 'C' };
    return new Promise((resolve, reject) => {
      execFile(rpmBinary, args, { env, maxBuffer: MAX_OUTPUT }, (error, stdout, stderr) => {
        // A non-zero exit only counts unowned/missing files; real failures show up in stderr.
        if (error && typeof error.code !== 'number') {
          reject(new Error(`cannot run ${rpmBinary}: ${error.message.split('\n')[0]}`));
        } else resolve({ code: typeof error?.code === 'number' ? error.code : 0, stdout, stderr });
      });
    });
  }
}

function addFirstOwners(result: Map<string, PackageRef>, owners: Map<string, PackageRef[]>): void {
  for (const [path, refs] of owners) {
    const first = refs[0];
    if (first && !result.has(path)) result.set(path, first);
  }
}

/**
 * Maps `rpm -qf` output back to its arguments. rpm answers each argument in order: one
 * `NAME\tEPOCH:VERSION-RELEASE` line per owning package, or `file P is not owned by any package`
 * (stdout), or `error: file P: reason` (stderr, nothing on stdout). The "not owned" lines split
 * stdout into runs; a run of n owned arguments with n lines is one owner each, a run of one
 * argument owns all its lines, anything else is ambiguous. Throws when rpm itself failed.
 */
export function parseRpmQueryOutput(
  args: readonly string[],
  stdout: string,
  stderr: string,
): RpmQueryResult {
  const missing = missingArgs(args, stderr);
  const result: RpmQueryResult = { owners: new Map(), ambiguous: [], failed: missing.errors };
  let run: string[] = [];
  let lines: PackageRef[] = [];
  let next = 0;
  const takeUntil = (stop: number): void => {
    for (; next < stop; next++) {
      const arg = args[next];
      if (arg !== undefined && !missing.has(arg)) run.push(arg);
    }
  };
  for (const line of stdout.split('\n')) {
    if (line === '') continue;
    const owner = parseOwnerLine(line);
    if (owner) {
      lines.push(owner);
      continue;
    }
    const unowned = NOT_OWNED_LINE.exec(line)?.[1];
    if (unowned !== undefined) result.failed++;
    const at = unowned === undefined ? -1 : args.indexOf(unowned, next);
    if (at === -1) {
      // Output we do not understand: trust nothing from here on.
      takeUntil(args.length);
      result.ambiguous.push(...run);
      return result;
    }
    takeUntil(at);
    next = at + 1;
    assignRun(run, lines, result);
    run = [];
    lines = [];
  }
  takeUntil(args.length);
  assignRun(run, lines, result);
  return result;
}

function parseOwnerLine(line: string): PackageRef | null {
  const m = OWNER_LINE.exec(line);
  if (!m) return null;
  const [, name, epoch, version] = m;
  if (name === undefined || epoch === undefined || version === undefined) return null;
  const full = epoch === '(none)' ? version : `${epoch}:${version}`;
  return { name, version: full, manager: 'rpm' };
}

function assignRun(
  run: readonly string[],
  lines: readonly PackageRef[],
  out: RpmQueryResult,
): void {
  const [only] = run;
  if (run.length === 1 && only !== undefined && lines.length > 0) {
    out.owners.set(only, [...lines]);
  } else if (run.length === lines.length) {
    run.forEach((arg, i) => {
      const ref = lines[i];
      if (ref) out.owners.set(arg, [ref]);
    });
  } else {
    out.ambiguous.push(...run);
  }
}

/** Arguments rpm reported on stderr (`error: file P: No such file or directory`) and the number of
 *  such lines; throws on other errors, such as `error: cannot open Packages database in …`. */
function missingArgs(
  args: readonly string[],
  stderr: string,
): { has: (arg: string) => boolean; errors: number } {
  const wanted = new Set(args);
  const missing = new Set<string>();
  const failures: string[] = [];
  let errors = 0;
  for (const line of stderr.split('\n')) {
    if (!line.startsWith('error:')) continue; // warnings and distribution notices
    if (!line.startsWith(FILE_ERROR_PREFIX)) {
      failures.push(line);
      continue;
    }
    errors++;
    // An unrecognised name (rpm cleans `//` and `/./`) leaves its run ambiguous: asked again alone.
    const arg = fileErrorArg(line, wanted);
    if (arg !== null) missing.add(arg);
  }
  const last = failures.at(-1);
  if (last !== undefined) throw new Error(`rpm -qf failed: ${last.slice('error:'.length).trim()}`);
  return { has: (arg) => missing.has(arg), errors };
}

/** The argument named in `error: file P: reason`, or null; P may itself contain ": ". */
function fileErrorArg(line: string, wanted: ReadonlySet<string>): string | null {
  const rest = line.slice(FILE_ERROR_PREFIX.length);
  for (let colon = rest.indexOf(': '); colon !== -1; colon = rest.indexOf(': ', colon + 1)) {
    const candidate = rest.slice(0, colon);
    if (wanted.has(candidate)) return candidate;
  }
  return null;
}
