// One builder of scan options (src/scan/options.ts) for every command that scans: the
// configuration's scan settings are honoured by scan, restart, check, metrics, serve and
// reboot-required alike. That `scan.interpreted = false` hides a real replaced script from every
// command is proven on the machine's own /proc in options-real.integration.test.ts.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../../harness/cli.ts';
import { defaultConfig, parseConfig } from '../../src/config/load.ts';
import { scanOptionsFrom } from '../../src/scan/options.ts';
import { FAKE_INIT, makeProcTree, mapsLine } from '../helpers/fakeproc.ts';

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
