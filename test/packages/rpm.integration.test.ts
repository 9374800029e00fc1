// The rpm package database through the real rpm on a temporary root holding packages built
// with the real rpmbuild: an integration test (building the packages takes seconds). The parser
// and the failure paths are in rpm.test.ts.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { findOnPath, openPackageDb } from '../../src/packages/db.ts';
import { RpmDb } from '../../src/packages/rpm.ts';
import { buildRpms } from '../helpers/rpm-build.ts';

const run = promisify(execFile);
const DB_PATH = '/var/lib/rpm';
const MANY = Array.from(
  { length: 230 },
  (_, i) => `/usr/lib/ap/many/f${String(i).padStart(3, '0')}`,
);

interface Spec {
  name: string;
  epoch?: number;
  files: string[];
}

const SPECS: Spec[] = [
  { name: 'aptest-a', epoch: 2, files: ['/usr/lib/ap/liba.so.1', '/usr/share/ap/shared'] },
  // Shares /usr/share/ap/shared with aptest-a (same content), so that path has two owners.
  {
    name: 'aptest-b',
    files: ['/usr/lib/ap/libb.so.1', '/usr/share/ap/shared', '/usr/lib/ap/with space;|&.so'],
  },
  // Recorded under /lib64 while a merged-/usr process shows /usr/lib64; plus many files for batching.
  { name: 'aptest-c', files: ['/lib64/libold.so.2', ...MANY] },
];

function specText(s: Spec): string {
  const install = s.files.map(
    (f) => `mkdir -p "%{buildroot}$(dirname '${f}')"\necho '${f}' > "%{buildroot}${f}"`,
  );
  // Shared file: identical content in both packages, so rpm lets both own it.
  const fix = 'echo shared > "%{buildroot}/usr/share/ap/shared" || true';
  return [
    `Name: ${s.name}`,
    'Version: 1.2',
    'Release: 3',
    s.epoch === undefined ? '' : `Epoch: ${s.epoch}`,
    'Summary: afterpatch test package',
    'License: MIT',
    'BuildArch: noarch',
    '%description',
    'afterpatch test package',
    '%install',
    ...install,
    s.files.includes('/usr/share/ap/shared') ? fix : '',
    '%files',
    ...s.files.map((f) => `"${f}"`),
    '',
  ].join('\n');
}

const rpmbuild = await findOnPath('rpmbuild');
const rpm = await findOnPath('rpm');
const skip =
  rpm === null || rpmbuild === null
    ? 'rpm and rpmbuild are needed to build a test database'
    : false;

describe('rpm package database (real rpm, temporary root)', { skip }, () => {
  let work = '';
  let root = '';
  const rpmArgs = (): string[] => ['--root', root, '--dbpath', DB_PATH];

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'afterpatch-rpm-'));
    root = join(work, 'root');
    const top = join(work, 'top');
    await mkdir(root);
    let rpms: string[] = [];
    // One top directory: each build lists every package built so far.
    for (const s of SPECS) rpms = await buildRpms(specText(s), join(work, `${s.name}.spec`), top);
    await run('rpm', [...rpmArgs(), '--initdb']);
    await run('rpm', [...rpmArgs(), '-i', '--nodeps', '--noscripts', ...rpms]);
  });
  after(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('opens the root as an rpm database', async () => {
    const db = await openPackageDb({ root: `${root}/` });
    assert.equal(db?.manager, 'rpm');
  });

  it('maps owned, unowned, missing and multi-owner paths back to the right arguments', async () => {
    const db = await openPackageDb({ root });
    assert.ok(db);
    const asked = [
      '/usr/lib/ap/liba.so.1',
      '/tmp', // exists on the host, not owned: "not owned" on stdout
      '/nonexistent/afterpatch/x.so', // missing on the host: "error: file …" on stderr
      '/usr/share/ap/shared', // two owners: two lines for one argument
      '/usr/lib/ap/libb.so.1',
      '/usr/lib/ap/with space;|&.so',
    ];
    const found = await db.lookup(asked);
    assert.deepEqual(found.get('/usr/lib/ap/liba.so.1'), {
      name: 'aptest-a',
      version: '2:1.2-3',
      manager: 'rpm',
    });
    assert.deepEqual(found.get('/usr/lib/ap/libb.so.1'), {
      name: 'aptest-b',
      version: '1.2-3',
      manager: 'rpm',
    });
    assert.equal(found.get('/usr/lib/ap/with space;|&.so')?.name, 'aptest-b');
    assert.ok(['aptest-a', 'aptest-b'].includes(found.get('/usr/share/ap/shared')?.name ?? ''));
    assert.equal(found.has('/tmp'), false);
    assert.equal(found.has('/nonexistent/afterpatch/x.so'), false);
    assert.equal(found.size, 4);
  });

  it('finds a path recorded under /lib64 when asked for /usr/lib64 (merged /usr)', async () => {
    const db = await openPackageDb({ root });
    const found = await db?.lookup(['/usr/lib64/libold.so.2']);
    assert.equal(found?.get('/usr/lib64/libold.so.2')?.name, 'aptest-c');
  });

  it('keeps the order right across batches (small and default batch sizes)', async () => {
    const asked = MANY.flatMap((p, i) => (i % 3 === 0 ? [p, `${p}.unowned`] : [p]));
    for (const batchSize of [7, 200]) {
      const db = new RpmDb({ root, dbPath: DB_PATH, rpmBinary: rpm ?? 'rpm', batchSize });
      const found = await db.lookup(asked);
      assert.equal(found.size, MANY.length, `batch size ${batchSize}`);
      for (const p of MANY) assert.equal(found.get(p)?.name, 'aptest-c', p);
      // The unowned /usr/lib/… paths are asked again under their merged-/usr name /lib/….
      const unowned = asked.length - MANY.length;
      const expected = Math.ceil(asked.length / batchSize) + Math.ceil(unowned / batchSize);
      assert.equal(db.calls, expected, 'one call a batch, no per-path fallback');
    }
  });

  it('asks again one by one only when a multi-owner path makes a run ambiguous', async () => {
    const db = new RpmDb({ root, dbPath: DB_PATH, rpmBinary: rpm ?? 'rpm' });
    const found = await db.lookup([
      '/usr/lib/ap/liba.so.1',
      '/usr/share/ap/shared',
      '/usr/lib/ap/libb.so.1',
    ]);
    assert.equal(found.get('/usr/lib/ap/liba.so.1')?.name, 'aptest-a');
    assert.equal(found.get('/usr/lib/ap/libb.so.1')?.name, 'aptest-b');
    assert.equal(found.size, 3);
    assert.equal(db.calls, 4);
  });

  it('copes with a name rpm reports in a cleaned form (`//` → `/`)', async () => {
    const db = new RpmDb({ root, dbPath: DB_PATH, rpmBinary: rpm ?? 'rpm' });
    const asked = [
      '/usr/lib/ap/liba.so.1',
      '/nonexistent//afterpatch/y.so',
      '/usr/lib/ap/libb.so.1',
    ];
    const found = await db.lookup(asked);
    assert.equal(found.get('/usr/lib/ap/liba.so.1')?.name, 'aptest-a');
    assert.equal(found.get('/usr/lib/ap/libb.so.1')?.name, 'aptest-b');
    assert.equal(found.size, 2);
  });

  it('rejects with one clear line when the database cannot be opened', async () => {
    const bad = join(work, 'bad');
    await mkdir(join(bad, DB_PATH), { recursive: true });
    await writeFile(join(bad, DB_PATH, 'rpmdb.sqlite'), 'not a database\n');
    const db = await openPackageDb({ root: bad });
    assert.equal(db?.manager, 'rpm');
    await assert.rejects(db.lookup(['/usr/lib/ap/liba.so.1']), (e: Error) => {
      assert.match(
        e.message,
        /^rpm -qf failed: cannot open Packages database in .*\/bad\/var\/lib\/rpm$/,
      );
      return true;
    });
  });
});
