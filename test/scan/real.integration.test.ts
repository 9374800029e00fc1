// scan against real processes: a real .deb upgraded under running programs.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../../harness/cli.ts';
import {
  buildNoiseHolders,
  buildTestDeb,
  dpkgInstall,
  dpkgPurge,
  spawnHolders,
  stopProcesses,
  testPackagePaths,
} from '../../harness/fixtures.ts';
import { scan } from '../../src/scan/scan.ts';
import { validateScanJson } from '../helpers/schema.ts';

const PKG = 'afterpatch-scantest';
const isRoot = process.geteuid?.() === 0;

interface ScanJson {
  summary: { unreadable: number; processes: number };
  entries: {
    key: string;
    pids: number[];
    files: { path: string; kind: string; package: { name: string; version: string } | null }[];
  }[];
  processes: {
    pid: number;
    files: { path: string; kind: string }[];
    ignored: { path: string; rule: string }[];
  }[];
}

describe('scan finds processes running an upgraded package', {
  skip: isRoot ? false : 'needs root (dpkg -i)',
}, () => {
  const paths = testPackagePaths(PKG);
  let holders: number[] = [];
  let noise: number[] = [];
  let bystander: number[] = [];

  before(async () => {
    const v1 = await buildTestDeb({ name: PKG, version: '1.0-1', libValue: 1 });
    const v2 = await buildTestDeb({ name: PKG, version: '2.0-1', libValue: 2 });
    const n = await buildNoiseHolders();
    await dpkgPurge(PKG);
    await dpkgInstall(v1);
    holders = await spawnHolders(paths.holder, 3);
    noise = [
      ...(await spawnHolders(n.memfdHolder, 1)),
      ...(await spawnHolders(n.dlopenHolder, 1, { args: [n.library] })),
    ];
    await dpkgInstall(v2);
    // Started after the upgrade: maps the new files, must not be reported.
    bystander = await spawnHolders(paths.holder, 1);
  });
  after(async () => {
    await stopProcesses([...holders, ...noise, ...bystander]);
    await dpkgPurge(PKG);
  });

  const ours = (doc: ScanJson) =>
    doc.processes.filter((p) => [...holders, ...noise, ...bystander].includes(p.pid));

  it('reports exactly the old processes, the deleted files and the package', async () => {
    const r = await runCli(['scan', '--json']);
    assert.equal(r.code, 1, r.stderr);
    const doc = JSON.parse(r.stdout) as ScanJson;
    validateScanJson(doc);
    assert.deepEqual(
      ours(doc)
        .map((p) => p.pid)
        .sort((a, b) => a - b),
      [...holders].sort((a, b) => a - b),
    );
    for (const p of ours(doc)) {
      assert.deepEqual(
        p.files.map((f) => [f.path, f.kind]).sort(),
        [
          [paths.holder, 'code'],
          [paths.lib, 'code'],
        ].sort(),
      );
    }
    const files = doc.entries.flatMap((e) => e.files).filter((f) => f.path === paths.lib);
    assert.ok(files.length > 0);
    for (const f of files)
      assert.deepEqual(f.package, { name: PKG, version: '2.0-1', manager: 'dpkg' });
  });

  it('fileOwners false (restart without --package/--fixed/--rescan): the same processes, packages not looked up', async () => {
    const pids = [...holders];
    const withOwners = await scan({ filters: { pids } });
    const without = await scan({ filters: { pids }, fileOwners: false });
    const view = (r: typeof without) =>
      r.processes.map((p) => [p.pid, p.files.map((f) => f.path).sort()]);
    assert.deepEqual(view(without), view(withOwners));
    assert.ok(withOwners.processes.every((p) => p.files.every((f) => f.package?.name === PKG)));
    assert.ok(without.processes.every((p) => p.files.every((f) => f.package === null)));
    // --package still narrows: restart looks owners up whenever a filter needs them.
    const byPkg = await scan({ filters: { pids, packages: [PKG] }, fileOwners: true });
    assert.equal(byPkg.processes.length, pids.length);
  });

  it('names the same packages when a scan thread searches the .list files', async () => {
    const pids = [...holders];
    // The worker takes part, then searches dpkg's .list files while this thread reads cgroups.
    const r = await scan({ filters: { pids }, threads: 2, testWorkersFirst: true });
    assert.equal(r.processes.length, pids.length);
    for (const p of r.processes)
      for (const f of p.files)
        assert.deepEqual(f.package, { name: PKG, version: '2.0-1', manager: 'dpkg' });
  });

  it('does not report a deleted memfd or a deleted /tmp library, but shows them with --all', async () => {
    const r = await runCli([
      'scan',
      '--json',
      '--all',
      '--pid',
      String(noise[0]),
      '--pid',
      String(noise[1]),
    ]);
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout) as ScanJson;
    validateScanJson(doc);
    assert.deepEqual(doc.entries, []);
    const rules = doc.processes.flatMap((p) => p.ignored.map((i) => i.rule)).sort();
    assert.deepEqual(rules, ['memfd', 'tmp']);
  });

  it('narrows to a library or a package', async () => {
    const byLib = JSON.parse(
      (await runCli(['scan', '--json', '--lib', 'libafterpatchtest'])).stdout,
    ) as ScanJson;
    assert.deepEqual(
      ours(byLib).map((p) => p.files.map((f) => f.path)),
      holders.map(() => [paths.lib]),
    );
    const byPkg = await runCli(['scan', '-q', '--package', PKG]);
    assert.equal(byPkg.code, 1);
    const none = await runCli(['scan', '-q', '--package', 'no-such-package-here']);
    assert.equal(none.code, 0);
  });

  it('without root, scans what it can, says how many processes it could not read, and never exits 0 (was: 0, "clean")', async () => {
    const r = await runCli(['scan'], { uid: 65534, gid: 65534 });
    assert.equal(r.code, 3, r.stderr);
    assert.match(
      r.stderr,
      /^afterpatch: \d+ of \d+ processes could not be read without root: nothing stale among the others, but the scan is partial; run as root \(exit 3\)\.\n$/,
    );
    const quiet = await runCli(['scan', '-q'], { uid: 65534, gid: 65534 });
    assert.equal(quiet.code, 3);
    assert.equal(quiet.stdout, '');
    assert.match(r.stdout, /No outdated code found in the \d+ processes that could be read\./);
    assert.match(r.stdout, /\d+ of \d+ processes could not be read: run as root to see all\./);
    const json = JSON.parse(
      (await runCli(['scan', '--json'], { uid: 65534, gid: 65534 })).stdout,
    ) as ScanJson;
    assert.ok(json.summary.unreadable >= holders.length);
    assert.equal(ours(json).length, 0);
  });

  it("as root without CAP_SYS_PTRACE, another user's process is a gap, not a note: scan says so, check is UNKNOWN, metrics partial (was: OK)", async () => {
    // Root without the capability reads root's own processes only (the kernel's ptrace "read"
    // check): a process of nobody's stands for nginx's workers.
    const other = spawn('sleep', ['300'], { uid: 65534, gid: 65534, stdio: 'ignore' });
    const gone = new Promise((resolve) => other.once('exit', resolve));
    try {
      assert.ok(other.pid !== undefined);
      const bundle = new URL('../../dist/afterpatch.cjs', import.meta.url).pathname;
      const run = (...args: string[]) =>
        spawnSync(
          'setpriv',
          ['--bounding-set', '-sys_ptrace', '--', process.execPath, bundle, ...args],
          { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } },
        );
      const text = run('scan');
      // Our holders are root's: still seen, and stale (exit 1 wins over partial).
      assert.equal(text.status, 1, text.stderr);
      assert.match(
        text.stdout,
        /^\d+ of \d+ processes could not be read: afterpatch runs without CAP_SYS_PTRACE, which reading other users' processes needs\.$/m,
      );
      const json = JSON.parse(run('scan', '--json').stdout) as ScanJson;
      assert.ok(json.summary.unreadable >= 1);
      assert.deepEqual(
        ours(json)
          .map((p) => p.pid)
          .sort((a, b) => a - b),
        [...holders].sort((a, b) => a - b),
      );
      const check = run('check');
      assert.equal(check.status, 3, check.stdout);
      assert.match(
        check.stdout,
        /^AFTERPATCH UNKNOWN - cannot read \d+ of \d+ processes: give afterpatch CAP_SYS_PTRACE; found so far: outdated code/,
      );
      const metrics = run('metrics');
      assert.match(metrics.stdout, /^afterpatch_scan_partial 1$/m);
      // The control: with the capability, nobody's process is read.
      const full = await runCli(['metrics']);
      assert.match(full.stdout, /^afterpatch_scan_partial 0$/m);
    } finally {
      // Our own child, by its handle (its PID): stopProcesses ends only spawnHolders' processes.
      other.kill('SIGKILL');
      await gone;
    }
  });

  it('without root, restart never says "nothing to do" (exit 1, was: 0) while it could not read processes', async () => {
    const note =
      /^No outdated code found in the processes that could be read; \d+ of \d+ processes could not be read: run as root to see all\.\n/;
    for (const args of [['restart', '--dry-run'], ['restart']]) {
      const r = await runCli(args, { uid: 65534, gid: 65534 });
      assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stdout, note);
    }
    const json = await runCli(['restart', '--dry-run', '--json'], { uid: 65534, gid: 65534 });
    assert.equal(json.code, 1, json.stderr);
    const doc = JSON.parse(json.stdout) as { scan: { unreadable: number }; plan: unknown[] };
    assert.ok(doc.scan.unreadable >= holders.length);
    assert.deepEqual(doc.plan, []);
  });
});
