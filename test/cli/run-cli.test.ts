// The CLI's I/O seam (src/cli.ts runCli, src/cli/io.ts): the bundle runs in the test process
// with strings for streams (harness/cli.ts), and one run leaves nothing behind for the next.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CLI, mustSpawn, runCli } from '../../harness/cli.ts';
import { parseRequest, withExtras } from '../../harness/cli-stand-in.ts';
import type { CliIo } from '../../src/cli/io.ts';

type Bundle = { runCli(argv: readonly string[], io: CliIo): Promise<number> };

/** One in-process run through the bundle's own runCli, with this io. */
async function direct(args: string[], env: NodeJS.ProcessEnv = {}) {
  const { runCli: run } = createRequire(import.meta.url)(CLI) as Bundle;
  const out = { stdout: '', stderr: '' };
  const io: CliIo = {
    stdout: {
      write: (s: string) => {
        out.stdout += s;
      },
    },
    stderr: {
      write: (s: string) => {
        out.stderr += s;
      },
    },
    stdin: process.stdin,
    env,
  };
  const code = await run([process.execPath, CLI, ...args], io);
  return { code, ...out };
}

describe('runCli (in-process)', () => {
  it('resolves to the exit status and leaves the process exit status alone', async () => {
    const before = process.exitCode;
    const r = await direct(['scan', '--proc-root', '/nonexistent/afterpatch/proc']);
    assert.equal(r.code, 2, 'an unreadable /proc is an error, never clean');
    assert.match(r.stderr, /^afterpatch: cannot list processes in \/nonexistent/);
    assert.equal(r.stdout, '');
    assert.equal(process.exitCode, before);
  });

  it('help and usage errors go to its streams, not the process', async () => {
    const help = await direct(['scan', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^Usage: afterpatch scan/);
    const bad = await direct(['check', '--metric', 'nonsense']);
    assert.equal(bad.code, 3);
    assert.match(bad.stdout, /^AFTERPATCH UNKNOWN - usage error: /);
    assert.match(bad.stderr, /^afterpatch: .*; run with --help for usage\.\n$/);
  });

  it("judges path options by the run's environment (sudo), not the process's", {
    skip: process.geteuid?.() === 0 ? false : 'path options are checked only as root',
  }, async () => {
    // A private directory of root's: fine for root, refused under sudo (the caller could not
    // read it).
    const dir = mkdtempSync(join(tmpdir(), 'afterpatch-io-'));
    try {
      const file = join(dir, 'afterpatch.toml');
      writeFileSync(file, '');
      assert.equal((await direct(['config', '-q', file], {})).code, 0);
      const sudo = await direct(['config', '-q', file], { SUDO_UID: '1000' });
      assert.equal(sudo.code, 2);
      assert.match(sudo.stderr, /refused under sudo \(SUDO_UID=1000\)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("one run's command does not leak into the next run's exit status", async () => {
    // check's usage errors are UNKNOWN (3); a usage error before any subcommand is 2.
    assert.equal((await direct(['check', '--bogus'])).code, 3);
    assert.equal((await direct(['--bogus'])).code, 2);
    assert.equal((await direct(['restart', '--bogus'])).code, 3);
    assert.equal((await direct(['--bogus'])).code, 2);
  });
});

describe('the test harness', () => {
  it('runs a plain command in-process and says the same as a spawned run', async () => {
    const args = ['scan', '--proc-root', '/nonexistent/afterpatch/proc'];
    assert.equal(mustSpawn(args, { PATH: '/usr/bin' }), false);
    const inside = await runCli(args);
    const child = await runCli(args, { spawn: true });
    assert.deepEqual(inside, child);
  });

  it('spawns what needs a process of its own', () => {
    const env = { PATH: '/usr/bin' };
    assert.equal(mustSpawn(['serve', '--listen', ':0'], env), true);
    assert.equal(mustSpawn(['restart', '--dry-run'], env), true, 'the real /proc: a bus client');
    assert.equal(mustSpawn(['restart', '--proc-root', '/x', '--yes'], env), false);
    assert.equal(mustSpawn(['restart', '--proc-root=/proc/', '--yes'], env), true);
    assert.equal(mustSpawn(['scan'], env, { uid: 65534 }), true);
    assert.equal(mustSpawn(['scan'], { ...env, AFTERPATCH_TIMING: '1' }), true);
    assert.equal(mustSpawn(['scan'], { ...env, LD_PRELOAD: '/x.so' }), true);
    assert.equal(mustSpawn(['scan'], { ...env, NODE_TEST_CONTEXT: 'child' }), false);
  });

  it('gives a run its standard input', async () => {
    const doc = JSON.stringify({ format: 'afterpatch-reboot', formatVersion: 1, required: false });
    const r = await runCli(['report', '--json'], { input: doc });
    assert.equal(r.code, 2, r.stderr); // a reboot document alone names no host
    const s = await runCli(['report', '--json'], { input: doc, spawn: true });
    assert.deepEqual(r, s);
  });
});

describe('the CLI stand-in', () => {
  it('puts the fixture arguments right after the subcommand', () => {
    const extras = { scan: ['--proc-root', '/p'] };
    assert.deepEqual(withExtras(['scan', '--json'], extras), [
      'scan',
      '--proc-root',
      '/p',
      '--json',
    ]);
    assert.deepEqual(withExtras(['--version'], extras), ['--version']);
    assert.deepEqual(withExtras([], extras), []);
  });

  it('reads a request only once all of it has arrived', () => {
    const whole = Buffer.from(
      ['3', '1', 'PATH=/bin:/usr/bin', '2', 'scan', 'a=b c'].join('\0') + '\0',
    );
    for (let i = 0; i < whole.length; i++) assert.equal(parseRequest(whole.subarray(0, i)), null);
    assert.deepEqual(parseRequest(whole), {
      id: '3',
      env: { PATH: '/bin:/usr/bin' },
      args: ['scan', 'a=b c'],
    });
  });
});
