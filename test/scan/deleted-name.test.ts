// The kernel's " (deleted)" suffix is ambiguous: a file may really be called `libx.so (deleted)`.
// Real processes map such files with PROT_EXEC; afterpatch must tell the name from the marker by
// comparing the mapped inode (/proc/PID/map_files) with the named file, never by the text alone.
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../../harness/cli.ts';
import { spawnHolders, stopProcesses } from '../../harness/fixtures.ts';
import { removeScratch, TEST_TMP } from '../../harness/stale-lib.ts';
import { pythonHolder } from '../helpers/python.ts';

const isRoot = process.geteuid?.() === 0;

/** Maps each file named in argv[3:] with PROT_EXEC, says ready, then waits. */
const HOLDER = pythonHolder('mmap', [
  'held = []',
  'for path in sys.argv[3:]:',
  '    with open(path, "rb") as f:',
  '        held.append(mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ | mmap.PROT_EXEC))',
]);

interface ScanJson {
  processes: { pid: number; files: { path: string }[] }[];
}

async function stalePaths(pid: number): Promise<string[]> {
  const r = await runCli(['scan', '--json', '--no-packages', '--pid', String(pid)]);
  assert.ok(r.code === 0 || r.code === 1, r.stderr);
  const doc = JSON.parse(r.stdout) as ScanJson;
  assert.equal(r.code, doc.processes.length > 0 ? 1 : 0);
  return doc.processes.flatMap((p) => p.files.map((f) => f.path));
}

/**
 * A scratch directory with the holder script and the files given (name → one byte repeated),
 * then one holder per entry of `maps` (the files it maps): its directory and the holders' PIDs.
 */
async function startHolders(
  prefix: string,
  files: Record<string, string>,
  maps: string[][],
): Promise<{ dir: string; pids: number[] }> {
  mkdirSync(TEST_TMP, { recursive: true, mode: 0o755 });
  const dir = mkdtempSync(join(TEST_TMP, prefix));
  const holder = join(dir, 'holder');
  writeFileSync(holder, HOLDER);
  chmodSync(holder, 0o755);
  for (const [name, byte] of Object.entries(files))
    writeFileSync(join(dir, name), byte.repeat(4096));
  const pids: number[] = [];
  for (const args of maps) {
    const paths = args.map((a) => join(dir, a));
    pids.push(...(await spawnHolders(holder, 1, { args: paths, maxLifetimeS: 60 })));
  }
  return { dir, pids };
}

describe('a file whose real name ends in " (deleted)"', {
  skip: isRoot ? false : 'needs root (map_files)',
}, () => {
  let dir = '';
  const pids: number[] = [];
  const named = () => join(dir, 'libx.so (deleted)');
  const twin = () => join(dir, 'liby.so');

  before(async () => {
    const h = await startHolders('deleted-name-', { 'libx.so (deleted)': 'x', 'liby.so': 'y' }, [
      ['libx.so (deleted)'],
      ['liby.so'],
    ]);
    dir = h.dir;
    pids.push(...h.pids);
  });
  after(async () => {
    await stopProcesses(pids);
    if (dir) removeScratch(dir);
  });

  it('is not reported while it exists, and is once it is really deleted', async () => {
    const [pid] = pids as [number];
    assert.deepEqual(await stalePaths(pid), []);
    unlinkSync(named());
    // Now maps reads "libx.so (deleted) (deleted)": the file's own name is kept.
    assert.deepEqual(await stalePaths(pid), [named()]);
  });

  it('is still reported when someone plants a file named like its marker', async () => {
    const [, pid] = pids as [number, number];
    unlinkSync(twin());
    writeFileSync(`${twin()} (deleted)`, 'planted');
    assert.deepEqual(await stalePaths(pid), [twin()]);
  });
});

describe('one look-up of a " (deleted)" name shared by processes with one view', {
  skip: isRoot ? false : 'needs root (map_files)',
}, () => {
  // Both processes map paths that read ".../libz.so (deleted)" in maps: one maps the real file
  // of that name (not stale), the other maps a deleted libz.so whose name-twin is that file
  // (stale). The scan stats the named file once for both (same mount namespace and root): the
  // per-process inode comparison must still tell them apart, in either order.
  let dir = '';
  const pids: number[] = [];
  const plain = () => join(dir, 'libz.so');

  before(async () => {
    const h = await startHolders(
      'deleted-name-view-',
      { 'libz.so (deleted)': 'x', 'libz.so': 'z' },
      [['libz.so'], ['libz.so (deleted)'], ['libz.so']],
    );
    dir = h.dir;
    pids.push(...h.pids);
    unlinkSync(plain());
  });
  after(async () => {
    await stopProcesses(pids);
    if (dir) removeScratch(dir);
  });

  it('reports the deleted file and not the real name, whichever comes first', async () => {
    const args = ['scan', '--json', '--no-packages', ...pids.flatMap((p) => ['--pid', String(p)])];
    const r = await runCli(args);
    assert.equal(r.code, 1, r.stderr);
    const doc = JSON.parse(r.stdout) as ScanJson;
    const [first, real, last] = pids as [number, number, number];
    // (PIDs may wrap around: compare in PID order.)
    assert.deepEqual(
      doc.processes.map((p) => [p.pid, p.files.map((f) => f.path)]),
      [first, last].sort((a, b) => a - b).map((pid) => [pid, [plain()]]),
    );
    assert.ok(!doc.processes.some((p) => p.pid === real));
  });
});
