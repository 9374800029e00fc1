// `restart --rescan`: the host after the restart (scan again, reboot verdict) in the restart's own
// run and document — the Ansible module's restart batch in one CLI process — and what was done is
// still reported when that rescan fails.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as v from 'valibot';
import { runCli } from '../../harness/cli.ts';
import { RestartDocumentSchema } from '../../src/formats/restart.ts';
import { writeFakeSystemctl } from '../helpers/fake-systemctl.ts';
import { FAKE_INIT, FAKE_STALE_DBUS, FAKE_STALE_SSHD, makeProcTree } from '../helpers/fakeproc.ts';

describe('afterpatch restart --rescan', () => {
  let dir: string;
  let fx: ReturnType<typeof makeProcTree>;
  let n = 0;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'afterpatch-rescan-'));
    fx = makeProcTree({
      1: FAKE_INIT,
      10: FAKE_STALE_SSHD,
      20: FAKE_STALE_DBUS,
    });
    mkdirSync(join(dir, 'bin'));
    writeFakeSystemctl(join(dir, 'bin'));
  });
  after(() => {
    fx.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });
  const env = () => ({ ...process.env, PATH: `${join(dir, 'bin')}:${process.env.PATH}` });
  /** A fresh root and state directory for each run. */
  const restart = (...a: string[]) => {
    const root = join(dir, `root-${n++}`);
    mkdirSync(join(root, 'run'), { recursive: true });
    const args = [
      'restart',
      '--proc-root',
      fx.root,
      '--root',
      root,
      '--state-dir',
      `${root}.state`,
    ];
    return { root, run: () => runCli([...args, ...a], { env: env() }) };
  };

  it('the document carries the host after the restart: a scan --json --reboot document', async () => {
    const r = await restart('--yes', '--json', '--rescan', '--unit', 'ssh.service').run();
    // The fake systemctl restarts nothing: sshd keeps its old library (not verified, exit 2).
    assert.equal(r.code, 2, r.stderr);
    const doc = JSON.parse(r.stdout);
    const check = v.safeParse(RestartDocumentSchema, doc);
    assert.ok(check.success, JSON.stringify(check.issues?.[0]));
    assert.deepEqual(
      doc.results.map((x: { unit: string }) => x.unit),
      ['ssh.service'],
    );
    assert.equal(doc.rescan.format, 'afterpatch-scan');
    // The same filters as the plan: ssh.service, still stale.
    assert.deepEqual(
      doc.rescan.entries.map((e: { unit: string }) => e.unit),
      ['ssh.service'],
    );
    // The verdict is not narrowed by --unit: the bus daemon's reason is in it.
    assert.equal(doc.rescan.reboot.required, true);
    assert.deepEqual(
      doc.rescan.reboot.reasons.map((x: { pids: number[] }) => x.pids),
      [[20]],
    );
    assert.equal(r.stderr.includes('rescan'), false, r.stderr);
  });

  it('nothing to restart: the plan\u2019s scan is the rescan; text output shows it after the plan', async () => {
    const r = await restart('--yes', '--json', '--rescan', '--lib', 'nothing-matches').run();
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout);
    assert.deepEqual(doc.results, []);
    assert.deepEqual(doc.rescan.entries, []);
    assert.equal(doc.rescan.reboot.required, true);
    const text = await restart('--yes', '--rescan', '--lib', 'nothing-matches').run();
    assert.match(text.stdout, /\nAfter the restart:\n[\s\S]*\nReboot required:\n/);
  });

  it('--sentinel writes the sentinel, needs --rescan and refuses --dry-run', async () => {
    const ok = restart('--yes', '--json', '--rescan', '--sentinel', '--lib', 'nothing-matches');
    const r = await ok.run();
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      JSON.parse(r.stdout).rescan.reboot.sentinelFile,
      join(ok.root, 'run/reboot-required'),
    );
    for (const [args, why] of [
      [['--yes', '--sentinel'], /^afterpatch: --sentinel needs --rescan/],
      [
        ['--dry-run', '--rescan', '--sentinel'],
        /^afterpatch: --sentinel writes to the host; not with --dry-run/,
      ],
    ] as const) {
      const bad = await restart(...args).run();
      assert.equal(bad.code, 3, bad.stderr);
      assert.equal(bad.stdout, '');
      assert.match(bad.stderr, why);
    }
  });

  it('a rescan that fails: the restart is reported all the same, rescan null and why, one line on stderr', async () => {
    const broken = restart('--yes', '--json', '--rescan', '--sentinel', '--unit', 'ssh.service');
    // The sentinel cannot be written: /run is a file.
    rmSync(join(broken.root, 'run'), { recursive: true });
    writeFileSync(join(broken.root, 'run'), 'not a directory\n');
    const r = await broken.run();
    assert.equal(r.code, 2, 'the restart\u2019s own status (not verified)');
    const doc = JSON.parse(r.stdout);
    assert.deepEqual(
      doc.results.map((x: { unit: string }) => x.unit),
      ['ssh.service'],
    );
    assert.equal(doc.rescan, null);
    assert.match(doc.rescanError, /cannot write the reboot sentinel/);
    assert.match(
      r.stderr,
      /^afterpatch: the scan after the restart \(--rescan\) failed: cannot write the reboot sentinel/m,
    );
    assert.doesNotMatch(r.stderr, /this is a bug/);
  });
});
