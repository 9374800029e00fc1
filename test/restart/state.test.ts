import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { UserError } from '../../src/errors.ts';
import { acquireLock } from '../../src/restart/lock.ts';
import { emptyState, readState, writeState } from '../../src/restart/state.ts';

describe('restart state', () => {
  const root = mkdtempSync(join(tmpdir(), 'afterpatch-state-'));
  after(() => rmSync(root, { recursive: true, force: true }));
  let n = 0;
  const dir = () => join(root, `d${n++}`);

  it('starts empty and round-trips atomically, leaving no temporary file', () => {
    const d = dir();
    assert.deepEqual(readState(d), emptyState());
    const s = emptyState();
    s.units['system-unit:a.service'] = {
      time: new Date().toISOString(),
      action: 'restart',
      outcome: 'still-stale',
      files: ['1:/x'],
    };
    writeState(d, s);
    assert.deepEqual(readState(d), s);
    assert.deepEqual(readdirSync(d), ['state.json']);
  });

  it('forgets entries older than 30 days', () => {
    const d = dir();
    const s = emptyState();
    s.units.old = {
      time: '2026-01-01T00:00:00.000Z',
      action: 'restart',
      outcome: 'failed',
      files: [],
    };
    s.units.new = {
      time: '2026-11-20T00:00:00.000Z',
      action: 'restart',
      outcome: 'failed',
      files: [],
    };
    writeState(d, s, new Date('2026-11-25T00:00:00Z'));
    assert.deepEqual(Object.keys(readState(d).units), ['new']);
  });

  it('refuses a corrupt state file with one clear line', () => {
    const d = dir();
    writeState(d, emptyState());
    writeFileSync(join(d, 'state.json'), '{"version": 7}');
    assert.throws(
      () => readState(d),
      (e: unknown) =>
        e instanceof UserError &&
        /not a state file of this version: move it away/.test(e.message) &&
        e.exitCode === 3,
    );
  });

  it('lets one run hold the lock at a time', () => {
    const d = dir();
    const release = acquireLock(d);
    assert.equal(readFileSync(join(d, 'lock'), 'utf8').split(' ')[0], String(process.pid));
    assert.throws(() => acquireLock(d), /another afterpatch restart \(PID \d+\) is running/);
    release();
    acquireLock(d)();
  });

  it('takes over a lock left by a process that is gone', async () => {
    const d = dir();
    const child = spawn(process.execPath, ['-e', '0']);
    const pid = child.pid ?? 0;
    await new Promise((r) => child.once('exit', r));
    acquireLock(d)(); // creates the directory
    writeFileSync(join(d, 'lock'), `${pid}\n`);
    const release = acquireLock(d);
    assert.equal(readFileSync(join(d, 'lock'), 'utf8').split(' ')[0], String(process.pid));
    release();
  });
});
