// Library errors carry no exit status; the CLI maps them per command in one place (issue 16.8).
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../harness/cli.ts';
import { EnvironmentError, errnoCode, errnoOf, UserError } from '../src/errors.ts';
import { errorExitFor } from '../src/exit.ts';
import { writeFakeSystemctl } from './helpers/fake-systemctl.ts';
import { FAKE_INIT, FAKE_STALE_SSHD, makeProcTree } from './helpers/fakeproc.ts';

describe('errors', () => {
  it('errnoCode reads the code of a failed system call and nothing else', () => {
    const enoent = Object.assign(new Error('open x'), { code: 'ENOENT' });
    assert.equal(errnoCode(enoent), 'ENOENT');
    assert.equal(errnoCode(new Error('plain')), undefined);
    assert.equal(errnoCode({ code: 42 }), undefined);
    assert.equal(errnoCode(null), undefined);
    assert.equal(errnoCode('ENOENT'), undefined);
    assert.equal(errnoOf(enoent), 'ENOENT');
    assert.equal(errnoOf(new Error('plain')), 'plain');
    assert.equal(errnoOf('text'), 'text');
  });

  it("typed errors carry no exit status; the status is the command's", () => {
    const e = new EnvironmentError('disk full');
    assert.ok(e instanceof UserError);
    assert.equal(e.name, 'EnvironmentError');
    assert.equal('exitCode' in e, false);
    assert.deepEqual(
      ['scan', 'restart', 'check', 'reboot-required', 'report', 'config', 'metrics', 'serve'].map(
        errorExitFor,
      ),
      [2, 3, 3, 2, 2, 2, 2, 2],
    );
  });
});

describe('one library error, the exit status of each command', () => {
  let root: string;
  let fx: ReturnType<typeof makeProcTree>;
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'afterpatch-errors-'));
    fx = makeProcTree({ 1: FAKE_INIT, 10: FAKE_STALE_SSHD });
    mkdirSync(join(root, 'bin'));
    writeFakeSystemctl(join(root, 'bin'));
    mkdirSync(join(root, 'state'), { mode: 0o755 });
    writeFileSync(join(root, 'state', 'state.json'), '{"version": 7}', { mode: 0o644 });
  });
  after(() => {
    fx.cleanup();
    rmSync(root, { recursive: true, force: true });
  });
  const env = () => ({ ...process.env, PATH: `${join(root, 'bin')}:${process.env.PATH}` });

  it("a state file of another version: restart exits 3 with one line (was the error's own 3)", async () => {
    const r = await runCli(
      ['restart', '--dry-run', '--proc-root', fx.root, '--state-dir', join(root, 'state')],
      { env: env() },
    );
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /^afterpatch: .*state\.json is not a state file of this version/);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  });

  it('a bad --lib: scan exits 2, check 3, restart 3', async () => {
    for (const [cmd, code] of [
      ['scan', 2],
      ['check', 3],
      ['restart', 3],
    ] as const) {
      const r = await runCli([cmd, '--lib', '(?<=x)', '--proc-root', fx.root], { env: env() });
      assert.equal(r.code, code, `${cmd}: ${r.stderr}`);
      assert.doesNotMatch(r.stderr, /this is a bug/);
    }
  });
});
