// Test helper: a library that gets "upgraded" under running services, the way dpkg does it.
//
// `buildSvc()` compiles, once per test file, three versions of libsvc.so.1
// (test/fixtures/c/svc-lib.c, `svc_value()` returning 1, 2, 3) and the service program
// test/fixtures/c/svc-daemon.c, linked against it with the runpath `$ORIGIN/../lib`.
// `build.tree(name)` gives a test its own copy: `<root>/bin/svc-daemon` and
// `<root>/lib/libsvc.so.1` (version 1). `tree.upgrade(n)` writes version n next to the library
// and rename()s it over the old path, so every process that loaded the old file maps it
// "(deleted)" from then on.
//
// Everything lives below one mkdtemp directory in test/.tmp (gitignored). Not /tmp, /var/tmp or
// /run: afterpatch filters deleted files there as noise. `build.remove()` deletes only that
// directory.
import { execFile } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmdirSync,
  rmSync,
  statSync,
} from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { isAlive, mapsLines } from './fixtures.ts';

const execFileP = promisify(execFile);

export const FIXTURES_C = fileURLToPath(new URL('../test/fixtures/c/', import.meta.url));
/**
 * Scratch directory for trees that services (some as User=nobody) execute: not below the
 * checkout, whose parents may be private (a clone under /root), and not /tmp, /var/tmp or /run,
 * which afterpatch filters as noise. AFTERPATCH_TEST_TMP overrides it.
 */
export const TEST_TMP = process.env.AFTERPATCH_TEST_TMP ?? '/opt/afterpatch-test';

export const LIB_NAME = 'libsvc.so.1';
export const LIB_VERSIONS = [1, 2, 3] as const;
export type LibVersion = (typeof LIB_VERSIONS)[number];

export interface SvcTree {
  /** The tree's root directory. */
  readonly root: string;
  /** The service program (svc-daemon), linked against `lib`. */
  readonly daemon: string;
  /** The library path every process of this tree maps. */
  readonly lib: string;
  /** A regular expression (source) matching exactly `lib`, for `--lib`. */
  readonly libRegex: string;
  /** Install version n by rename() over `lib`; returns the new file's inode. */
  upgrade(version: LibVersion): number;
  /** Inode of the file at `lib` now. */
  inode(): number;
}

export interface SvcBuild {
  readonly dir: string;
  /** A fresh tree (program + library version 1) below the build directory. */
  tree(name: string): SvcTree;
  /** Remove the build directory and every tree in it. */
  remove(): void;
}

export function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** Write `from` to a temporary name beside `to`, then rename() it over `to` (as dpkg does). */
export function installByRename(from: string, to: string): number {
  const tmp = `${to}.afterpatch-new`;
  copyFileSync(from, tmp);
  renameSync(tmp, to);
  return statSync(to).ino;
}

export async function buildSvc(): Promise<SvcBuild> {
  mkdirSync(TEST_TMP, { recursive: true, mode: 0o755 });
  const dir = mkdtempSync(join(TEST_TMP, 'restart-'));
  chmodSync(dir, 0o755);
  try {
    const libs = new Map<LibVersion, string>();
    await Promise.all(
      LIB_VERSIONS.map(async (v) => {
        const out = join(dir, `libsvc-v${v}.so`);
        await execFileP('gcc', svcLibGccArgs(v, out));
        libs.set(v, out);
      }),
    );
    const v1 = libs.get(1) ?? '';
    const daemon = join(dir, 'svc-daemon');
    await execFileP('gcc', [
      '-O1',
      '-Wall',
      '-o',
      daemon,
      join(FIXTURES_C, 'svc-daemon.c'),
      v1,
      '-Wl,-rpath,$ORIGIN/../lib',
    ]);
    return {
      dir,
      tree(name: string): SvcTree {
        if (!/^[a-z0-9-]+$/.test(name)) throw new Error(`tree: bad name ${name}`);
        const root = join(dir, name);
        mkdirSync(join(root, 'bin'), { recursive: true });
        mkdirSync(join(root, 'lib'));
        const prog = join(root, 'bin', 'svc-daemon');
        copyFileSync(daemon, prog);
        const lib = join(root, 'lib', LIB_NAME);
        installByRename(v1, lib);
        return {
          root,
          daemon: prog,
          lib,
          libRegex: `^${escapeRegExp(lib)}$`,
          upgrade: (v) => installByRename(libs.get(v) ?? '', lib),
          inode: () => statSync(lib).ino,
        };
      },
      remove() {
        removeScratch(dir);
      },
    };
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------
// /proc, read from the host

export interface LibMapping {
  inode: number;
  deleted: boolean;
}

/** The mappings of `path` in /proc/PID/maps (host PID); [] when the process is gone. */
export function mappingsOf(pid: number, path: string): LibMapping[] {
  const out: LibMapping[] = [];
  for (const line of mapsLines(pid)) {
    const fields = line.split(/ +/);
    const inode = Number(fields[4]);
    const rest = fields.slice(5).join(' ');
    if (rest === path) out.push({ inode, deleted: false });
    else if (rest === `${path} (deleted)`) out.push({ inode, deleted: true });
  }
  return out;
}

/** The PID a host process has in its innermost PID namespace (last field of NSpid). */
export function nsPid(hostPid: number): number | undefined {
  try {
    const m = /^NSpid:\s+(.*)$/m.exec(readFileSync(`/proc/${hostPid}/status`, 'utf8'));
    const last = m?.[1]?.trim().split(/\s+/).pop();
    return last === undefined ? undefined : Number(last);
  } catch {
    return undefined;
  }
}

/** Exists and is not a zombie (fixtures.ts's isAlive). */
export const alive = isAlive;

/** Removes a scratch tree, and TEST_TMP itself once no test uses it any more. */
export function removeScratch(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  try {
    rmdirSync(TEST_TMP);
  } catch {
    // Still in use by another tree, or already gone.
  }
}

/** gcc arguments that build libsvc.so.1 whose svc_value() returns `version` (tests and bench). */
export function svcLibGccArgs(version: number, out: string): string[] {
  return [
    '-O1',
    '-Wall',
    '-shared',
    '-fPIC',
    `-Wl,-soname,${LIB_NAME}`,
    `-DSVC_VALUE=${version}`,
    '-o',
    out,
    join(FIXTURES_C, 'svc-lib.c'),
  ];
}
