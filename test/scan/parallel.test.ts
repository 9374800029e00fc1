// The scan's threads: the main thread reads from the start and workers join when they are up; a
// worker that took work is always waited for (its processes are never lost), one that came up
// after the queue was drained is not.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cachedDataVersionTag } from 'node:v8';
import { scanListFiles } from '../../src/packages/dpkg.ts';
import {
  armJitBudget,
  collectAll,
  prewarmScanThreads,
  warmThreads,
} from '../../src/scan/parallel.ts';
import { makeProcTree, mapsLine } from '../helpers/fakeproc.ts';

const N = 200;
const tree = Object.fromEntries(
  Array.from({ length: N }, (_, i) => [
    100 + i,
    {
      name: `p${i}`,
      maps: [
        mapsLine(`/usr/bin/p${i}`, { addr: 0x55e000, inode: 99 }),
        ...(i % 2 === 0
          ? [mapsLine('/usr/lib/libgone.so.1', { deleted: true, addr: 0x7f2000 })]
          : []),
      ].join('\n'),
      cgroup: '0::/system.slice/p.service\n',
    },
  ]),
);
const stale = Array.from({ length: N / 2 }, (_, i) => 100 + 2 * i);
const opts = { noise: {}, keepIgnored: false, wantComm: false };

describe('scan threads', () => {
  let fx: ReturnType<typeof makeProcTree>;
  before(() => {
    fx = makeProcTree(tree);
  });
  after(() => fx.cleanup());
  const pids = Array.from({ length: N }, (_, i) => 100 + i);

  it('waits for workers that took work: every process is reported once', async () => {
    const r = await collectAll(fx.root, pids, opts, 3, { mainAfterWorkers: true });
    void r.helper?.terminate();
    assert.deepEqual(
      r.processes.map((p) => p.pid),
      stale,
    );
    assert.equal(r.scanned, N);
  });

  it('reports every process when the main thread drains the queue before the workers are up', async () => {
    // 200 processes take the main thread a few milliseconds; a worker needs tens to start (from
    // source, through tsx, hundreds): the workers are cancelled, not waited for.
    const r = await collectAll(fx.root, pids, opts, 4);
    void r.helper?.terminate();
    assert.deepEqual(
      r.processes.map((p) => p.pid),
      stale,
    );
    assert.equal(r.scanned, N);
  });

  it("records each stale file's map_files name only when asked (the advisories' assessment)", async () => {
    const plain = await collectAll(fx.root, pids, opts, 2, { mainAfterWorkers: true });
    void plain.helper?.terminate();
    assert.deepEqual(
      [...new Set(plain.processes.flatMap((p) => p.files.map((f) => f.range)))],
      [null],
    );
    const asked = await collectAll(fx.root, pids, { ...opts, ranges: true }, 2, {
      mainAfterWorkers: true,
    });
    void asked.helper?.terminate();
    // Every thread's processes, the worker's too: libgone.so.1 is mapped at 0x7f2000000.
    assert.equal(asked.processes.length, stale.length);
    assert.deepEqual(
      [...new Set(asked.processes.flatMap((p) => p.files.map((f) => f.range)))],
      ['7f2000000-7f2001000'],
    );
  });

  it('gives work to threads started before the scan, and ends the ones it does not need', async () => {
    assert.equal(prewarmScanThreads(3), 3);
    assert.equal(warmThreads(), 3);
    // Two workers wanted: two prewarmed threads take work (the main thread waits until they
    // have), the third is ended.
    const r = await collectAll(fx.root, pids, opts, 3, { mainAfterWorkers: true });
    void r.helper?.terminate();
    assert.equal(warmThreads(), 0);
    assert.deepEqual(
      r.processes.map((p) => p.pid),
      stale,
    );
    assert.equal(r.scanned, N);
  });

  it('a prewarmed thread never given work keeps nothing alive', () => {
    const code = `import(${JSON.stringify(new URL('../../src/scan/parallel.ts', import.meta.url).href)}).then((m) => { m.prewarmScanThreads(2); })`;
    const started = Date.now();
    const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', code], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(r.status, 0, r.stderr);
    assert.ok(Date.now() - started < 30_000);
  });

  it('keeps a worker after its reads for the .list search, which finds what the main thread finds', async () => {
    const info = mkdtempSync(join(tmpdir(), 'afterpatch-lists-'));
    try {
      writeFileSync(join(info, 'liba:amd64.list'), '/.\n/usr/lib/liba.so.1\n/usr/bin/a\n');
      writeFileSync(join(info, 'libb.list'), '/usr/lib/liba.so.1\n/usr/bin/b');
      writeFileSync(join(info, 'libb.md5sums'), '/usr/lib/liba.so.1\n');
      const wanted = new Set(['/usr/lib/liba.so.1', '/usr/bin/b', '/usr/bin/none']);
      const r = await collectAll(fx.root, pids, opts, 2, { mainAfterWorkers: true });
      assert.ok(r.helper, 'the worker that took work is kept');
      const found = await r.helper.scanLists(info, wanted);
      assert.deepEqual([...found].sort(), [...(await scanListFiles(info, wanted))].sort());
      assert.deepEqual(found.get('/usr/lib/liba.so.1'), ['liba:amd64', 'libb']);
      // Searches that finish out of order (the long one yields to the event loop as it goes)
      // each get their own answer.
      const dpkgInfo = '/var/lib/dpkg/info';
      const [long, short] = await Promise.all([
        r.helper.scanLists(dpkgInfo, new Set(['/bin/sh'])),
        r.helper.scanLists(info, wanted),
      ]);
      assert.deepEqual([...long], [...(await scanListFiles(dpkgInfo, new Set(['/bin/sh'])))]);
      assert.deepEqual([...short].sort(), [...found].sort());
      // A failure there is the caller's to handle (the lookup then searches on its own thread).
      await assert.rejects(r.helper.scanLists(join(info, 'missing'), wanted), /ENOENT/);
      await r.helper.terminate();
      await assert.rejects(r.helper.scanLists(info, wanted), /the scan thread ended/);
    } finally {
      rmSync(info, { recursive: true, force: true });
    }
  });

  /** The reads, the worker searching `infoDir`'s lists ahead for its stale files of `hostPidNs`. */
  const collectAhead = (infoDir: string, hostPidNs: string | null) =>
    collectAll(fx.root, pids, { ...opts, listsAhead: { infoDir, hostPidNs } }, 2, {
      mainAfterWorkers: true,
    });

  it('a worker begins the .list search for its own stale files as it posts its result; the rest is searched when asked', async () => {
    const gone = '/usr/lib/libgone.so.1';
    const HOST = 'pid:[4026531836]'; // the fake processes' namespace (test/helpers/fakeproc.ts)
    for (const hostPidNs of [HOST, 'pid:[999]']) {
      const info = mkdtempSync(join(tmpdir(), 'afterpatch-lists-'));
      const list = join(info, 'gone:amd64.list');
      try {
        writeFileSync(list, `/.\n${gone}\n`);
        // The worker takes the first chunk (stale processes among them) before this thread.
        const r = await collectAhead(info, hostPidNs);
        assert.ok(r.helper);
        // Answered once the search made ahead is done (nothing asked).
        assert.equal((await r.helper.scanLists(info, new Set())).size, 0);
        // The list rewritten in place (the directory unchanged; dpkg itself renames): a path
        // searched ahead is answered from that search, a path the request adds from the new text.
        writeFileSync(list, '/usr/bin/late\n');
        const found = await r.helper.scanLists(info, new Set([gone, '/usr/bin/late', '/none']));
        if (hostPidNs === HOST)
          assert.deepEqual([...found].sort(), [
            ['/usr/bin/late', ['gone:amd64']],
            [gone, ['gone:amd64']],
          ]);
        // Every process in another PID namespace: nothing searched ahead, all of it now.
        else assert.deepEqual([...found], [['/usr/bin/late', ['gone:amd64']]]);
        await r.helper.terminate();
      } finally {
        rmSync(info, { recursive: true, force: true });
      }
    }
  });

  it('the search made ahead is not used once dpkg changed its lists, nor for another directory', async () => {
    const gone = '/usr/lib/libgone.so.1';
    const info = mkdtempSync(join(tmpdir(), 'afterpatch-lists-'));
    try {
      writeFileSync(join(info, 'gone:amd64.list'), `/.\n${gone}\n`);
      const r = await collectAhead(info, null);
      assert.ok(r.helper);
      assert.equal((await r.helper.scanLists(info, new Set())).size, 0);
      // A package installed since: a new list, the directory's mtime moves.
      writeFileSync(join(info, 'late.list'), `${gone}\n`);
      assert.deepEqual(
        [...(await r.helper.scanLists(info, new Set([gone])))],
        [[gone, ['gone:amd64', 'late']]],
      );
      // Another directory than the one searched ahead: searched in full.
      const other = mkdtempSync(join(tmpdir(), 'afterpatch-lists-'));
      try {
        writeFileSync(join(other, 'x.list'), `${gone}\n`);
        assert.deepEqual([...(await r.helper.scanLists(other, new Set([gone])))], [[gone, ['x']]]);
      } finally {
        rmSync(other, { recursive: true, force: true });
      }
      // No such directory when the worker was done: searched when asked.
      const parent = mkdtempSync(join(tmpdir(), 'afterpatch-lists-'));
      try {
        const later = join(parent, 'info');
        const r2 = await collectAhead(later, null);
        assert.ok(r2.helper);
        mkdirSync(later);
        writeFileSync(join(later, 'gone.list'), `${gone}\n`);
        assert.deepEqual(
          [...(await r2.helper.scanLists(later, new Set([gone])))],
          [[gone, ['gone']]],
        );
        await r2.helper.terminate();
      } finally {
        rmSync(parent, { recursive: true, force: true });
      }
      await r.helper.terminate();
    } finally {
      rmSync(info, { recursive: true, force: true });
    }
  });

  it('a worker kept for the .list search keeps nothing alive', () => {
    // Not ended by its caller (a library user, a failure before the end): the program still exits.
    const code = `import(${JSON.stringify(new URL('../../src/scan/parallel.ts', import.meta.url).href)}).then(async (m) => { const r = await m.collectAll('/proc', [process.pid], { noise: {}, keepIgnored: false, wantComm: false }, 2, { mainAfterWorkers: true }); if (!r.helper) process.exit(9); })`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', code], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(r.status, 0, r.stderr);
  });

  // V8's cachedDataVersionTag covers its flags: it changes exactly when a flag does. Each test
  // arms its own value (setting a flag to the value it has changes nothing).
  it('sets an armed V8 flag only once a worker has started and taken work', async () => {
    const before = cachedDataVersionTag();
    armJitBudget('--interrupt-budget=300001');
    const scanning = collectAll(fx.root, pids, opts, 2, { mainAfterWorkers: true });
    // The worker is starting (through tsx: hundreds of milliseconds): nothing is set yet.
    assert.equal(cachedDataVersionTag(), before);
    const r = await scanning;
    void r.helper?.terminate();
    assert.notEqual(cachedDataVersionTag(), before);
    assert.equal(r.scanned, N);
  });

  it('the main thread sets the armed flag when it reads alone, and only for the next scan', async () => {
    const before = cachedDataVersionTag();
    armJitBudget('--interrupt-budget=300002');
    await collectAll(fx.root, pids, opts, 1);
    const after = cachedDataVersionTag();
    assert.notEqual(after, before);
    const r = await collectAll(fx.root, pids, opts, 2, { mainAfterWorkers: true });
    void r.helper?.terminate();
    assert.equal(cachedDataVersionTag(), after, 'not armed again: nothing set');
  });

  it('fails when a worker that took work ends without its result (never a partial scan)', async () => {
    await assert.rejects(
      collectAll(fx.root, pids, opts, 2, { mainAfterWorkers: true, exitBeforeResult: true }),
      /a scan thread ended without its result/,
    );
  });
});
