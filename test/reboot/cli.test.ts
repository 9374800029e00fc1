import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../../harness/cli.ts';
import { FAKE_INIT, makeProcTree } from '../helpers/fakeproc.ts';

describe('afterpatch reboot-required', () => {
  let fx: ReturnType<typeof makeProcTree>;
  let root: string;
  before(() => {
    fx = makeProcTree({
      1: FAKE_INIT,
    });
    root = join(fx.root, 'fsroot');
    mkdirSync(join(root, 'run'), { recursive: true });
  });
  after(() => fx.cleanup());
  const args = (...a: string[]) => [
    'reboot-required',
    '--proc-root',
    fx.root,
    '--root',
    root,
    ...a,
  ];

  it('exits 0 and says so when nothing asks for a reboot', async () => {
    const r = await runCli(args());
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^No reboot required\./);
  });

  it('exits 1 with the evidence when a sentinel file exists', async () => {
    writeFileSync(join(root, 'run/reboot-required'), '*** System restart required ***\n');
    writeFileSync(join(root, 'run/reboot-required.pkgs'), 'libc6\n');
    const r = await runCli(args());
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /Reboot required:\n {2}- .*reboot-required exists \(packages: libc6\)/);
    const json = JSON.parse((await runCli(args('--json'))).stdout);
    assert.equal(json.format, 'afterpatch-reboot');
    assert.equal(json.required, true);
    assert.deepEqual(json.reasons[0].packages, ['libc6']);
    const quiet = await runCli(args('-q'));
    assert.deepEqual([quiet.code, quiet.stdout], [1, '']);
  });

  it('never exits 0 on an error (kured would read it as "reboot" through a negation)', async () => {
    const r = await runCli(['reboot-required', '--proc-root', '/nonexistent/proc']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^afterpatch: cannot list processes/);
    const bad = await runCli(['reboot-required', '--bogus']);
    assert.equal(bad.code, 2);
  });

  it('the documented kured command maps only "reboot needed" to success', async () => {
    // kured runs the sentinel command and reboots on exit 0: only afterpatch's 1 may become 0.
    const kured = (code: number) => (code === 1 ? 0 : 1);
    assert.equal(kured((await runCli(args('-q'))).code), 0);
    assert.equal(kured((await runCli(['reboot-required', '--proc-root', '/nonexistent'])).code), 1);
    assert.match(
      readFileSync(new URL('../../docs/reboot.md', import.meta.url), 'utf8'),
      /test \$\? -eq 1/,
    );
  });
});
