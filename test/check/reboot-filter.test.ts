// check, metrics: --lib, --unit and --package narrow what is reported, never the reboot
// verdict (docs/cli.md: reboot reasons are reported unchanged). A filter that hid the stale
// message bus made `check --lib libcrypto` say no reboot while the bus ran a deleted library.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../../harness/cli.ts';
import { healthOptions } from '../../src/check/health.ts';
import { defaultConfig } from '../../src/config/load.ts';
import { scanOptionsFrom } from '../../src/scan/options.ts';
import { FAKE_INIT, FAKE_STALE_DBUS, FAKE_STALE_SSHD, makeProcTree } from '../helpers/fakeproc.ts';

describe('the reboot verdict of check and metrics, whatever the filters', () => {
  let fx: ReturnType<typeof makeProcTree>;
  let root: string;
  before(() => {
    fx = makeProcTree({ 1: FAKE_INIT, 200: FAKE_STALE_SSHD, 300: FAKE_STALE_DBUS });
    root = join(fx.root, 'fsroot');
    mkdirSync(join(root, 'run'), { recursive: true });
  });
  after(() => fx.cleanup());
  const hidden = () => ['--proc-root', fx.root, '--root', root];
  const checkJson = async (...a: string[]) => {
    const r = await runCli(['check', '--json', ...hidden(), ...a]);
    return JSON.parse(r.stdout) as { reboot: { required: boolean } };
  };

  it('check --json: a reboot required with and without filters that hide the bus', async () => {
    assert.equal((await checkJson()).reboot.required, true);
    for (const filter of [
      ['--lib', 'libcrypto'],
      ['--unit', 'ssh.service'],
      ['--package', 'openssh-server'],
    ]) {
      assert.equal((await checkJson(...filter)).reboot.required, true, filter.join(' '));
    }
  });

  it('metrics: afterpatch_reboot_required 1 with --lib', async () => {
    const r = await runCli(['metrics', ...hidden(), '--lib', 'libcrypto']);
    assert.match(r.stdout, /^afterpatch_reboot_required 1$/m, r.stdout);
  });

  it('healthOptions: a separate scan for the verdict only when the reported one is narrowed', () => {
    const c = defaultConfig();
    assert.equal(healthOptions({}, c).rebootScan, undefined);
    assert.equal(healthOptions({ unit: [] }, c).rebootScan, undefined);
    assert.deepEqual(healthOptions({ lib: 'x' }, c).rebootScan, scanOptionsFrom(c, {}));
    assert.notEqual(healthOptions({ unit: ['a.service'] }, c).rebootScan, undefined);
    assert.notEqual(healthOptions({ packages: false }, c).rebootScan, undefined);
  });
});
