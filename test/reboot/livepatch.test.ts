import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { runCli } from '../../harness/cli.ts';
import { assessReboot, type RebootResult } from '../../src/reboot/detect.ts';
import { gatherRebootInput } from '../../src/reboot/gather.ts';
import { activeLivepatches, readLivepatches } from '../../src/reboot/livepatch.ts';
import { describeReason } from '../../src/reboot/reboot.ts';
import { FAKE_INIT, makeProcTree } from '../helpers/fakeproc.ts';

const RUNNING = '6.8.0-45-generic';
const NEWER = '6.8.0-49-generic';
const BUILD = '#45-Ubuntu SMP PREEMPT_DYNAMIC Fri Aug 30 12:02:04 UTC 2024';

const made: string[] = [];
after(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

function write(base: string, files: Record<string, string | Buffer>): void {
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(dirname(join(base, rel)), { recursive: true });
    writeFileSync(join(base, rel), content);
  }
}

/** `/sys/kernel/livepatch/<name>/{enabled,transition}` entries. */
function klp(patches: Record<string, { enabled: string; transition?: string }>) {
  const files: Record<string, string> = {};
  for (const [name, p] of Object.entries(patches)) {
    files[`sys/kernel/livepatch/${name}/enabled`] = `${p.enabled}\n`;
    if (p.transition !== undefined) {
      files[`sys/kernel/livepatch/${name}/transition`] = `${p.transition}\n`;
    }
  }
  return files;
}

/** An Ubuntu host running RUNNING with NEWER installed, plus the given files under its root. */
function ubuntuHost(files: Record<string, string | Buffer> = {}): {
  root: string;
  procRoot: string;
} {
  const root = mkdtempSync(join(tmpdir(), 'afterpatch-klp-root-'));
  const procRoot = mkdtempSync(join(tmpdir(), 'afterpatch-klp-proc-'));
  made.push(root, procRoot);
  write(root, {
    'var/lib/dpkg/status': '',
    [`boot/vmlinuz-${RUNNING}`]: Buffer.alloc(16),
    [`boot/vmlinuz-${NEWER}`]: Buffer.alloc(16),
    ...files,
  });
  write(procRoot, {
    'sys/kernel/osrelease': `${RUNNING}\n`,
    'sys/kernel/version': `${BUILD}\n`,
    '1/cgroup': '0::/init.scope\n',
  });
  return { root, procRoot };
}

const assess = (h: { root: string; procRoot: string }, trust = false): RebootResult =>
  assessReboot({ ...gatherRebootInput(h), settings: { trustLivepatch: trust } });

describe('reading live patches from sysfs', () => {
  it('lists klp patches with enabled and transition, and old kpatch patches', () => {
    const h = ubuntuHost({
      ...klp({
        lkp_Ubuntu_6_8_0_45_49_generic_113: { enabled: '1', transition: '0' },
        livepatch_cve_2024_1086: { enabled: '1', transition: '1' },
        livepatch_old: { enabled: '0', transition: '0' },
      }),
      'sys/kernel/kpatch/patches/kpatch_3_10_0_1/enabled': '1\n',
    });
    const notes: string[] = [];
    const patches = readLivepatches(h.root, notes);
    assert.deepEqual(patches, [
      { name: 'livepatch_cve_2024_1086', source: 'livepatch', enabled: true, transition: true },
      { name: 'livepatch_old', source: 'livepatch', enabled: false, transition: false },
      {
        name: 'lkp_Ubuntu_6_8_0_45_49_generic_113',
        source: 'livepatch',
        enabled: true,
        transition: false,
      },
      { name: 'kpatch_3_10_0_1', source: 'kpatch', enabled: true, transition: null },
    ]);
    assert.deepEqual(notes, []);
    assert.deepEqual(
      activeLivepatches(patches).map((p) => p.name),
      ['lkp_Ubuntu_6_8_0_45_49_generic_113', 'kpatch_3_10_0_1'],
    );
  });

  it('no livepatch directory: none, no note', () => {
    const notes: string[] = [];
    assert.deepEqual(readLivepatches(ubuntuHost().root, notes), []);
    assert.deepEqual(notes, []);
  });

  it('an unreadable or garbled enabled file is a note and counts as not enabled', () => {
    const h = ubuntuHost(klp({ lp_garbled: { enabled: 'yes' } }));
    mkdirSync(join(h.root, 'sys/kernel/livepatch/lp_dir/enabled'), { recursive: true });
    const notes: string[] = [];
    const patches = readLivepatches(h.root, notes);
    assert.deepEqual(
      patches.map((p) => [p.name, p.enabled]),
      [
        ['lp_dir', null],
        ['lp_garbled', null],
      ],
    );
    assert.equal(activeLivepatches(patches).length, 0);
    assert.ok(
      notes.some((n) => /lp_dir\/enabled: EISDIR$/.test(n)),
      notes.join('\n'),
    );
    assert.ok(
      notes.some((n) => /lp_garbled: no readable enabled state$/.test(n)),
      notes.join('\n'),
    );
  });

  it('a livepatch path that is a file, not a directory, is a note (never a crash)', () => {
    const h = ubuntuHost({ 'sys/kernel/livepatch': 'not a directory' });
    const notes: string[] = [];
    assert.deepEqual(readLivepatches(h.root, notes), []);
    // ENOTDIR reads as "absent"; nothing to report.
    assert.deepEqual(notes, []);
  });
});

describe('live patches beside the kernel reasons', () => {
  const patched = () =>
    ubuntuHost(klp({ lkp_Ubuntu_6_8_0_45_49_generic_113: { enabled: '1', transition: '0' } }));

  it('names the active patch on the newer-kernel reason; still required by default', () => {
    const r = assess(patched());
    assert.equal(r.required, true);
    const [reason] = r.reasons;
    assert.deepEqual(reason, {
      type: 'kernel-newer',
      running: RUNNING,
      newest: NEWER,
      livepatches: ['lkp_Ubuntu_6_8_0_45_49_generic_113'],
    });
    assert.equal(
      reason && describeReason(reason),
      `kernel ${NEWER} is installed, ${RUNNING} is running; running kernel live-patched by lkp_Ubuntu_6_8_0_45_49_generic_113`,
    );
    assert.equal(r.livepatches?.length, 1);
  });

  it('without a patch the reason has no livepatches field', () => {
    const r = assess(ubuntuHost());
    assert.deepEqual(r.reasons, [{ type: 'kernel-newer', running: RUNNING, newest: NEWER }]);
  });

  it('trust_livepatch waives kernel reasons and kernel-only sentinels, nothing else', () => {
    const h = patched();
    write(h.root, {
      'run/reboot-required': '*** System restart required ***\n',
      'run/reboot-required.pkgs': `linux-image-${NEWER}\nlinux-base\n`,
    });
    const r = assess(h, true);
    assert.equal(r.required, false);
    assert.deepEqual(r.reasons, []);
    assert.deepEqual(
      r.waived?.map((w) => [w.reason.type, w.by]),
      [
        ['kernel-newer', 'reboot.trust_livepatch = true'],
        ['sentinel', 'reboot.trust_livepatch = true'],
      ],
    );
    // A package other than the kernel's asked for the reboot: that still counts.
    write(h.root, { 'run/reboot-required.pkgs': `linux-image-${NEWER}\nlibc6\n` });
    const mixed = assess(h, true);
    assert.equal(mixed.required, true);
    assert.deepEqual(
      mixed.reasons.map((x) => x.type),
      ['sentinel'],
    );
  });

  it('a patch still in transition, or disabled, is not trusted', () => {
    for (const p of [
      { enabled: '1', transition: '1' },
      { enabled: '0', transition: '0' },
    ]) {
      const r = assess(ubuntuHost(klp({ livepatch_x: p })), true);
      assert.equal(r.required, true);
      assert.deepEqual(r.reasons, [{ type: 'kernel-newer', running: RUNNING, newest: NEWER }]);
      assert.ok(
        r.notes.some((n) =>
          /^reboot\.trust_livepatch: no live patch is enabled and complete \(livepatch_x\)/.test(n),
        ),
        r.notes.join('\n'),
      );
    }
  });

  it('in a container, the host kernel’s patches are not read', () => {
    const h = patched();
    write(h.root, { '.dockerenv': '' });
    const r = assess(h, true);
    assert.deepEqual(r.livepatches, []);
    assert.equal(r.applicable, false);
  });
});

describe('reboot-required with live patches', () => {
  const fx = makeProcTree({ 1: FAKE_INIT });
  after(() => fx.cleanup());
  const root = join(fx.root, 'fsroot');
  write(fx.root, { 'sys/kernel/osrelease': `${RUNNING}\n`, 'sys/kernel/version': `${BUILD}\n` });
  write(root, {
    'var/lib/dpkg/status': '',
    [`boot/vmlinuz-${RUNNING}`]: Buffer.alloc(16),
    [`boot/vmlinuz-${NEWER}`]: Buffer.alloc(16),
    ...klp({ livepatch_cve_2024_1086: { enabled: '1', transition: '0' } }),
  });
  const where = ['--proc-root', fx.root, '--root', root];

  it('text and JSON show the patch; trust_livepatch = true turns exit 1 into 0', async () => {
    const r = await runCli(['reboot-required', ...where]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /running kernel live-patched by livepatch_cve_2024_1086/);
    const json = JSON.parse((await runCli(['reboot-required', '--json', ...where])).stdout);
    assert.deepEqual(json.livepatches, [
      { name: 'livepatch_cve_2024_1086', source: 'livepatch', enabled: true, transition: false },
    ]);
    assert.deepEqual(json.reasons[0].livepatches, ['livepatch_cve_2024_1086']);

    const config = join(fx.root, 'trust.toml');
    writeFileSync(config, '[reboot]\ntrust_livepatch = true\n');
    const trusted = await runCli(['reboot-required', '--config', config, ...where]);
    assert.equal(trusted.code, 0, trusted.stderr);
    assert.match(trusted.stdout, /^No reboot required\./);
    assert.match(
      trusted.stdout,
      /note: not counted \(reboot\.trust_livepatch = true\): kernel 6\.8\.0-49-generic is installed/,
    );
    const doc = JSON.parse(
      (await runCli(['reboot-required', '--json', '--config', config, ...where])).stdout,
    );
    assert.equal(doc.required, false);
    assert.equal(doc.waived[0].reason.type, 'kernel-newer');
  });

  it('a bad [reboot] value is a one-line configuration error, exit 2', async () => {
    const config = join(fx.root, 'bad.toml');
    writeFileSync(config, '[reboot]\ntrust_livepatch = "yes"\n');
    const r = await runCli(['reboot-required', '--config', config, ...where]);
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      /^afterpatch: .*bad\.toml:2: reboot\.trust_livepatch: must be true or false/,
    );
  });
});
