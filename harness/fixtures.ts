// Real-world fixtures for integration tests: build REAL .deb packages holding a tiny shared
// library and a program linked against it, install/upgrade/purge them with dpkg, and start REAL
// processes that keep the library mapped (so a package upgrade leaves "(deleted)" mappings).
// The C sources live in test/fixtures/c/ (see the comments there).
//
// Safety rules this file keeps: commands run via execFile/spawn argv arrays, never a shell; only
// processes started by spawnHolders() are ever signalled (by PID, and only while Node has not
// reaped them, so the PID cannot belong to someone else); every holder also exits by itself when
// its parent dies (PR_SET_PDEATHSIG) or after a maximum lifetime; build directories are temporary
// and removed when the process exits. Installing packages needs root.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Directory of the fixture C sources. */
export const C_SOURCES = fileURLToPath(new URL('../test/fixtures/c/', import.meta.url));

/** File names inside a test package. */
export const LIB_SONAME = 'libafterpatchtest.so.1';
export const HOLDER_NAME = 'afterpatch-test-holder';

/** Default maximum lifetime of a holder, in seconds. */
export const DEFAULT_HOLDER_LIFETIME_S = 300;

export interface TestDebOptions {
  /** Package name (Debian syntax: lowercase letters, digits, `+`, `-`, `.`). */
  name: string;
  /** Package version (Debian syntax, e.g. `1.0-1`). */
  version: string;
  /** Value returned by the library's function; use a different one per version. */
  libValue: number;
}

export interface TestPackagePaths {
  /** Installed library: `/usr/lib/<name>/libafterpatchtest.so.1`. */
  lib: string;
  /** Installed holder program: `/usr/libexec/<name>/afterpatch-test-holder`. */
  holder: string;
}

export interface NoiseHolders {
  /** Maps a deleted memfd with PROT_EXEC (`/memfd:afterpatch-test (deleted)`). Args: none. */
  memfdHolder: string;
  /** dlopen()s a /tmp copy of a library, then deletes it. Extra arg: the library to copy. */
  dlopenHolder: string;
  /** A library to pass to dlopenHolder (lives in the build directory). */
  library: string;
}

export interface SpawnHoldersOptions {
  /** Extra arguments after MAX_SECONDS and PARENT_PID (e.g. the library for dlopenHolder). */
  args?: readonly string[];
  /** The holder exits by itself after this many seconds; default 300. */
  maxLifetimeS?: number;
  /** Give up (and stop what was started) if a holder is not ready after this long; default 10 s. */
  readyTimeoutMs?: number;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
}

const NAME_RE = /^[a-z0-9][a-z0-9+.-]+$/;
const VERSION_RE = /^(?:[0-9]+:)?[0-9][A-Za-z0-9.+~-]*$/;

// ---------------------------------------------------------------------------------------------
// Running commands

/** Runs argv without a shell; rejects with stderr in the message when it fails. */
export function run(
  file: string,
  args: readonly string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      {
        env: opts.env ?? process.env,
        maxBuffer: 16 * 1024 * 1024,
        cwd: opts.cwd,
      },
      (err, stdout, stderr) => {
        if (err) {
          const cmd = [file, ...args].join(' ');
          reject(new Error(`${cmd} failed (${String(err.code ?? err.signal)}): ${stderr.trim()}`));
        } else {
          resolve({ stdout, stderr });
        }
      },
    );
  });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// Temporary build directories (removed at exit)

const tempDirs: string[] = [];

function makeTempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

/** Removes every build directory made so far (also done automatically at process exit). */
export function removeBuildDirs(): void {
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

// ---------------------------------------------------------------------------------------------
// Building

let archPromise: Promise<string> | undefined;

/** `dpkg --print-architecture`, cached. */
export function debArchitecture(): Promise<string> {
  archPromise ??= run('dpkg', ['--print-architecture']).then((r) => r.stdout.trim());
  return archPromise;
}

/** Where a test package installs its files. */
export function testPackagePaths(name: string): TestPackagePaths {
  return {
    lib: `/usr/lib/${name}/${LIB_SONAME}`,
    holder: `/usr/libexec/${name}/${HOLDER_NAME}`,
  };
}

const CFLAGS = ['-O2', '-Wall', '-Wextra', '-I', C_SOURCES];

/** Compiles libafterpatchtest.so.1 with the given value and version string. */
export async function compileLibrary(
  out: string,
  libValue: number,
  version: string,
): Promise<void> {
  if (!Number.isSafeInteger(libValue)) throw new Error(`libValue must be an integer: ${libValue}`);
  await run('gcc', [
    ...CFLAGS,
    '-shared',
    '-fPIC',
    `-Wl,-soname,${LIB_SONAME}`,
    `-DAFTERPATCH_TEST_VALUE=${libValue}`,
    `-DAFTERPATCH_TEST_VERSION=${JSON.stringify(version)}`,
    '-o',
    out,
    join(C_SOURCES, 'libafterpatchtest.c'),
  ]);
}

/** Compiles the holder against `lib`, with an rpath to `rpathDir` (the lib's installed dir). */
export async function compileHolder(out: string, lib: string, rpathDir: string): Promise<void> {
  await run('gcc', [
    ...CFLAGS,
    '-o',
    out,
    join(C_SOURCES, 'holder.c'),
    lib,
    `-Wl,-rpath,${rpathDir}`,
  ]);
}

interface CachedDeb {
  libValue: number;
  deb: Promise<string>;
}

const debCache = new Map<string, CachedDeb>();

/**
 * Builds package `<name>` version `<version>` holding /usr/lib/<name>/libafterpatchtest.so.1 and
 * /usr/libexec/<name>/afterpatch-test-holder; returns the .deb path (in a temporary directory).
 * Cached per (name, version) within this process.
 */
export function buildTestDeb(opts: TestDebOptions): Promise<string> {
  const { name, version, libValue } = opts;
  if (!NAME_RE.test(name)) throw new Error(`invalid package name: ${JSON.stringify(name)}`);
  if (!VERSION_RE.test(version)) throw new Error(`invalid version: ${JSON.stringify(version)}`);
  const key = `${name}\n${version}`;
  const cached = debCache.get(key);
  if (cached) {
    if (cached.libValue !== libValue) {
      throw new Error(`${name} ${version} was already built with libValue ${cached.libValue}`);
    }
    return cached.deb;
  }
  const deb = buildDeb(name, version, libValue);
  debCache.set(key, { libValue, deb });
  // A failed build is not cached: the next call tries again.
  deb.catch(() => debCache.delete(key));
  return deb;
}

async function buildDeb(name: string, version: string, libValue: number): Promise<string> {
  const dir = makeTempDir(`afterpatch-deb-${name}-`);
  const root = join(dir, 'root');
  const paths = testPackagePaths(name);
  const libDir = join(root, 'usr', 'lib', name);
  const binDir = join(root, 'usr', 'libexec', name);
  mkdirSync(libDir, { recursive: true });
  mkdirSync(binDir, { recursive: true });
  mkdirSync(join(root, 'DEBIAN'));

  const lib = join(libDir, LIB_SONAME);
  await compileLibrary(lib, libValue, version);
  await compileHolder(join(binDir, HOLDER_NAME), lib, `/usr/lib/${name}`);

  const arch = await debArchitecture();
  writeFileSync(
    join(root, 'DEBIAN', 'control'),
    [
      `Package: ${name}`,
      `Version: ${version}`,
      `Architecture: ${arch}`,
      'Maintainer: afterpatch tests <afterpatch-tests@localhost>',
      'Section: misc',
      'Priority: optional',
      `Description: afterpatch test fixture (${paths.lib})`,
      ' Throw-away package built by the afterpatch test suite; safe to purge.',
      '',
    ].join('\n'),
  );
  const debPath = join(dir, `${name}_${version.replace(/^[0-9]+:/, '')}_${arch}.deb`);
  await run('dpkg-deb', ['--root-owner-group', '-Zgzip', '--build', root, debPath]);
  return debPath;
}

/**
 * Compiles the two noise holders (and a library for the dlopen one) into a temporary directory.
 * Neither must be reported by `afterpatch scan` by default: memfd mappings and files under /tmp
 * are noise. Cached within this process.
 */
let noisePromise: Promise<NoiseHolders> | undefined;
export function buildNoiseHolders(): Promise<NoiseHolders> {
  noisePromise ??= (async () => {
    const dir = makeTempDir('afterpatch-noise-');
    const holders: NoiseHolders = {
      memfdHolder: join(dir, 'afterpatch-test-memfd-holder'),
      dlopenHolder: join(dir, 'afterpatch-test-dlopen-holder'),
      library: join(dir, LIB_SONAME),
    };
    await Promise.all([
      compileLibrary(holders.library, 7, 'noise'),
      run('gcc', [...CFLAGS, '-o', holders.memfdHolder, join(C_SOURCES, 'memfd-holder.c')]),
      run('gcc', [
        ...CFLAGS,
        '-o',
        holders.dlopenHolder,
        join(C_SOURCES, 'dlopen-holder.c'),
        '-ldl',
      ]),
    ]);
    return holders;
  })();
  noisePromise.catch(() => {
    noisePromise = undefined;
  });
  return noisePromise;
}

// ---------------------------------------------------------------------------------------------
// dpkg

const DPKG_ENV: NodeJS.ProcessEnv = {
  PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
  LANG: 'C.UTF-8',
  DEBIAN_FRONTEND: 'noninteractive',
};

/** Runs dpkg, retrying for a while when another dpkg/apt holds the lock. */
async function dpkg(args: readonly string[]): Promise<ExecResult> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await run('dpkg', args, { env: DPKG_ENV });
    } catch (err) {
      const locked = /lock|locked/i.test(String(err));
      if (!locked || attempt >= 60) throw err;
      await sleep(500);
    }
  }
}

/** `dpkg -i DEB` (needs root). */
export async function dpkgInstall(debPath: string): Promise<void> {
  await dpkg(['--install', debPath]);
}

/** `dpkg --purge NAME` (needs root); a no-op when the package is not installed. */
export async function dpkgPurge(name: string): Promise<void> {
  if (!NAME_RE.test(name)) throw new Error(`invalid package name: ${JSON.stringify(name)}`);
  if (!(await isInstalled(name))) return;
  await dpkg(['--purge', name]);
}

/** Whether dpkg knows the package in any state other than not-installed / config-files gone. */
export async function isInstalled(name: string): Promise<boolean> {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's format, not a JS template
  const format = '${db:Status-Status}';
  try {
    const r = await run('dpkg-query', ['-W', '-f', format, name], { env: DPKG_ENV });
    return r.stdout.trim() !== '' && r.stdout.trim() !== 'not-installed';
  } catch {
    return false; // dpkg-query exits 1 for unknown packages
  }
}

// ---------------------------------------------------------------------------------------------
// Processes

/** Children started by spawnHolders() and not yet seen to exit, by PID. */
const live = new Map<number, ChildProcess>();
/** PIDs we started and saw exit: stopProcesses() on them is a no-op, even if the PID is reused. */
const reaped = new Set<number>();

/**
 * Starts n holder processes (`binPath MAX_SECONDS <our pid> ...args`), waits until each printed
 * "ready", and returns their PIDs. On any failure, stops those already started and rejects.
 */
export async function spawnHolders(
  binPath: string,
  n: number,
  opts: SpawnHoldersOptions = {},
): Promise<number[]> {
  const lifetime = opts.maxLifetimeS ?? DEFAULT_HOLDER_LIFETIME_S;
  const timeoutMs = opts.readyTimeoutMs ?? 10_000;
  const argv = [String(lifetime), String(process.pid), ...(opts.args ?? [])];
  const started: number[] = [];
  const waits: Promise<void>[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const child = spawn(binPath, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
      waits.push(waitReady(child, binPath, timeoutMs));
      if (child.pid !== undefined) {
        started.push(child.pid);
        const pid = child.pid;
        live.set(pid, child);
        child.once('exit', () => {
          live.delete(pid);
          reaped.add(pid);
        });
      }
    }
    await Promise.all(waits);
    return started;
  } catch (err) {
    await Promise.allSettled(waits);
    await stopProcesses(started);
    throw err;
  }
}

function waitReady(child: ChildProcess, binPath: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    let errText = '';
    const timer = setTimeout(() => {
      done(new Error(`${binPath} (pid ${child.pid}) not ready after ${timeoutMs} ms: ${errText}`));
    }, timeoutMs);
    let settled = false;
    const done = (err?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      // The holder writes nothing after "ready": close our pipe ends and unref the child so a
      // forgotten holder cannot keep the test process alive (it dies with us: PR_SET_PDEATHSIG).
      child.stdout?.destroy();
      child.stderr?.destroy();
      child.unref();
      if (err) reject(err);
      else resolve();
    };
    child.once('error', (err) => done(err));
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      errText += chunk;
    });
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      if (out.includes('ready\n')) done();
    });
    // 'close' (not 'exit'): by then stderr has been read to the end.
    child.once('close', (code, signal) => {
      done(new Error(`${binPath} exited (${code ?? signal}) before ready: ${errText.trim()}`));
    });
  });
}

/** Whether PID exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/**
 * Stops processes started by spawnHolders(): SIGTERM, then SIGKILL after graceMs; resolves when
 * all are gone (zombies count as gone). Throws for PIDs this module did not start (unless they
 * already exited and were reaped by us, which is a no-op).
 */
export async function stopProcesses(pids: readonly number[], graceMs = 2_000): Promise<void> {
  const ours = pids.map((pid) => {
    const child = live.get(pid);
    if (!child && isAlive(pid) && !reaped.has(pid)) {
      throw new Error(`refusing to signal pid ${pid}: not started by spawnHolders()`);
    }
    return child;
  });
  const children = ours.filter((c): c is ChildProcess => c !== undefined);
  const gone = (c: ChildProcess) => c.exitCode !== null || c.signalCode !== null;
  for (const c of children) if (!gone(c)) c.kill('SIGTERM');
  const deadline = Date.now() + graceMs;
  while (children.some((c) => !gone(c) && c.pid !== undefined && isAlive(c.pid))) {
    if (Date.now() > deadline) {
      for (const c of children) if (!gone(c)) c.kill('SIGKILL');
      break;
    }
    await sleep(20);
  }
  // Wait for Node to reap them (so nothing is left as a zombie of ours).
  const reapDeadline = Date.now() + 5_000;
  while (children.some((c) => !gone(c))) {
    if (Date.now() > reapDeadline) throw new Error('holders did not exit after SIGKILL');
    await sleep(20);
  }
}

/** PIDs started by spawnHolders() that have not exited yet. */
export function liveHolderPids(): number[] {
  return [...live.keys()];
}

// Last resort: never leave a holder behind, even when a test forgets to stop it. (The holders
// would die anyway with PR_SET_PDEATHSIG when this process exits.)
process.once('exit', () => {
  for (const child of live.values()) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  removeBuildDirs();
});

// ---------------------------------------------------------------------------------------------
// /proc helpers

/** The lines of /proc/PID/maps (host PID); [] when the process is gone. */
export function mapsLines(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n');
  } catch {
    return [];
  }
}

/** The path column of each file-backed line of /proc/PID/maps (`[]` when the process is gone). */
export function mappedPaths(pid: number): string[] {
  const paths: string[] = [];
  for (const line of mapsLines(pid)) {
    // start-end perms offset dev inode   path
    const m = /^\S+ \S+ \S+ \S+ (\d+) +(.*)$/.exec(line);
    if (m?.[1] && m[1] !== '0' && m[2]) paths.push(m[2]);
  }
  return paths;
}

/** PIDs (of all processes) whose maps show exactly `path` (e.g. `/usr/lib/x/lib.so.1 (deleted)`). */
export function pidsMapping(path: string): number[] {
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (mappedPaths(pid).includes(path)) found.push(pid);
  }
  return found.sort((a, b) => a - b);
}
