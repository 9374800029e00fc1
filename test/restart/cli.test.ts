// The restart command as users run it (the bundle), with a fake systemctl where no systemd runs:
// what it says without root, what it reports when the state cannot be saved, and environment
// errors that are not bugs.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../../harness/cli.ts';
import { NO_BUS, writeFakeSystemctl } from '../helpers/fake-systemctl.ts';
import { FAKE_INIT, FAKE_STALE_SSHD, makeProcTree } from '../helpers/fakeproc.ts';
import { IS_ROOT, mountTinyTmpfs } from '../helpers/tmpfs.ts';

describe('afterpatch restart (CLI)', () => {
  let root: string;
  let fx: ReturnType<typeof makeProcTree>;
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'afterpatch-restart-cli-'));
    fx = makeProcTree({ 1: FAKE_INIT, 10: FAKE_STALE_SSHD });
    for (const d of ['ok', 'broken']) mkdirSync(join(root, d));
    writeFakeSystemctl(join(root, 'ok'));
    writeFakeSystemctl(join(root, 'broken'), true);
  });
  after(() => {
    fx.cleanup();
    rmSync(root, { recursive: true, force: true });
  });
  const env = (bin: string) => ({ ...process.env, PATH: `${join(root, bin)}:${process.env.PATH}` });

  it('without root, a dry run says how many processes it could not read, never "Nothing runs outdated code", and exits 1 (was: 0 or 1)', async () => {
    const r = await runCli(
      ['restart', '--dry-run', '--state-dir', '/nonexistent/afterpatch-state'],
      {
        uid: 65534,
        gid: 65534,
      },
    );
    assert.equal(r.code, 1, r.stderr);
    assert.doesNotMatch(r.stdout, /Nothing runs outdated code/);
    assert.match(r.stdout, /\d+ of \d+ processes could not be read: run as root to see all\./);
  });

  it('a full state disk after restarts: the JSON report first, then one line on stderr, exit 4 (was: exit 3, 0 bytes)', {
    skip: !IS_ROOT && 'needs root to mount a tmpfs',
  }, async () => {
    const state = join(root, 'full');
    mkdirSync(state);
    const unmount = mountTinyTmpfs(state, 8192);
    try {
      // One page left: enough for the lock, not for the state file.
      writeFileSync(join(state, 'filler'), Buffer.alloc(4096));
      const r = await runCli(
        ['restart', '--yes', '--json', '--proc-root', fx.root, '--state-dir', state],
        { env: env('ok') },
      );
      assert.equal(r.code, 4, r.stderr);
      const doc = JSON.parse(r.stdout);
      assert.deepEqual(
        doc.results.map((x: { unit: string; outcome: string }) => [x.unit, x.outcome]),
        [['ssh.service', 'unverified']],
      );
      assert.match(doc.stateError, /cannot write .*state\.json \(ENOSPC\)/);
      assert.match(
        r.stderr,
        /^afterpatch: the units above were acted on, but their outcomes were not saved: cannot write .*\(ENOSPC\)/m,
      );
      assert.doesNotMatch(r.stderr, /this is a bug/);
    } finally {
      unmount();
    }
  });

  it('AFTERPATCH_TIMING=1 prints one line per phase on stderr, and nothing without it', async () => {
    const args = ['restart', '--yes', '--json', '--proc-root', fx.root];
    const timed = await runCli([...args, '--state-dir', join(root, 'timed')], {
      env: { ...env('ok'), AFTERPATCH_TIMING: '1' },
    });
    const phases = [
      ...timed.stderr.matchAll(
        /^afterpatch: timing: (\S+(?: \S+)*?) [\d.]+ ms \(at [\d.]+ ms\)$/gm,
      ),
    ].map((m) => m[1]);
    assert.deepEqual(
      phases,
      [
        'start',
        'scan',
        'show',
        'plan',
        'batch restart 1',
        'batch states',
        'batch verify',
        'apply',
        'state',
        'output',
        'journal',
      ],
      timed.stderr,
    );
    assert.equal(JSON.parse(timed.stdout).format, 'afterpatch-restart');
    const quiet = await runCli([...args, '--state-dir', join(root, 'untimed')], { env: env('ok') });
    assert.doesNotMatch(quiet.stderr, /timing/);
  });

  it('a failing systemctl show is an environment error: one line, exit 3, not "this is a bug"', async () => {
    const r = await runCli(
      ['restart', '--dry-run', '--proc-root', fx.root, '--state-dir', join(root, 'none')],
      { env: env('broken') },
    );
    assert.equal(r.code, 3);
    assert.equal(
      r.stderr,
      `afterpatch: systemctl show failed (${NO_BUS}); is systemd running and reachable?\n`,
    );
  });

  it('a reboot sentinel that cannot be written is an environment error, not a bug', {
    skip: !IS_ROOT && 'needs root for a read-only bind mount',
  }, async () => {
    const host = join(root, 'host');
    const run = join(host, 'run');
    mkdirSync(run, { recursive: true });
    writeFileSync(join(run, 'reboot-required'), '*** System restart required ***\n');
    execFileSync('mount', ['--bind', run, run]);
    try {
      execFileSync('mount', ['-o', 'remount,bind,ro', run]);
      const r = await runCli([
        'reboot-required',
        '--sentinel',
        '--proc-root',
        fx.root,
        '--root',
        host,
      ]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(
        r.stderr,
        /^afterpatch: cannot write the reboot sentinel in .*run \(EROFS\); free space or fix its permissions\.\n$/,
      );
    } finally {
      execFileSync('umount', ['-l', run]);
    }
  });
});
