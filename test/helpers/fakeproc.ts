// Builds a fake /proc tree on disk for the procfs reader's injectable root.
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface FakeProcess {
  maps?: string;
  name?: string;
  ppid?: number;
  uid?: number;
  /** NSpid entries, outermost first (default: just the PID). */
  nspid?: number[];
  cgroup?: string;
  cmdline?: string[];
  /** Target of the `root` link (default "/"). */
  root?: string;
  /** Target of the `ns/pid` link (default the host's "pid:[4026531836]"). */
  pidNs?: string;
}

const PAD = ' '.repeat(19);

/** One maps line for a file mapping; `deleted` appends the kernel's suffix. */
export function mapsLine(
  path: string,
  opts: { perms?: string; inode?: number; deleted?: boolean; addr?: number } = {},
): string {
  const a = (opts.addr ?? 0x7f0000).toString(16);
  const b = ((opts.addr ?? 0x7f0000) + 1).toString(16);
  const escaped = path.replaceAll('\n', '\\012');
  return `${a}000-${b}000 ${opts.perms ?? 'r-xp'} 00000000 fe:00 ${opts.inode ?? 1234}${PAD}${escaped}${opts.deleted ? ' (deleted)' : ''}`;
}

/**
 * Where trees go by default: tmpfs when there is one. A tree is ~9 files per process, and on a
 * disk file system (ext4 with discard) making and removing them took more of the fast suite's
 * time than reading them: 3 s for a 400-process tree on a loaded machine, 0.2 s on tmpfs.
 */
const TREE_DIR = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();

/** The running kernel of every fake tree unless told otherwise (`sys/kernel/osrelease`). */
export const FAKE_KERNEL_RELEASE = '6.1.0-9-amd64';

/**
 * `opts.dir`: where to make the tree (default tmpfs, else the temporary directory).
 * `opts.kernel`: the running kernel release written to `sys/kernel/osrelease` (default
 * FAKE_KERNEL_RELEASE; null: none, which makes the reboot verdict unknown).
 */
export function makeProcTree(
  procs: Record<number, FakeProcess>,
  opts: { dir?: string; kernel?: string | null } = {},
): {
  root: string;
  cleanup(): void;
} {
  const root = mkdtempSync(join(opts.dir ?? TREE_DIR, 'afterpatch-fakeproc-'));
  const kernel = opts.kernel === undefined ? FAKE_KERNEL_RELEASE : opts.kernel;
  if (kernel !== null) {
    mkdirSync(join(root, 'sys/kernel'), { recursive: true });
    writeFileSync(join(root, 'sys/kernel/osrelease'), `${kernel}\n`);
  }
  for (const [pidText, p] of Object.entries(procs)) {
    const pid = Number(pidText);
    const dir = join(root, pidText);
    mkdirSync(dir);
    if (p.maps !== undefined) writeFileSync(join(dir, 'maps'), p.maps);
    writeFileSync(
      join(dir, 'status'),
      `Name:\t${p.name ?? 'proc'}\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t${pid}\nPid:\t${pid}\nPPid:\t${p.ppid ?? 1}\n` +
        `Uid:\t${p.uid ?? 0}\t${p.uid ?? 0}\t${p.uid ?? 0}\t${p.uid ?? 0}\nNSpid:\t${(p.nspid ?? [pid]).join('\t')}\n`,
    );
    writeFileSync(join(dir, 'comm'), `${p.name ?? 'proc'}\n`);
    writeFileSync(join(dir, 'cgroup'), p.cgroup ?? '0::/\n');
    writeFileSync(
      join(dir, 'cmdline'),
      (p.cmdline ?? [p.name ?? 'proc']).map((a) => `${a}\0`).join(''),
    );
    symlinkSync(p.root ?? '/', join(dir, 'root'));
    mkdirSync(join(dir, 'ns'));
    symlinkSync(p.pidNs ?? 'pid:[4026531836]', join(dir, 'ns', 'pid'));
  }
  return { root, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

/** PID 1 of a systemd host, as most fixture trees need it. */
export const FAKE_INIT: FakeProcess = {
  name: 'systemd',
  maps: mapsLine('/usr/lib/systemd/systemd'),
  cgroup: '0::/init.scope\n',
};

/** An sshd of ssh.service still mapping a replaced libcrypto: the usual stale unit of the tests. */
export const FAKE_STALE_SSHD: FakeProcess = {
  name: 'sshd',
  maps: [
    mapsLine('/usr/sbin/sshd'),
    mapsLine('/usr/lib/libcrypto.so.3', { deleted: true, addr: 0x7f5000 }),
  ].join('\n'),
  cgroup: '0::/system.slice/ssh.service\n',
};

/** The message bus daemon of dbus.service on a replaced library: only a reboot replaces it (docs/reboot.md). */
export const FAKE_STALE_DBUS: FakeProcess = {
  name: 'dbus-daemon',
  maps: [
    mapsLine('/usr/bin/dbus-daemon'),
    mapsLine('/usr/lib/libexpat.so.1', { deleted: true, addr: 0x7f6000 }),
  ].join('\n'),
  cgroup: '0::/system.slice/dbus.service\n',
};
