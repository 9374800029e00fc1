// `scan --reboot`: reboot-required's verdict in the scan's own run (the Ansible module's one CLI
// call per task), the same answer whatever the scan's filters, and an error — never a scan
// without it — when the verdict cannot be had.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import * as v from 'valibot';
import { runCli } from '../../harness/cli.ts';
import { ScanDocumentSchema } from '../../src/formats/scan.ts';
import { rebootScanOf, scanServesReboot } from '../../src/reboot/for-scan.ts';
import { scan } from '../../src/scan/scan.ts';
import { FAKE_INIT, FAKE_STALE_DBUS, FAKE_STALE_SSHD, makeProcTree } from '../helpers/fakeproc.ts';

describe('scan --reboot', () => {
  let fx: ReturnType<typeof makeProcTree>;
  let root: string;
  before(() => {
    fx = makeProcTree({
      1: FAKE_INIT,
      200: FAKE_STALE_SSHD,
      300: FAKE_STALE_DBUS,
    });
    root = join(fx.root, 'fsroot');
  });
  beforeEach(() => {
    rmSync(join(root, 'run'), { recursive: true, force: true });
    mkdirSync(join(root, 'run'), { recursive: true });
  });
  after(() => fx.cleanup());
  const hidden = () => ['--proc-root', fx.root, '--root', root];
  const scanJson = async (...a: string[]) => {
    const r = await runCli(['scan', '--json', '--reboot', ...hidden(), ...a]);
    return { ...r, doc: r.stdout === '' ? null : JSON.parse(r.stdout) };
  };
  const rebootAlone = async (...a: string[]) =>
    JSON.parse((await runCli(['reboot-required', '--json', ...hidden(), ...a])).stdout);
  // What may differ between two runs of the same verdict.
  const verdict = (d: Record<string, unknown>) => {
    const { time: _t, ...rest } = d;
    return rest;
  };

  it("carries reboot-required's document, the same verdict, and validates", async () => {
    const r = await scanJson();
    assert.equal(r.code, 1, r.stderr);
    const check = v.safeParse(ScanDocumentSchema, r.doc);
    assert.ok(check.success, JSON.stringify(check.issues?.[0]));
    assert.equal(r.doc.reboot.format, 'afterpatch-reboot');
    assert.equal(r.doc.reboot.hostname, r.doc.hostname);
    assert.equal(r.doc.reboot.required, true);
    assert.deepEqual(
      r.doc.reboot.reasons.map((x: { type: string; pids?: number[] }) => [x.type, x.pids]),
      [['stale-package', [300]]],
    );
    assert.deepEqual(verdict(r.doc.reboot), verdict(await rebootAlone()));
    // Without --reboot the document is as before: no reboot field.
    const plain = JSON.parse((await runCli(['scan', '--json', ...hidden()])).stdout);
    assert.equal('reboot' in plain, false);
  });

  it('filters narrow the scan, never the verdict', async () => {
    const r = await scanJson('--lib', 'libcrypto');
    assert.equal(r.code, 1, r.stderr);
    assert.deepEqual(
      r.doc.entries.map((e: { unit: string }) => e.unit),
      ['ssh.service'],
    );
    // dbus.service is not in the filtered scan, its reason is still in the verdict.
    assert.equal(r.doc.reboot.required, true);
    assert.deepEqual(verdict(r.doc.reboot), verdict(await rebootAlone()));
    for (const flags of [
      ['--unit', 'ssh.service'],
      ['--package', 'libssl3'],
      ['--pid', '200'],
      ['--no-packages'],
    ]) {
      const f = await scanJson(...flags);
      assert.deepEqual(verdict(f.doc.reboot), verdict(await rebootAlone()), flags.join(' '));
    }
  });

  it('a required reboot alone makes the exit status 1; the text says it after the scan', async () => {
    const r = await runCli(['scan', '--reboot', ...hidden(), '--pid', '200', '--pid', '1']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /ssh\.service[\s\S]*\nReboot required:\n {2}- PID 300 run stale code/);
    const clean = await runCli(['scan', '--reboot', ...hidden(), '--pid', '1']);
    assert.equal(clean.code, 1, 'clean scan, but dbus needs a reboot');
    const noReboot = await runCli(['scan', '--reboot', ...hidden(), '--unit', 'nothing.service']);
    assert.equal(noReboot.code, 1);
  });

  it('--sentinel writes the sentinel like reboot-required --sentinel, and needs --reboot', async () => {
    const r = await scanJson('--sentinel');
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.doc.reboot.sentinelFile, join(root, 'run/reboot-required'));
    assert.match(readFileSync(join(root, 'run/reboot-required'), 'utf8'), /restart required/i);
    // Regression: a stale file of no package made reboot-required --sentinel itself fail ("a bug").
    rmSync(join(root, 'run/reboot-required'));
    const own = await runCli(['reboot-required', '--sentinel', ...hidden()]);
    assert.equal(own.code, 1, own.stderr);
    assert.match(readFileSync(join(root, 'run/reboot-required'), 'utf8'), /restart required/i);
    const alone = await runCli(['scan', '--json', '--sentinel', ...hidden()]);
    assert.equal(alone.code, 2);
    assert.equal(alone.stdout, '');
    assert.match(alone.stderr, /^afterpatch: --sentinel needs --reboot/);
  });

  it('a verdict that cannot be had is an error with nothing on stdout, never a scan without it', async () => {
    // The sentinel cannot be written: /run is a file.
    rmSync(join(root, 'run'), { recursive: true, force: true });
    writeFileSync(join(root, 'run'), 'not a directory\n');
    const r = await scanJson('--sentinel');
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^afterpatch: cannot write the reboot sentinel/);
  });

  it('`report` reads the verdict a scan document carries', async () => {
    const dir = join(fx.root, 'report');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'web1.json'), (await scanJson('--unit', 'nothing.service')).stdout);
    const r = await runCli(['report', '--json', join(dir, 'web1.json')]);
    const fleet = JSON.parse(r.stdout);
    assert.equal(r.code, 1, r.stderr);
    assert.deepEqual(
      [fleet.hosts[0].needsRestart, fleet.hosts[0].needsReboot],
      [false, true],
      'clean scan, reboot needed',
    );
    const broken = JSON.parse(readFileSync(join(dir, 'web1.json'), 'utf8'));
    broken.reboot = { required: 'maybe' };
    writeFileSync(join(dir, 'bad.json'), JSON.stringify(broken));
    const bad = await runCli(['report', join(dir, 'bad.json')]);
    assert.equal(bad.code, 2);
    assert.equal(bad.stdout, '');
    assert.match(bad.stderr, /"reboot" of host .*'s scan is not a usable result/);
  });
});

describe('rebootScanOf', () => {
  let fx: ReturnType<typeof makeProcTree>;
  before(() => {
    fx = makeProcTree({ 1: FAKE_INIT, 200: FAKE_STALE_SSHD, 300: FAKE_STALE_DBUS });
  });
  after(() => fx.cleanup());
  const pidsOf = (r: { processes: { pid: number }[] } | undefined) =>
    r?.processes.map((p) => p.pid);

  it('serves the verdict from what a --lib, --unit or --package scan read before narrowing', async () => {
    const root = join(fx.root, 'fsroot');
    for (const [flags, filters] of [
      [{ lib: 'libcrypto' }, { lib: 'libcrypto' }],
      [{ unit: ['ssh.service'] }, { units: ['ssh.service'] }],
      // No package database in the fake root: the package filter keeps nothing.
      [{ package: ['libssl3'] }, { packages: ['libssl3'] }],
    ] as const) {
      const r = await scan({ procRoot: fx.root, hostRoot: root, filters });
      assert.deepEqual(
        pidsOf(r),
        'lib' in flags || 'unit' in flags ? [200] : [],
        JSON.stringify(flags),
      );
      // One scan: the verdict's processes are the unnarrowed ones, dbus-daemon's included.
      assert.deepEqual(pidsOf(rebootScanOf(r, flags)), [200, 300], JSON.stringify(flags));
    }
  });

  it('asks for a scan of its own when the scan read less or looked up no packages', async () => {
    const root = join(fx.root, 'fsroot');
    const byPid = await scan({ procRoot: fx.root, hostRoot: root, filters: { pids: [200] } });
    assert.equal(rebootScanOf(byPid, { pid: [200] }), undefined);
    const noOwners = await scan({
      procRoot: fx.root,
      hostRoot: root,
      filters: { lib: 'libcrypto' },
      fileOwners: false,
    });
    assert.equal(rebootScanOf(noOwners, { lib: 'libcrypto' }), undefined);
    const noPackages = await scan({ procRoot: fx.root, hostRoot: root, packages: false });
    assert.equal(rebootScanOf(noPackages, { packages: false }), undefined);
    const all = await scan({ procRoot: fx.root, hostRoot: root, filters: { lib: 'x' } });
    assert.equal(rebootScanOf(all, { lib: 'x', all: true }), undefined);
  });
});

describe('scanServesReboot', () => {
  it('reuses only a scan that saw what reboot-required would scan', () => {
    assert.equal(scanServesReboot({ unit: [], pid: [], package: [], include: [] }), true);
    assert.equal(scanServesReboot({ fixed: ['openssl=3'], threads: 2, packages: true }), true);
    for (const f of [
      { lib: 'ssl' },
      { unit: ['a.service'] },
      { pid: [1] },
      { package: ['openssl'] },
      { include: ['tmpfs'] },
      { all: true },
      { packages: false },
      { interpreted: false },
    ]) {
      assert.equal(scanServesReboot(f), false, JSON.stringify(f));
    }
  });
});
