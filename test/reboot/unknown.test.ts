// The reboot verdict is "no reboot" only when its evidence was read: an unknown running kernel
// (sys/kernel/osrelease missing, empty, a directory), installed kernels that cannot be listed or a
// /run whose sentinel cannot be looked for make it unknown — reboot-required exits 3, check says
// UNKNOWN, metrics exports afterpatch_reboot_required_unknown 1 — never "No reboot required".
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { runCli } from '../../harness/cli.ts';
import { rebootExitCode } from '../../src/exit.ts';
import { assessReboot } from '../../src/reboot/detect.ts';
import { gatherRebootInput } from '../../src/reboot/gather.ts';
import { FAKE_INIT, makeProcTree } from '../helpers/fakeproc.ts';

const RUNNING = '6.1.0-20-amd64';
const NEWER = '6.1.0-30-amd64';
const NOBODY = 65534;
const isRoot = process.geteuid?.() === 0;

describe('reboot-required with unreadable evidence', () => {
  let fx: ReturnType<typeof makeProcTree>;
  let root: string;
  const osrelease = () => join(fx.root, 'sys/kernel/osrelease');
  before(() => {
    fx = makeProcTree({ 1: FAKE_INIT }, { kernel: RUNNING });
    chmodSync(fx.root, 0o755);
    root = join(fx.root, 'fsroot');
  });
  beforeEach(() => {
    // A Debian root with a newer kernel image installed than the one running.
    rmSync(root, { recursive: true, force: true });
    for (const d of [
      'boot',
      'run',
      'var/lib/dpkg',
      `lib/modules/${RUNNING}`,
      `lib/modules/${NEWER}`,
    ])
      mkdirSync(join(root, d), { recursive: true });
    writeFileSync(join(root, 'var/lib/dpkg/status'), '');
    writeFileSync(join(root, `boot/vmlinuz-${RUNNING}`), '');
    writeFileSync(join(root, `boot/vmlinuz-${NEWER}`), '');
    rmSync(osrelease(), { recursive: true, force: true });
    writeFileSync(osrelease(), `${RUNNING}\n`);
  });
  after(() => fx.cleanup());
  const gather = () => assessReboot(gatherRebootInput({ root, procRoot: fx.root }));
  const cli = (command: string, ...a: string[]) =>
    runCli([command, '--proc-root', fx.root, '--root', root, ...a]);

  it('the fixture, read: a reboot for the newer kernel', () => {
    const r = gather();
    assert.deepEqual(r.reasons, [{ type: 'kernel-newer', running: RUNNING, newest: NEWER }]);
    assert.deepEqual(r.unknown, []);
  });

  for (const [what, make] of [
    ['missing', () => rmSync(osrelease())],
    ['empty', () => writeFileSync(osrelease(), '')],
    [
      'a directory',
      () => {
        rmSync(osrelease());
        mkdirSync(osrelease());
      },
    ],
  ] as const) {
    it(`sys/kernel/osrelease ${what}: unknown, exit 3, check UNKNOWN, metrics unknown`, async () => {
      make();
      const r = gather();
      assert.equal(r.required, false);
      assert.match((r.unknown ?? []).join('\n'), /the running kernel release is unknown/);
      assert.equal(rebootExitCode(r), 3);
      const text = await cli('reboot-required');
      assert.equal(text.code, 3, text.stdout + text.stderr);
      assert.doesNotMatch(text.stdout, /No reboot required/);
      assert.match(
        text.stdout,
        /^Unknown whether a reboot is required: evidence could not be read:\n {2}- the running kernel release is unknown/,
      );
      const json = JSON.parse((await cli('reboot-required', '--json')).stdout);
      assert.equal(json.required, false);
      assert.equal(json.unknown.length, 1);
      const check = await cli('check', '--state-dir', join(fx.root, 'none'));
      assert.equal(check.code, 3, check.stdout);
      assert.match(check.stdout, /^AFTERPATCH UNKNOWN - .*reboot unknown \(evidence unreadable\)/);
      assert.match(check.stdout, /^reboot unknown: the running kernel release is unknown/m);
      const m = await cli('metrics', '--state-dir', join(fx.root, 'none'));
      assert.match(m.stdout, /^afterpatch_reboot_required 0$/m);
      assert.match(m.stdout, /^afterpatch_reboot_required_unknown 1$/m);
      // scan --reboot: nothing stale, but the verdict is unknown: 3, never 0.
      assert.equal((await cli('scan', '--reboot')).code, 3);
    });
  }

  it('a /boot that cannot be listed (ELOOP) beside modules of a newer kernel: unknown', () => {
    rmSync(join(root, 'boot'), { recursive: true });
    symlinkSync('boot', join(root, 'boot'));
    const r = gather();
    assert.deepEqual(r.reasons, []);
    assert.match(
      (r.unknown ?? []).join('\n'),
      new RegExp(`cannot list .*boot: ELOOP: whether ${NEWER} can be booted cannot be told`),
    );
    assert.equal(rebootExitCode(r), 3);
  });

  it('a /boot that cannot be listed, the modules showing no newer kernel: a note, no reboot (an EFI /boot with dmask=0077, read without root)', () => {
    rmSync(join(root, 'boot'), { recursive: true });
    symlinkSync('boot', join(root, 'boot'));
    rmSync(join(root, `lib/modules/${NEWER}`), { recursive: true });
    const r = gather();
    assert.deepEqual(r.reasons, []);
    assert.deepEqual(r.unknown, []);
    assert.match(
      r.notes.join('\n'),
      /cannot list .*boot: ELOOP \(the modules directories show no newer kernel\)/,
    );
    assert.equal(rebootExitCode(r), 0);
  });

  it('a modules directory that cannot be listed (ELOOP), no newer image in /boot: unknown', () => {
    rmSync(join(root, `boot/vmlinuz-${NEWER}`));
    rmSync(join(root, 'lib/modules'), { recursive: true });
    symlinkSync('modules', join(root, 'lib/modules'));
    const r = gather();
    assert.match(
      (r.unknown ?? []).join('\n'),
      /cannot list installed kernels in .*lib\/modules: ELOOP/,
    );
    assert.equal(rebootExitCode(r), 3);
  });

  it('a /run that cannot be looked into (ELOOP): unknown, not "no sentinel"', () => {
    writeFileSync(osrelease(), `${NEWER}\n`);
    rmSync(join(root, 'run'), { recursive: true });
    symlinkSync('run', join(root, 'run'));
    const r = gather();
    assert.deepEqual(r.reasons, []);
    assert.match(
      (r.unknown ?? []).join('\n'),
      /cannot tell whether .*run\/reboot-required exists: ELOOP/,
    );
    assert.equal(rebootExitCode(r), 3);
  });

  it('a reason found stands; what could not be read is a note', async () => {
    rmSync(join(root, 'run'), { recursive: true });
    symlinkSync('run', join(root, 'run'));
    const r = await cli('reboot-required');
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stdout, /^Reboot required:\n {2}- kernel 6\.1\.0-30-amd64 is installed/);
    assert.match(r.stdout, /^ {2}note: not checked: cannot tell whether .*exists: ELOOP$/m);
  });

  it('in a container the kernel checks do not apply: an unknown kernel is no doubt there', () => {
    rmSync(osrelease());
    writeFileSync(join(root, '.dockerenv'), '');
    const r = gather();
    assert.deepEqual(r.unknown, []);
    assert.equal(rebootExitCode(r), 0);
  });

  it('as nobody: /boot, /lib/modules and /run at mode 700 are unknown (EACCES), never "No reboot required"', {
    skip: isRoot ? false : 'needs root to run as another user',
  }, async () => {
    writeFileSync(osrelease(), `${NEWER}\n`);
    writeFileSync(join(root, 'run/reboot-required'), '*** System restart required ***\n');
    for (const d of ['boot', 'lib/modules', 'run']) chmodSync(join(root, d), 0o700);
    for (const d of [root, join(root, 'lib'), join(root, 'var'), join(root, 'var/lib')])
      chmodSync(d, 0o755);
    const r = await runCli(['reboot-required', '--proc-root', fx.root, '--root', root], {
      uid: NOBODY,
      gid: NOBODY,
    });
    assert.equal(r.code, 3, r.stdout + r.stderr);
    assert.match(r.stdout, /cannot list installed kernels in .*lib\/modules: EACCES/);
    assert.match(r.stdout, /cannot tell whether .*run\/reboot-required exists: EACCES/);
    const m = await runCli(
      ['metrics', '--proc-root', fx.root, '--root', root, '--state-dir', join(fx.root, 'none')],
      { uid: NOBODY, gid: NOBODY },
    );
    assert.match(m.stdout, /^afterpatch_reboot_required_unknown 1$/m, m.stderr);
  });
});

describe('reboot-required over a scan that could not read every process', () => {
  let fx: ReturnType<typeof makeProcTree>;
  let root: string;
  before(() => {
    // Nothing else to reboot for: only the running kernel is installed.
    fx = makeProcTree({ 1: FAKE_INIT, 20: { name: 'dbus-daemon' } }, { kernel: RUNNING });
    root = join(fx.root, 'fsroot');
    for (const d of ['boot', 'run', 'var/lib/dpkg', `lib/modules/${RUNNING}`])
      mkdirSync(join(root, d), { recursive: true });
    writeFileSync(join(root, 'var/lib/dpkg/status'), '');
    writeFileSync(join(root, `boot/vmlinuz-${RUNNING}`), '');
  });
  after(() => fx.cleanup());
  const cli = () => runCli(['reboot-required', '--proc-root', fx.root, '--root', root]);

  it('every process read: no reboot (the control)', async () => {
    writeFileSync(join(fx.root, '20', 'maps'), '');
    const r = await cli();
    assert.equal(r.code, 0, `${r.stdout}${r.stderr}`);
  });

  it('a process whose maps failed to read (ELOOP): unknown, exit 3 — it may hold stale code only a reboot replaces', async () => {
    rmSync(join(fx.root, '20', 'maps'), { force: true });
    symlinkSync('maps', join(fx.root, '20', 'maps'));
    const r = await cli();
    assert.equal(r.code, 3, `${r.stdout}${r.stderr}`);
    assert.match(
      `${r.stdout}${r.stderr}`,
      /1 process could not be read \(ELOOP[^)]*\): stale code only a reboot replaces may be among them/,
    );
  });
});
