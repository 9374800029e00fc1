// A clean Debian 12 root with Debian's own nodejs (18.x), for installing the .deb as a user would.
// debootstrap + `apt-get install nodejs` costs ~1 minute and ~40 MB of downloads, so the result is
// kept as a tarball under /var/cache/afterpatch-test-debootstrap, keyed by date: a machine pays
// for it once a day at most, and every test run unpacks a fresh copy.
import { execFile } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const CACHE_DIR =
  process.env.AFTERPATCH_DEBOOTSTRAP_CACHE ?? '/var/cache/afterpatch-test-debootstrap';
const MIRROR = process.env.AFTERPATCH_DEBIAN_MIRROR ?? 'http://deb.debian.org/debian';
const SUITE = 'bookworm';
/** Scratch roots live on a normal (exec, dev) file system, not a tmpfs that may be noexec. */
const WORK_DIR = process.env.AFTERPATCH_CHROOT_TMP ?? '/var/tmp';

/** Environment for commands run inside the root: no prompts, no daemons, a sane PATH. */
export const CHROOT_ENV: NodeJS.ProcessEnv = {
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  DEBIAN_FRONTEND: 'noninteractive',
  LC_ALL: 'C.UTF-8',
  HOME: '/root',
};

export interface CmdResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs argv[0] with argv[1..] (no shell); never throws on a non-zero exit. */
export async function cmd(
  argv: readonly string[],
  opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number | undefined } = {},
): Promise<CmdResult> {
  const [file, ...args] = argv;
  if (file === undefined) throw new Error('cmd: empty argv');
  try {
    const r = await run(file, args, {
      env: opts.env ?? { ...CHROOT_ENV },
      maxBuffer: 64 * 1024 * 1024,
      timeout: opts.timeoutMs ?? 600_000,
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code?: unknown; stdout?: string; stderr?: string; message: string };
    return {
      code: typeof err.code === 'number' ? err.code : 127,
      stdout: err.stdout ?? '',
      stderr: err.stderr ?? err.message,
    };
  }
}

/** Like cmd, but a non-zero exit is an error that shows the output. */
export async function mustRun(
  argv: readonly string[],
  opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number | undefined } = {},
): Promise<CmdResult> {
  const r = await cmd(argv, opts);
  if (r.code !== 0) {
    throw new Error(`${argv.join(' ')} exited ${r.code}\n${r.stdout}\n${r.stderr}`);
  }
  return r;
}

/** Mount points at or below dir, deepest first (from /proc/self/mountinfo). */
export function mountsBelow(dir: string): string[] {
  const prefix = dir.endsWith('/') ? dir : `${dir}/`;
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .map((p) =>
      p.replace(/\\(\d{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8))),
    )
    .filter((p) => p === dir || p.startsWith(prefix))
    .sort((a, b) => b.length - a.length);
}

/** Unmounts everything below dir, then deletes it; refuses to delete while anything is mounted. */
export async function removeRoot(dir: string): Promise<void> {
  for (const m of mountsBelow(dir)) await cmd(['umount', m]);
  for (const m of mountsBelow(dir)) await cmd(['umount', '--lazy', m]);
  const left = mountsBelow(dir);
  if (left.length > 0) throw new Error(`not deleting ${dir}: still mounted: ${left.join(', ')}`);
  rmSync(dir, { recursive: true, force: true });
}

/** Runs argv inside root via chroot(8). */
export function inRoot(root: string, argv: readonly string[], timeoutMs?: number) {
  return cmd(['chroot', root, ...argv], { timeoutMs });
}

export async function withProc<T>(root: string, fn: () => Promise<T>): Promise<T> {
  const proc = join(root, 'proc');
  await mustRun(['mount', '-t', 'proc', 'proc', proc]);
  try {
    return await fn();
  } finally {
    await cmd(['umount', proc]);
    if (mountsBelow(proc).length > 0) await cmd(['umount', '--lazy', proc]);
  }
}

const today = () => new Date().toISOString().slice(0, 10);

/** The cached tarball of today's clean root with nodejs, made first if missing. */
export async function cachedRootTarball(log: (s: string) => void = () => {}): Promise<string> {
  const tarball = join(CACHE_DIR, `${SUITE}-minbase-nodejs-${today()}.tar`);
  if (existsSync(tarball)) return tarball;
  mkdirSync(CACHE_DIR, { recursive: true, mode: 0o755 });
  const build = mkdtempSync(join(WORK_DIR, 'afterpatch-debootstrap-'));
  try {
    log(`debootstrap ${SUITE} from ${MIRROR} (cached in ${CACHE_DIR})`);
    await mustRun(['debootstrap', '--variant=minbase', SUITE, build, MIRROR], {
      env: { ...CHROOT_ENV },
      timeoutMs: 1_200_000,
    });
    // No daemon may start from a package inside the root.
    writeFileSync(join(build, 'usr/sbin/policy-rc.d'), '#!/bin/sh\nexit 101\n', { mode: 0o755 });
    writeFileSync(join(build, 'etc/resolv.conf'), readFileSync('/etc/resolv.conf'));
    const sources = [
      `deb ${MIRROR} ${SUITE} main`,
      `deb ${MIRROR} ${SUITE}-updates main`,
      `deb http://deb.debian.org/debian-security ${SUITE}-security main`,
      '',
    ].join('\n');
    writeFileSync(join(build, 'etc/apt/sources.list'), sources);
    await withProc(build, async () => {
      await mustRun(['chroot', build, 'apt-get', 'update', '-q'], { timeoutMs: 600_000 });
      await mustRun(
        ['chroot', build, 'apt-get', 'install', '-y', '-q', '--no-install-recommends', 'nodejs'],
        { timeoutMs: 900_000 },
      );
      await mustRun(['chroot', build, 'apt-get', 'clean']);
    });
    const partial = `${tarball}.partial`;
    await mustRun(['tar', '--numeric-owner', '--xattrs', '-C', build, '-cf', partial, '.']);
    await mustRun(['mv', partial, tarball]);
    // Older days' tarballs are no longer used.
    for (const f of readdirSync(CACHE_DIR)) {
      if (f.endsWith('.tar') && join(CACHE_DIR, f) !== tarball) rmSync(join(CACHE_DIR, f));
    }
    return tarball;
  } finally {
    await removeRoot(build);
  }
}

/** A fresh root unpacked from the cache; remove it with removeRoot. */
export async function freshRoot(log?: (s: string) => void): Promise<string> {
  const tarball = await cachedRootTarball(log);
  const dir = mkdtempSync(join(WORK_DIR, 'afterpatch-root-'));
  await mustRun(['tar', '--numeric-owner', '--xattrs', '-C', dir, '-xf', tarball]);
  return dir;
}
