// `package` evidence against a fake dpkg root: the owner's code files that changed after the start.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MAX_PACKAGE_FILES, PackageFiles, packageFindings } from '../../src/interp/evidence.ts';
import type { RawInterp } from '../../src/interp/read.ts';
import { interpretedByEntry, type StaleFile, type StaleProcess } from '../../src/scan/model.ts';

describe('package evidence', () => {
  const root = mkdtempSync(join(tmpdir(), 'afterpatch-interp-root-'));
  after(() => rmSync(root, { recursive: true, force: true }));
  const so = '/usr/lib/python3/dist-packages/foo/_speedups.cpython-311-x86_64-linux-gnu.so';
  const code = Array.from({ length: 12 }, (_, i) => `/usr/lib/python3/dist-packages/foo/m${i}.py`);
  // Written right before the tests, not when the file loads: the tests compare the files' times
  // with "a minute ago", and a loaded file may wait longer than that for its turn.
  before(() => {
    const info = join(root, 'var/lib/dpkg/info');
    mkdirSync(info, { recursive: true });
    mkdirSync(join(root, 'usr/lib/python3/dist-packages/foo'), { recursive: true });
    mkdirSync(join(root, 'usr/bin'), { recursive: true });
    for (const f of [...code, so, '/usr/bin/foo']) writeFileSync(join(root, f), 'x');
    writeFileSync(join(root, 'usr/lib/python3/dist-packages/foo/README'), 'x');
    writeFileSync(
      join(info, 'foo.list'),
      [
        '/.',
        '/usr/bin/foo',
        '/usr/lib/python3/dist-packages/foo',
        so,
        ...code,
        '/usr/lib/python3/dist-packages/foo/README',
        '',
      ].join('\n'),
    );
  });
  const proc = (startMs: number, mapped: string[] = []): RawInterp => ({
    pid: 9,
    interpreter: 'python',
    pidNs: null,
    root: '/',
    cwd: null,
    startMs,
    program: { type: 'script', path: '/usr/bin/foo' },
    programPath: '/usr/bin/foo',
    programStat: null,
    openFiles: [],
    mapped,
  });
  const owners = new Map([
    ['/usr/bin/foo', { name: 'foo', version: '2', manager: 'dpkg' as const }],
  ]);
  const none = () => null;

  it('reports changed code files of the owning package, bounded, not the script again', () => {
    const files = new PackageFiles(root);
    assert.equal(files.changedAfter(Date.now() - 60_000), true);
    const found = packageFindings(proc(Date.now() - 60_000), owners, files, new Set(), none);
    assert.equal(found.length, MAX_PACKAGE_FILES);
    for (const { finding, pkg } of found) {
      assert.equal(pkg.name, 'foo');
      assert.match(finding.path, /\/foo\/(?:m\d+\.py|_speedups.*\.so)$/);
      assert.equal(finding.evidence.confidence, 'package');
      assert.equal(finding.evidence.reason, 'package-file');
    }
  });

  it('reports nothing for a process started after the change', () => {
    const files = new PackageFiles(root);
    assert.equal(files.changedAfter(Date.now() + 1000), false);
    assert.deepEqual(packageFindings(proc(Date.now() + 1000), owners, files, new Set(), none), []);
  });

  it('leaves a file the process maps to its mapping (exact evidence wins)', () => {
    const files = new PackageFiles(root);
    const heuristic = packageFindings(proc(Date.now() - 60_000), owners, files, new Set(), none);
    assert.ok(heuristic.some((f) => f.finding.path === so));
    const mapped = packageFindings(proc(Date.now() - 60_000, [so]), owners, files, new Set(), none);
    assert.equal(mapped.length, MAX_PACKAGE_FILES);
    assert.ok(!mapped.some((f) => f.finding.path === so));
  });
});

describe('entry-level marks', () => {
  const so = '/usr/lib/python3/dist-packages/foo/_x.so';
  const evidence = {
    interpreter: 'python' as const,
    confidence: 'package' as const,
    reason: 'package-file' as const,
    changedAt: '2025-01-01T00:00:00.000Z',
    startedAt: '2024-12-31T00:00:00.000Z',
  };
  const file = (interpreted: boolean): StaleFile => ({
    path: so,
    hostPath: so,
    kind: 'code',
    inode: 1,
    device: 'fe:00',
    package: null,
    ...(interpreted ? { interpreted: evidence } : {}),
  });
  const proc = (pid: number, unit: string, interpreted: boolean): StaleProcess => ({
    pid,
    ppid: null,
    uid: null,
    name: 'python3',
    cmdline: null,
    root: '/',
    foreignPidNs: false,
    cgroup: null,
    owner: { type: 'system-unit', unit },
    files: [file(interpreted)],
    ignored: [],
  });

  it('yield to a process of the entry that maps the path (exact evidence wins)', () => {
    const key = () => 'foo.service';
    assert.equal(
      interpretedByEntry([proc(1, 'foo.service', true)], key).get('foo.service')?.size,
      1,
    );
    assert.equal(
      interpretedByEntry([proc(1, 'foo.service', true), proc(2, 'foo.service', false)], key).get(
        'foo.service',
      )?.size,
      0,
    );
  });

  it('are per entry: a path mapped in another entry keeps its mark; nothing interpreted, no entry', () => {
    const byUnit = (p: StaleProcess) => (p.owner.type === 'system-unit' ? p.owner.unit : '');
    const marks = interpretedByEntry(
      [proc(1, 'a.service', true), proc(2, 'b.service', false)],
      byUnit,
    );
    assert.deepEqual([...(marks.get('a.service')?.keys() ?? [])], [so]);
    assert.equal(marks.has('b.service'), false);
    assert.equal(interpretedByEntry([proc(3, 'c.service', false)], byUnit).size, 0);
  });
});
