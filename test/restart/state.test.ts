import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { UserError } from '../../src/errors.ts';
import { acquireLock } from '../../src/restart/lock.ts';
import { emptyState, readState, type UnitRecord, writeState } from '../../src/restart/state.ts';
import { scratchDirs } from '../helpers/scratch.ts';

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
        e instanceof UserError && /not a state file of this version: move it away/.test(e.message),
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

describe('restart state: a directory others control is refused, records are validated', () => {
  const dir = scratchDirs('afterpatch-trust');
  const refused = (re: RegExp) => (e: unknown) => e instanceof UserError && re.test(e.message);
  const record = (over: object = {}) =>
    ({
      time: new Date().toISOString(),
      action: 'restart',
      outcome: 'still-stale',
      files: ['1:/x'],
      ...over,
    }) as UnitRecord;
  const withUnits = (d: string, units: object) =>
    writeFileSync(join(d, 'state.json'), JSON.stringify({ version: 1, units }), { mode: 0o644 });

  it('refuses a state directory writable by others, for reading and for the lock', () => {
    const d = dir();
    fs.chmodSync(d, 0o777);
    assert.throws(
      () => readState(d),
      refused(/refusing the state directory .*writable by group or others \(mode 0777\)/),
    );
    assert.throws(() => acquireLock(d), refused(/writable by group or others/));
    assert.throws(() => writeState(d, emptyState()), refused(/writable by group or others/));
  });

  it('refuses a state directory or state file owned by another user', {
    skip: process.getuid?.() !== 0 && 'needs root',
  }, () => {
    const d = dir();
    fs.chownSync(d, 65534, 65534);
    assert.throws(() => readState(d), refused(/state directory .* owned by uid 65534/));
    const e = dir();
    withUnits(e, {});
    fs.chownSync(join(e, 'state.json'), 65534, 65534);
    assert.throws(() => readState(e), refused(/state file .* owned by uid 65534/));
    const f = dir();
    writeFileSync(join(f, 'lock'), '1\n');
    fs.chownSync(join(f, 'lock'), 65534, 65534);
    assert.throws(() => acquireLock(f), refused(/lock file .* owned by uid 65534/));
  });

  it('refuses a state file writable by others or reached through a symlink', () => {
    const d = dir();
    withUnits(d, {});
    fs.chmodSync(join(d, 'state.json'), 0o666);
    assert.throws(() => readState(d), refused(/state file .*writable by group or others/));
    const e = dir();
    withUnits(d, {});
    fs.symlinkSync(join(d, 'state.json'), join(e, 'state.json'));
    assert.throws(() => readState(e), refused(/state file .* symbolic link/));
  });

  it('refuses a FIFO as state.json at once instead of blocking (was: hangs)', () => {
    const d = dir();
    spawnSync('mkfifo', ['-m', '0644', join(d, 'state.json')]);
    // In a child: a blocking open would hang this process, and a test timeout cannot interrupt it.
    const r = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        '--input-type=module',
        '-e',
        `import { readState } from ${JSON.stringify(STATE_TS)};
         try { readState(${JSON.stringify(d)}); } catch (e) { console.log(e.message); }`,
      ],
      { timeout: 10_000, encoding: 'utf8' },
    );
    assert.equal(r.signal, null, 'readState blocked on the FIFO');
    assert.match(r.stdout, /refusing the state file .*state\.json: not a regular file/);
  });

  it('validates every record, in words and without echoing the file', () => {
    const d = dir();
    withUnits(d, { 'system-unit:a.service': record({ action: undefined }) });
    assert.throws(
      () => readState(d),
      refused(
        /not a state file of this version: move it away to start afresh \(invalid units\.record 1\.action\)/,
      ),
    );
    withUnits(d, { a: record(), b: record({ outcome: 'hunter2' }) });
    assert.throws(
      () => readState(d),
      (e: unknown) =>
        refused(/invalid units\.record 2\.outcome/)(e) && !/hunter2/.test((e as Error).message),
    );
    withUnits(d, { a: record({ time: 'yesterday' }) });
    assert.throws(() => readState(d), refused(/record 1\.time/));
    withUnits(d, { a: record({ files: 'x' }) });
    assert.throws(() => readState(d), refused(/record 1\.files/));
    withUnits(d, { a: record({ outcome: 'unverified' }) });
    assert.equal(readState(d).units.a?.outcome, 'unverified');
  });

  it('does not believe records dated in the future: they count for nothing and expire', () => {
    const d = dir();
    const now = new Date('2026-12-01T00:00:00Z');
    withUnits(d, {
      future: record({ time: '2036-01-01T00:00:00.000Z' }),
      tomorrow: record({ time: '2026-12-01T12:00:00.000Z' }),
    });
    assert.deepEqual(Object.keys(readState(d, now).units), ['tomorrow']);
    const s = readState(d, now);
    s.units.future = record({ time: '2036-01-01T00:00:00.000Z' });
    writeState(d, s, now);
    assert.deepEqual(Object.keys(JSON.parse(readFileSync(join(d, 'state.json'), 'utf8')).units), [
      'tomorrow',
    ]);
  });
});

const STATE_TS = fileURLToPath(new URL('../../src/restart/state.ts', import.meta.url));
