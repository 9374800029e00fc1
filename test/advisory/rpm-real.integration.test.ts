// Advisories on an rpm system, with the real rpm (Debian ships rpm and rpmbuild): a test rpm
// built from a source package with a differently named binary package, installed into a
// scratch root's own database (`rpm --root R --dbpath /var/lib/rpm`), read by `scan --root R
// --fixed SOURCE=VERSION`. Before, the advisory's `rpm -qa --root R` used the local rpm's default
// database path (Debian's: ~/.rpmdb), found nothing installed and said `clean`.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { runCli } from '../../harness/cli.ts';
import { findOnPath } from '../../src/packages/db.ts';
import { assertScanExitMatchesVerdict } from '../helpers/advisory-exit.ts';
import { FAKE_INIT, makeProcTree } from '../helpers/fakeproc.ts';
import { buildRpms } from '../helpers/rpm-build.ts';

const run = promisify(execFile);
const SOURCE = 'afterpatch-rpmsrc';
const BINARY = 'afterpatch-rpmlib';

/** A source package SOURCE whose only binary package is BINARY (its SOURCERPM is SOURCE's). */
function spec(version: string): string {
  return [
    `Name: ${SOURCE}`,
    `Version: ${version}`,
    'Release: 1',
    'Summary: afterpatch test package',
    'License: MIT',
    'BuildArch: noarch',
    '%description',
    'afterpatch test source package',
    `%package -n ${BINARY}`,
    'Summary: afterpatch test library',
    `%description -n ${BINARY}`,
    'afterpatch test library',
    '%install',
    'mkdir -p %{buildroot}/usr/lib/afterpatch-rpmtest',
    `echo ${version} > %{buildroot}/usr/lib/afterpatch-rpmtest/libaprpm.so.1`,
    `%files -n ${BINARY}`,
    '/usr/lib/afterpatch-rpmtest/libaprpm.so.1',
    '',
  ].join('\n');
}

interface ScanAdvisories {
  packageManager: string;
  advisoryVerdict: string;
  advisories: {
    verdict: string;
    reasons: { verdict: string; why: string }[];
    packages: { name: string; fixed: string; installed: { name: string; version: string }[] }[];
  }[];
}

const skip =
  (await findOnPath('rpm')) === null || (await findOnPath('rpmbuild')) === null
    ? 'rpm and rpmbuild are needed (apt-get install rpm)'
    : false;

describe('advisories on an rpm root (real rpm)', { skip }, () => {
  let work = '';
  let root = '';
  const rpms: Record<string, string> = {};
  const rpmDb = () => ['--root', root, '--dbpath', '/var/lib/rpm'];
  // A /proc of one process without stale code (an empty one is an error: nothing was read): the
  // machine's own processes (and any containers running meanwhile) are not this root's; the
  // verdict comes from the package database.
  let proc: ReturnType<typeof makeProcTree> | undefined;
  const roots = (r: string) => ['--root', r, '--proc-root', proc?.root ?? ''];
  const scan = async (fixed: string): Promise<ScanAdvisories> => {
    const r = await runCli(['scan', ...roots(root), '--fixed', fixed, '--json']);
    assertScanExitMatchesVerdict(r);
    return JSON.parse(r.stdout);
  };

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'afterpatch-rpm-advisory-'));
    root = join(work, 'root');
    await mkdir(root);
    proc = makeProcTree({ 1: FAKE_INIT });
    for (const version of ['1.0', '2.0']) {
      const [built] = await buildRpms(
        spec(version),
        join(work, `${version}.spec`),
        join(work, `top-${version}`),
      );
      assert.ok(built);
      rpms[version] = built;
    }
    await run('rpm', [...rpmDb(), '--initdb']);
    await run('rpm', [...rpmDb(), '-i', '--nodeps', '--noscripts', rpms['1.0'] ?? '']);
  });
  after(async () => {
    proc?.cleanup();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('the source name covers the installed binary package, 1.0-1 below 2.0: unpatched', async () => {
    const d = await scan(`${SOURCE}=2.0`);
    assert.equal(d.packageManager, 'rpm');
    assert.equal(d.advisoryVerdict, 'unpatched', JSON.stringify(d.advisories));
    const [a] = d.advisories;
    assert.deepEqual(a?.packages, [
      { name: SOURCE, fixed: '2.0', installed: [{ name: BINARY, version: '1.0-1' }] },
    ]);
    assert.deepEqual(a?.reasons, [{ verdict: 'unpatched', why: `${BINARY} 1.0-1 is below 2.0` }]);
    // rpm left alone what is not the root's database: no ~/.rpmdb made inside the root.
    assert.equal(existsSync(join(root, 'root', '.rpmdb')), false);
  });

  it('after `rpm -U` to 2.0-1: clean', async () => {
    await run('rpm', [...rpmDb(), '-U', '--nodeps', '--noscripts', rpms['2.0'] ?? '']);
    const d = await scan(`${SOURCE}=2.0`);
    assert.equal(d.advisoryVerdict, 'clean', JSON.stringify(d.advisories));
    assert.deepEqual(d.advisories[0]?.packages[0]?.installed, [{ name: BINARY, version: '2.0-1' }]);
  });

  it('a database rpm cannot read: unknown, never clean', async () => {
    // The database directory with a file rpm cannot open as one.
    const bad = join(work, 'bad');
    await mkdir(join(bad, 'var/lib/rpm'), { recursive: true });
    await writeFile(join(bad, 'var/lib/rpm/rpmdb.sqlite'), 'not a database\n');
    const r = await runCli(['scan', ...roots(bad), '--fixed', `${SOURCE}=2.0`, '--json']);
    assert.equal(r.code, 3, 'unknown: exit 3, never 0');
    const d: ScanAdvisories = JSON.parse(r.stdout);
    assert.equal(d.advisoryVerdict, 'unknown', JSON.stringify(d.advisories));
    assert.ok(
      d.advisories[0]?.reasons.some((x) => x.why === 'cannot query the rpm database'),
      JSON.stringify(d.advisories[0]?.reasons),
    );
  });
});
