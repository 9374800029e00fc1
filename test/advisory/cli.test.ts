// Advisories through restart, check and metrics, on a fixture /proc whose processes map the
// host's real libc.so.6 (owned by libc6 in the real dpkg database) as a deleted file, with a
// crafted dpkg.log under a scratch --root: a process started before the fixed libc6 was installed
// (vulnerable), one started after it (stale but safe). Start times come from the fixture's
// /proc/stat and /proc/PID/stat; map_files is absent, so the start time decides (a lower bound).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../helpers/cli.ts';
import { writeFakeSystemctl } from '../helpers/fake-systemctl.ts';
import { FAKE_INIT, makeProcTree, mapsLine } from '../helpers/fakeproc.ts';

const hasDpkg = (() => {
  try {
    execFileSync('dpkg-query', ['-W', 'libc6'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/** libc.so.6 as libc6 installs it on this machine. */
function libcPath(): string {
  const out = execFileSync('dpkg', ['-L', 'libc6'], { encoding: 'utf8' });
  const p = out.split('\n').find((l) => /\/libc\.so\.6$/.test(l));
  assert.ok(p, 'libc6 ships no libc.so.6');
  return p;
}

const BTIME = Date.UTC(2020, 0, 1) / 1000;
const ticksAt = (iso: string) => Math.round((Date.parse(iso) / 1000 - BTIME) * 100);
const statLine = (pid: number, ticks: number) =>
  `${pid} (proc) S 1 ${pid} ${pid} 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 ${ticks} 0 0\n`;

describe('advisories in restart, check and metrics (fixture /proc, real dpkg database)', {
  skip: hasDpkg ? false : 'needs dpkg with libc6',
}, () => {
  let dir = '';
  let fx: ReturnType<typeof makeProcTree>;
  let root = '';
  let installed = '';
  let env: NodeJS.ProcessEnv = {};
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'afterpatch-advcli-'));
    installed = (
      execFileSync('dpkg-query', ['-W', 'libc6'], { encoding: 'utf8' }).split('\n')[0] ?? ''
    )
      .split('\t')[1]
      ?.trim() as string;
    const lib = libcPath();
    const stale = (addr: number) =>
      [mapsLine('/usr/sbin/daemon'), mapsLine(lib, { deleted: true, addr })].join('\n');
    fx = makeProcTree({
      1: FAKE_INIT,
      10: { name: 'old', maps: stale(0x7f5000), cgroup: '0::/system.slice/old.service\n' },
      20: { name: 'new', maps: stale(0x7f6000), cgroup: '0::/system.slice/new.service\n' },
    });
    writeFileSync(join(fx.root, 'stat'), `cpu 0 0 0 0\nbtime ${BTIME}\n`);
    writeFileSync(join(fx.root, '1', 'stat'), statLine(1, 0));
    writeFileSync(join(fx.root, '10', 'stat'), statLine(10, ticksAt('2020-06-01T00:00:00Z')));
    writeFileSync(join(fx.root, '20', 'stat'), statLine(20, ticksAt('2023-06-01T00:00:00Z')));
    // The host's package database, a history of our own: 1 → FIX-1 → FIX+1 → installed.
    root = join(dir, 'root');
    mkdirSync(join(root, 'var/lib'), { recursive: true });
    mkdirSync(join(root, 'var/log'), { recursive: true });
    symlinkSync('/var/lib/dpkg', join(root, 'var/lib/dpkg'));
    writeFileSync(
      join(root, 'var/log/dpkg.log'),
      [
        '2020-01-02 12:00:00 install libc6:amd64 <none> 0.1-1',
        '2021-01-02 12:00:00 upgrade libc6:amd64 0.1-1 0.2-1',
        `2022-01-02 12:00:00 upgrade libc6:amd64 0.2-1 0.3-1`,
        `2023-01-02 12:00:00 upgrade libc6:amd64 0.3-1 ${installed}`,
        '',
      ].join('\n'),
    );
    mkdirSync(join(dir, 'bin'));
    writeFakeSystemctl(join(dir, 'bin'));
    env = { ...process.env, PATH: `${join(dir, 'bin')}:${process.env.PATH}`, TZ: 'UTC' };
  });
  after(() => {
    fx.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });
  const common = () => ['--proc-root', fx.root, '--root', root];

  it('scan: old.service started on 0.1-1 (vulnerable for a fix at the installed version; unknown for one at 0.3-1, which it may have loaded later), new.service runs a fixed version', async () => {
    const entries = async (fix: string) => {
      const r = await runCli(['scan', '--json', ...common(), '--fixed', `libc6=${fix}`], { env });
      assert.equal(r.code, 1, r.stderr);
      const d = JSON.parse(r.stdout);
      const v = Object.fromEntries(
        d.entries.map((e: { key: string; vulnerable: unknown }) => [e.key, e.vulnerable]),
      );
      return { verdict: d.advisoryVerdict, v };
    };
    assert.deepEqual(await entries(installed), {
      verdict: 'restart-needed',
      v: { 'system-unit:old.service': true, 'system-unit:new.service': false },
    });
    assert.deepEqual(await entries('0.3-1'), {
      verdict: 'unknown',
      v: { 'system-unit:old.service': 'unknown', 'system-unit:new.service': false },
    });
  });

  it('restart --fixed plans only the units running a vulnerable version (or one that cannot be told)', async () => {
    const args = ['restart', '--dry-run', '--json', ...common(), '--state-dir', join(dir, 's')];
    const all = JSON.parse((await runCli(args, { env })).stdout);
    const units = (doc: { plan: { unit?: string; key?: string }[] }) =>
      doc.plan.map((p) => p.unit ?? p.key).sort();
    assert.deepEqual(units(all), ['new.service', 'old.service']);
    const r = await runCli([...args, '--fixed', `libc6=${installed}`], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(units(JSON.parse(r.stdout)), ['old.service']);
    // A version that cannot be told is restarted too: never left alone on a doubt.
    const doubt = JSON.parse((await runCli([...args, '--fixed', 'libc6=0.3-1'], { env })).stdout);
    assert.deepEqual(units(doubt), ['old.service']);
    // Both stale but both safe for an old fix: nothing to restart for it.
    const safe = JSON.parse((await runCli([...args, '--fixed', 'libc6=0.1-1'], { env })).stdout);
    assert.deepEqual(units(safe), []);
  });

  const check = (...args: string[]) =>
    runCli(['check', ...common(), '--state-dir', join(dir, 'none'), ...args], { env });

  it('check --fixed: CRITICAL when restart-needed, WARNING when unknown, overridable per verdict', async () => {
    const crit = await check('--fixed', `libc6=${installed}`);
    assert.equal(crit.code, 2, crit.stdout);
    assert.match(crit.stdout, /^AFTERPATCH CRITICAL - .*advisories: CLI-fixed restart-needed/);
    assert.match(
      crit.stdout,
      /^advisory CLI-fixed: restart-needed: 1 process\(es\) run a version below the fix/m,
    );
    const warn = await check(
      '--fixed',
      `libc6=${installed}`,
      '--advisory-state',
      'restart-needed=warning',
    );
    assert.equal(warn.code, 1, warn.stdout);
    const unknown = await check('--fixed', 'libc6=0.3-1');
    assert.equal(unknown.code, 1, unknown.stdout);
    assert.match(unknown.stdout, /advisories: CLI-fixed unknown/);
    const strict = await check('--fixed', 'libc6=0.3-1', '--advisory-state', 'unknown=critical');
    assert.equal(strict.code, 2, strict.stdout);
    // Both safe for an old fix: the advisory is clean; the stale code still warns as before.
    const clean = await check('--fixed', 'libc6=0.1-1');
    assert.equal(clean.code, 1, clean.stdout);
    assert.match(clean.stdout, /advisory clean/);
    const bad = await check('--advisory-state', 'fine=ok');
    assert.equal(bad.code, 3);
    assert.match(bad.stdout, /^AFTERPATCH UNKNOWN - usage error: .*--advisory-state/);
  });

  it('check --fixed with an unreadable package database: unknown (WARNING), never OK', async () => {
    const nodb = join(dir, 'nodb');
    mkdirSync(join(nodb, 'var/lib/dpkg/status'), { recursive: true });
    const r = await runCli(
      [
        'check',
        '--proc-root',
        fx.root,
        '--root',
        nodb,
        '--state-dir',
        join(dir, 'none'),
        '--ignore',
        'units',
        '--fixed',
        'libc6=0.1-1',
      ],
      { env },
    );
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stdout, /advisories: CLI-fixed unknown/);
  });

  it('metrics --fixed: one gauge per advisory and verdict, and the vulnerable processes', async () => {
    const r = await runCli(
      ['metrics', ...common(), '--state-dir', join(dir, 'none'), '--fixed', `libc6=${installed}`],
      { env },
    );
    assert.equal(r.code, 0, r.stderr);
    const series = r.stdout.split('\n').filter((l) => l.startsWith('afterpatch_advisory_'));
    assert.deepEqual(series, [
      'afterpatch_advisory_verdict{advisory="CLI-fixed",verdict="unpatched"} 0',
      'afterpatch_advisory_verdict{advisory="CLI-fixed",verdict="reboot-needed"} 0',
      'afterpatch_advisory_verdict{advisory="CLI-fixed",verdict="restart-needed"} 1',
      'afterpatch_advisory_verdict{advisory="CLI-fixed",verdict="image-vulnerable"} 0',
      'afterpatch_advisory_verdict{advisory="CLI-fixed",verdict="unknown"} 0',
      'afterpatch_advisory_verdict{advisory="CLI-fixed",verdict="clean"} 0',
      'afterpatch_advisory_vulnerable_processes{advisory="CLI-fixed",vulnerable="true"} 1',
      'afterpatch_advisory_vulnerable_processes{advisory="CLI-fixed",vulnerable="unknown"} 0',
    ]);
  });
});
