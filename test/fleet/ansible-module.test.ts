// Runs the real Ansible module file (integrations/ansible/library/afterpatch) as Ansible does,
// `node <module> <args.json>`, against the built CLI reading a fake /proc through a wrapper.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CLI } from '../helpers/cli.ts';
import { writeFakeSystemctl } from '../helpers/fake-systemctl.ts';
import { FAKE_INIT, FAKE_STALE_SSHD, makeProcTree } from '../helpers/fakeproc.ts';

const MODULE = fileURLToPath(
  new URL('../../integrations/ansible/library/afterpatch', import.meta.url),
);

interface ModuleRun {
  code: number;
  stdout: string;
  result: Record<string, unknown>;
}

describe('Ansible module afterpatch', () => {
  let dir: string;
  let fx: ReturnType<typeof makeProcTree>;
  let wrapper: string;
  let oldWrapper: string;
  let PATH: string;
  let n = 0;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'afterpatch-module-'));
    fx = makeProcTree({
      1: FAKE_INIT,
      10: FAKE_STALE_SSHD,
    });
    mkdirSync(join(dir, 'root'));
    mkdirSync(join(dir, 'bin'));
    // The hidden --proc-root exists on scan, restart and reboot-required (which also takes --root).
    wrapper = join(dir, 'afterpatch');
    writeFileSync(
      wrapper,
      `#!/bin/sh
cli='${CLI}'
case "$1" in
  scan) shift; exec '${process.execPath}' "$cli" scan --proc-root '${fx.root}' "$@" ;;
  restart) shift; exec '${process.execPath}' "$cli" restart --proc-root '${fx.root}' --state-dir '${dir}/state' "$@" ;;
  reboot-required) shift; exec '${process.execPath}' "$cli" reboot-required --proc-root '${fx.root}' --root '${dir}/root' "$@" ;;
  *) exec '${process.execPath}' "$cli" "$@" ;;
esac
`,
    );
    chmodSync(wrapper, 0o755);
    oldWrapper = join(dir, 'afterpatch-old');
    writeFileSync(oldWrapper, '#!/bin/sh\necho 0.0.1\n');
    chmodSync(oldWrapper, 0o755);
    // restart asks systemd about the units: a fake systemctl (loaded, active, no reload).
    writeFakeSystemctl(join(dir, 'bin'));
    PATH = `${join(dir, 'bin')}:${process.env.PATH ?? '/usr/bin:/bin'}`;
  });
  after(() => {
    fx.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  function runModule(args: object | string): Promise<ModuleRun> {
    const file = join(dir, `args-${n++}.json`);
    writeFileSync(file, typeof args === 'string' ? args : JSON.stringify(args));
    return new Promise((resolve) => {
      execFile(process.execPath, [MODULE, file], { env: { PATH }, cwd: dir }, (err, stdout) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 127) : 0;
        // Exactly one JSON object on stdout, nothing before or after it.
        assert.equal(stdout.trim().split('\n').length, 1, stdout);
        const result = JSON.parse(stdout);
        assert.equal(typeof result, 'object');
        assert.ok(!Array.isArray(result));
        resolve({ code, stdout, result });
      });
    });
  }

  it('is a WANT_JSON Node script', () => {
    const text = readFileSync(MODULE, 'utf8');
    assert.match(text, /^#!\/usr\/bin\/env node\n/);
    assert.match(text, /WANT_JSON/);
    assert.doesNotMatch(text, /from '\.\.?\//);
  });

  it('state scanned: the combined per-host result, changed false', async () => {
    const { result: r } = await runModule({ afterpatch: wrapper, _ansible_check_mode: false });
    assert.equal(r.changed, false);
    assert.equal(r.failed, false, String(r.msg));
    assert.equal(r.needs_restart, true);
    assert.equal(r.needs_reboot, false);
    assert.equal(typeof r.host, 'string');
    const scan = r.scan as { entries: { unit: string; severity: string }[]; summary: object };
    assert.deepEqual(
      scan.entries.map((e) => e.unit),
      ['ssh.service'],
    );
    assert.equal(r.restart, null);
    assert.equal((r.reboot as { required: boolean }).required, false);
    assert.match(String(r.msg), /1 thing still runs outdated code; no reboot required/);
  });

  it('check mode with state restarted: a dry-run plan, nothing changed', async () => {
    const { result: r } = await runModule({
      afterpatch: wrapper,
      state: 'restarted',
      _ansible_check_mode: true,
    });
    assert.equal(r.failed, false, String(r.msg));
    assert.equal(r.changed, false);
    const restart = r.restart as {
      dryRun: boolean;
      plan: { unit: string; action: string }[];
      results: unknown[];
    };
    assert.equal(restart.dryRun, true);
    assert.deepEqual(
      restart.plan.map((e) => [e.unit, e.action]),
      [['ssh.service', 'restart']],
    );
    assert.deepEqual(restart.results, []);
    assert.match(String(r.msg), /would restart 1 unit/);
  });

  it('state restarted: changed, and failed when the restart could not be verified', async () => {
    // The fake systemctl "restarts" nothing, and under --proc-root the unit's cgroup is not the
    // fixture's: restart says unverified (never verified without evidence), a failure here.
    const { result: r } = await runModule({ afterpatch: wrapper, state: 'restarted' });
    assert.equal(r.changed, true);
    assert.equal(r.failed, true);
    assert.match(String(r.msg), /ssh\.service: unverified/);
    const restart = r.restart as { dryRun: boolean; results: { unit: string; action: string }[] };
    assert.equal(restart.dryRun, false);
    assert.deepEqual(
      restart.results.map((x) => [x.unit, x.action]),
      [['ssh.service', 'restart']],
    );
  });

  it('ad-hoc string arguments: booleans and comma-separated lists', async () => {
    const { result: r } = await runModule({
      afterpatch: wrapper,
      state: 'restarted',
      _ansible_check_mode: 'True',
      force: 'yes',
      reboot_sentinel: '0',
      exclude: 'ssh.*, cron.service',
    });
    assert.equal(r.failed, false, String(r.msg));
    const restart = r.restart as { plan: unknown[]; excluded: string[] };
    assert.deepEqual(restart.plan, []);
    assert.deepEqual(restart.excluded, ['ssh.service']);
    const bad = await runModule({ afterpatch: wrapper, force: 'maybe' });
    assert.equal(bad.result.failed, true);
    assert.match(String(bad.result.msg), /force: expected a boolean/);
    const unknown = await runModule({ afterpatch: wrapper, colour: 'red' });
    assert.match(String(unknown.result.msg), /unsupported parameters: colour/);
  });

  it('missing CLI: failed with a clear msg', async () => {
    // Some systems have a /nonexistent directory (nobody's home): that is "not an executable".
    const { result: r } = await runModule({ afterpatch: '/nonexistent' });
    assert.equal(r.failed, true);
    assert.equal(r.changed, false);
    assert.match(
      String(r.msg),
      /afterpatch is not installed on .*\/nonexistent not found|\/nonexistent on .* is not an executable afterpatch/,
    );
    const gone = await runModule({ afterpatch: join(dir, 'no-such-dir', 'afterpatch') });
    assert.equal(gone.result.failed, true);
    assert.match(
      String(gone.result.msg),
      /afterpatch is not installed on .*no-such-dir\/afterpatch not found\)/,
    );
    const notOnPath = await runModule({});
    assert.equal(notOnPath.result.failed, true, 'PATH of the test has no afterpatch');
    assert.match(String(notOnPath.result.msg), /afterpatch not found on PATH/);
  });

  it('too old a CLI: failed with a clear msg', async () => {
    const { result: r } = await runModule({ afterpatch: oldWrapper });
    assert.equal(r.failed, true);
    assert.match(
      String(r.msg),
      /afterpatch 0\.0\.1 on .* is too old: this module needs \d+\.\d+\.\d+ or newer/,
    );
  });

  it('unreadable or non-JSON arguments: still one JSON object', async () => {
    const { result: r } = await runModule('state=scanned');
    assert.equal(r.failed, true);
    assert.match(String(r.msg), /not JSON/);
  });

  it('runs as CommonJS too, as the copy Ansible makes outside the checkout', async () => {
    const copy = join(dir, 'AnsiballZ_afterpatch');
    copyFileSync(MODULE, copy);
    const file = join(dir, 'cjs-args.json');
    writeFileSync(file, JSON.stringify({ afterpatch: '/nonexistent' }));
    const out = await new Promise<string>((resolve) => {
      execFile(process.execPath, [copy, file], { env: { PATH }, cwd: dir }, (_e, stdout) =>
        resolve(stdout),
      );
    });
    assert.equal(JSON.parse(out).failed, true);
  });
});
