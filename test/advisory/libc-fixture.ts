// The advisory fixture of the CLI and Ansible tests: a fixture /proc whose processes map the
// host's real libc.so.6 (owned by libc6 in the real dpkg database) as a deleted file, and a
// scratch --root with the real dpkg database and a crafted dpkg.log: old.service started on
// 0.1-1 (2020), new.service after the installed version came (2023). Start times come from the
// fixture's /proc/stat and /proc/PID/stat; map_files is absent, so the start time decides.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFakeSystemctl } from '../helpers/fake-systemctl.ts';
import { FAKE_INIT, makeProcTree, mapsLine } from '../helpers/fakeproc.ts';

export const hasDpkg = (() => {
  try {
    execFileSync('dpkg-query', ['-W', 'libc6'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/** libc.so.6 as libc6 installs it on this machine. */
export function libcPath(): string {
  const out = execFileSync('dpkg', ['-L', 'libc6'], { encoding: 'utf8' });
  const p = out.split('\n').find((l) => /\/libc\.so\.6$/.test(l));
  assert.ok(p, 'libc6 ships no libc.so.6');
  return p;
}

const BTIME = Date.UTC(2020, 0, 1) / 1000;
const ticksAt = (iso: string) => Math.round((Date.parse(iso) / 1000 - BTIME) * 100);
const statLine = (pid: number, ticks: number) =>
  `${pid} (proc) S 1 ${pid} ${pid} 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 ${ticks} 0 0\n`;

export interface LibcFixture {
  dir: string;
  procRoot: string;
  root: string;
  /** libc6's installed version. */
  installed: string;
  /** PATH with a fake systemctl first, TZ=UTC (dpkg.log is read in local time). */
  env: NodeJS.ProcessEnv;
  cleanup(): void;
}

export function makeLibcFixture(): LibcFixture {
  const dir = mkdtempSync(join(tmpdir(), 'afterpatch-advcli-'));
  const installed = (
    execFileSync('dpkg-query', ['-W', 'libc6'], { encoding: 'utf8' }).split('\n')[0] ?? ''
  )
    .split('\t')[1]
    ?.trim() as string;
  const lib = libcPath();
  const stale = (addr: number) =>
    [mapsLine('/usr/sbin/daemon'), mapsLine(lib, { deleted: true, addr })].join('\n');
  const fx = makeProcTree({
    1: FAKE_INIT,
    10: { name: 'old', maps: stale(0x7f5000), cgroup: '0::/system.slice/old.service\n' },
    20: { name: 'new', maps: stale(0x7f6000), cgroup: '0::/system.slice/new.service\n' },
  });
  writeFileSync(join(fx.root, 'stat'), `cpu 0 0 0 0\nbtime ${BTIME}\n`);
  writeFileSync(join(fx.root, '1', 'stat'), statLine(1, 0));
  writeFileSync(join(fx.root, '10', 'stat'), statLine(10, ticksAt('2020-06-01T00:00:00Z')));
  writeFileSync(join(fx.root, '20', 'stat'), statLine(20, ticksAt('2023-06-01T00:00:00Z')));
  const root = join(dir, 'root');
  mkdirSync(join(root, 'var/lib'), { recursive: true });
  mkdirSync(join(root, 'var/log'), { recursive: true });
  symlinkSync('/var/lib/dpkg', join(root, 'var/lib/dpkg'));
  writeFileSync(
    join(root, 'var/log/dpkg.log'),
    [
      '2020-01-02 12:00:00 install libc6:amd64 <none> 0.1-1',
      '2021-01-02 12:00:00 upgrade libc6:amd64 0.1-1 0.2-1',
      '2022-01-02 12:00:00 upgrade libc6:amd64 0.2-1 0.3-1',
      `2023-01-02 12:00:00 upgrade libc6:amd64 0.3-1 ${installed}`,
      '',
    ].join('\n'),
  );
  mkdirSync(join(dir, 'bin'));
  writeFakeSystemctl(join(dir, 'bin'));
  return {
    dir,
    procRoot: fx.root,
    root,
    installed,
    env: { ...process.env, PATH: `${join(dir, 'bin')}:${process.env.PATH}`, TZ: 'UTC' },
    cleanup: () => {
      fx.cleanup();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
