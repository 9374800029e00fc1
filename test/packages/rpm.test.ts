import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { findOnPath, openPackageDb } from '../../src/packages/db.ts';
import { parseRpmQueryOutput, RpmDb } from '../../src/packages/rpm.ts';

// The database of real packages (rpmbuild, rpm -i) is read in rpm.integration.test.ts.
const DB_PATH = '/var/lib/rpm';
const rpm = await findOnPath('rpm');
const skip = rpm === null ? 'rpm is needed' : false;

describe('rpm failures without an error: line', { skip }, () => {
  it('rejects when rpm exits non-zero without naming any unowned file', async () => {
    // rpm refuses a relative --root with a usage message and exit status 1.
    const db = new RpmDb({ root: 'relative', dbPath: DB_PATH, rpmBinary: rpm ?? 'rpm' });
    await assert.rejects(db.lookup(['/tmp']), {
      message:
        'rpm -qf failed with exit status 1: rpm: arguments to --root (-r) must begin with a /',
    });
  });

  it('rejects when the rpm binary cannot be run', async () => {
    const db = new RpmDb({ root: '', dbPath: DB_PATH, rpmBinary: '/nonexistent/afterpatch/rpm' });
    await assert.rejects(
      db.lookup(['/tmp']),
      /^Error: cannot run \/nonexistent\/afterpatch\/rpm: .*ENOENT/,
    );
  });
});

describe('openPackageDb detection', () => {
  it('returns null for a root with no package database, and for an empty rpm directory', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'afterpatch-nodb-'));
    try {
      assert.equal(await openPackageDb({ root: empty }), null);
      await mkdir(join(empty, 'var/lib/rpm'), { recursive: true }); // Debian's rpm package leaves this
      assert.equal(await openPackageDb({ root: empty }), null);
      await writeFile(join(empty, 'var/lib/rpm/rpmdb.sqlite'), '');
      assert.equal((await openPackageDb({ root: empty }))?.manager, rpm ? 'rpm' : undefined);
      const savedPath = process.env.PATH;
      process.env.PATH = empty; // no rpm binary here
      try {
        assert.equal(await openPackageDb({ root: empty }), null);
      } finally {
        process.env.PATH = savedPath;
      }
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });
});

describe('parseRpmQueryOutput', () => {
  const a = 'A\t(none):1-1';
  const b = 'B\t3:2-2';

  it('zips a run of n owned arguments with n lines', () => {
    const r = parseRpmQueryOutput(['/x', '/y'], `${a}\n${b}\n`, '');
    assert.deepEqual(r.owners.get('/x'), [{ name: 'A', version: '1-1', manager: 'rpm' }]);
    assert.deepEqual(r.owners.get('/y'), [{ name: 'B', version: '3:2-2', manager: 'rpm' }]);
    assert.deepEqual(r.ambiguous, []);
  });

  it('uses "not owned" lines and stderr file errors as separators', () => {
    const out = `${a}\n${b}\nfile /u is not owned by any package\n${b}\n`;
    const err = 'error: file /m: x: No such file or directory\nwarning: something\n';
    const r = parseRpmQueryOutput(['/x', '/m: x', '/u', '/y'], out, err);
    assert.equal(r.owners.get('/x')?.length, 2, 'a lone argument in a run owns all its lines');
    assert.equal(r.owners.get('/y')?.[0]?.name, 'B');
    assert.equal(r.owners.has('/m: x'), false);
    assert.equal(r.owners.has('/u'), false);
    assert.deepEqual(r.ambiguous, []);
    assert.equal(r.failed, 2);
  });

  it('marks a run ambiguous when lines and arguments do not pair up', () => {
    const r = parseRpmQueryOutput(['/x', '/y', '/z'], `${a}\n${a}\n${b}\n${b}\n`, '');
    assert.deepEqual(r.ambiguous, ['/x', '/y', '/z']);
    assert.equal(r.owners.size, 0);
  });

  it('trusts nothing after output it does not understand', () => {
    const r = parseRpmQueryOutput(['/x', '/y'], `${a}\nsomething else\n${b}\n`, '');
    assert.deepEqual(r.ambiguous, ['/x', '/y']);
  });

  it('throws a one-line error when rpm itself failed', () => {
    const err =
      'error: sqlite failure: boom\nerror: cannot open Packages database in /r/var/lib/rpm\n';
    assert.throws(() => parseRpmQueryOutput(['/x'], '', err), {
      message: 'rpm -qf failed: cannot open Packages database in /r/var/lib/rpm',
    });
  });
});
