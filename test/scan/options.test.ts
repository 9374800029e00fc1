// One builder of scan options (src/scan/options.ts) for every command that scans: the
// configuration's scan settings are honoured by scan, restart, check, metrics, serve and
// reboot-required alike. A real Node.js process whose script is replaced after it started is
// outdated interpreted code; `scan.interpreted = false` must hide it from every command.
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../../harness/cli.ts';
import { spawnHolders, stopProcesses } from '../../harness/fixtures.ts';
import { defaultConfig, parseConfig } from '../../src/config/load.ts';
import { scanOptionsFrom } from '../../src/scan/options.ts';
import { FAKE_INIT, makeProcTree, mapsLine } from '../helpers/fakeproc.ts';

const isRoot = process.geteuid?.() === 0;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

describe('scanOptionsFrom', () => {
  it('takes the configuration and the flags; empty lists filter nothing', () => {
    const config = parseConfig(
      '[scan]\ninterpreted = false\nignore_processes = ["^cron$"]\ninclude_noise = ["tmp"]\nignore_files = ["^/opt/"]\n',
      'x.toml',
    );
    const o = scanOptionsFrom(config, {
      procRoot: '/p',
      unit: [],
      package: ['libssl3'],
      include: ['run'],
    });
    assert.equal(o.interpreted, false);
    assert.equal(o.procRoot, '/p');
    assert.deepEqual(o.ignoreProcesses, ['^cron$']);
    assert.deepEqual(o.noise, { disabled: ['tmp', 'run'], extra: ['^/opt/'] });
    assert.deepEqual(o.filters, {
      lib: undefined,
      units: undefined,
      pids: undefined,
      packages: ['libssl3'],
    });
    // The flag can only switch the detector off.
    assert.equal(scanOptionsFrom(defaultConfig(), { interpreted: true }).interpreted, true);
    assert.equal(scanOptionsFrom(defaultConfig(), { interpreted: false }).interpreted, false);
  });

  it('refuses a bad --lib and an unknown noise rule with a one-line user error', () => {
    assert.throws(
      () => scanOptionsFrom(defaultConfig(), { lib: '([' }),
      /--lib "\(\[" is not a valid regular expression/,
    );
    assert.throws(
      () => scanOptionsFrom(defaultConfig(), { include: ['nope'] }),
      /unknown noise rule "nope" for --include/,
    );
  });
});

describe('reboot-required reads the configuration', () => {
  let fx: ReturnType<typeof makeProcTree>;
  let root: string;
  before(() => {
    fx = makeProcTree({
      1: FAKE_INIT,
      // Stale code in the message bus: only a reboot replaces it.
      10: {
        name: 'dbus-daemon',
        maps: mapsLine('/usr/lib/libexpat.so.1', { deleted: true }),
        cgroup: '0::/system.slice/dbus.service\n',
      },
    });
    root = join(fx.root, 'fsroot');
    mkdirSync(join(root, 'run'), { recursive: true });
  });
  after(() => fx.cleanup());

  it('honours scan.ignore_processes from --config', async () => {
    const args = ['reboot-required', '--proc-root', fx.root, '--root', root];
    const r = await runCli(args);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /PID 10 run stale code/);
    const cfg = join(fx.root, 'ignore.toml');
    writeFileSync(cfg, '[scan]\nignore_processes = ["^dbus-daemon$"]\n');
    const ignored = await runCli([...args, '--config', cfg]);
    assert.equal(ignored.code, 0, ignored.stdout + ignored.stderr);
  });
});

describe('scan.interpreted = false is honoured by every command', {
  skip: isRoot ? false : 'needs root (a directory outside /tmp, which is noise)',
}, () => {
  let dir: string;
  let script: string;
  let cfgOff: string;
  let pid: number;
  before(async () => {
    // Not under /tmp: files there are filtered as noise.
    dir = mkdtempSync('/var/lib/afterpatch-options-test-');
    chmodSync(dir, 0o755);
    script = join(dir, 'app.js');
    const text = (v: number) =>
      `#!${process.execPath}\n// version ${v}\nconsole.log('ready');\nsetTimeout(() => {}, Number(process.argv[2]) * 1000);\n`;
    writeFileSync(script, text(1), { mode: 0o755 });
    [pid = 0] = await spawnHolders(script, 1, { maxLifetimeS: 120 });
    // Longer than the detector's tolerance (2 s) plus btime's rounding, then the "upgrade".
    await sleep(3500);
    writeFileSync(script, text(2), { mode: 0o755 });
    cfgOff = join(dir, 'off.toml');
    writeFileSync(cfgOff, '[scan]\ninterpreted = false\n');
  });
  after(async () => {
    await stopProcesses([pid]);
    rmSync(dir, { recursive: true, force: true });
  });
  const lib = () => ['--lib', `^${dir}/`];
  const state = () => ['--state-dir', join(dir, 'state')];

  it('scan sees the replaced script (the precondition), and not with the setting off', async () => {
    const on = await runCli(['scan', '--pid', String(pid), '--json']);
    assert.equal(on.code, 1, on.stdout + on.stderr);
    assert.ok(
      JSON.parse(on.stdout).processes[0].files.some((f: { path: string }) => f.path === script),
    );
    const off = await runCli(['scan', '--pid', String(pid), '--config', cfgOff]);
    assert.equal(off.code, 0, off.stdout);
  });

  it('check', async () => {
    const on = await runCli(['check', ...lib(), ...state(), '--reboot-state', 'ok']);
    assert.equal(on.code, 1, on.stdout + on.stderr);
    assert.match(on.stdout, /^AFTERPATCH WARNING - outdated code in 1 process/);
    const off = await runCli([
      'check',
      ...lib(),
      ...state(),
      '--reboot-state',
      'ok',
      '--config',
      cfgOff,
    ]);
    assert.equal(off.code, 0, off.stdout + off.stderr);
  });

  it('metrics', async () => {
    const value = (t: string) => /^afterpatch_outdated_processes (\d+)$/m.exec(t)?.[1];
    const on = await runCli(['metrics', ...lib(), ...state()]);
    assert.equal(on.code, 0, on.stderr);
    assert.equal(value(on.stdout), '1');
    assert.match(on.stdout, /^afterpatch_unmanaged_processes_outdated 1$/m);
    const off = await runCli(['metrics', ...lib(), ...state(), '--config', cfgOff]);
    assert.equal(value(off.stdout), '0');
  });

  it('restart --dry-run', async () => {
    const plan = async (...extra: string[]) => {
      const r = await runCli(['restart', '--dry-run', '--json', ...lib(), ...state(), ...extra]);
      assert.ok(r.code === 0 || r.code === 1, r.stdout + r.stderr);
      return JSON.stringify(JSON.parse(r.stdout));
    };
    assert.ok((await plan()).includes(String(pid)), 'the process is in the plan');
    assert.ok(!(await plan('--config', cfgOff)).includes(`${pid}`), 'not with the setting off');
  });
});
