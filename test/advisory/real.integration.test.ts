// The running version with real dpkg runs: a test library package at versions 1, 2 and 3
// (dpkg-deb), processes started on each, dpkg.log written by dpkg itself, map_files read from
// /proc. With the fix at version 2: version-1 processes are vulnerable, version-2 ones are stale
// but not vulnerable, a version-3 one runs the installed file. The same answer from a rotated log
// (.1 and .gz); without any log, `unknown` with its bound.
import assert from 'node:assert/strict';
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { runCli } from '../../harness/cli.ts';
import {
  buildTestDeb,
  dpkgInstall,
  dpkgPurge,
  spawnHolders,
  stopProcesses,
  testPackagePaths,
} from '../../harness/fixtures.ts';
import { mappedFileCtimeMs, processStartMs } from '../../src/advisory/facts.ts';
import type { HistoryEvent } from '../../src/advisory/history.ts';
import { dpkgHistory } from '../../src/advisory/history-files.ts';
import { hostVerdict, isVulnerable, runningVersion } from '../../src/advisory/running.ts';
import { parseStatus } from '../../src/packages/dpkg.ts';
import { parseMaps } from '../../src/procfs/maps.ts';
import { compareDebVersions } from '../../src/reboot/version.ts';
import { assertScanExitMatchesVerdict } from '../helpers/advisory-exit.ts';
import { pythonHolder } from '../helpers/python.ts';

const PKG = 'afterpatch-advtest';
const isRoot = process.geteuid?.() === 0;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
/** More than the running-version tolerance (2 s) between each step. */
const GAP_MS = 2600;
const FIX = '2.0-1';

function installedVersion(): string | null {
  return parseStatus(readFileSync('/var/lib/dpkg/status', 'utf8')).resolve(PKG)?.version ?? null;
}

/** The facts of the test library's mapping in a process, read from the real /proc. */
function facts(pid: number, history: readonly HistoryEvent[], withCtime = true) {
  const lib = testPackagePaths(PKG).lib;
  const m = parseMaps(readFileSync(`/proc/${pid}/maps`, 'utf8')).find((x) => x.path === lib);
  assert.ok(m, `pid ${pid} does not map ${lib}`);
  return {
    deleted: m.deleted,
    replacedAtMs: withCtime && m.deleted ? mappedFileCtimeMs('/proc', pid, m) : null,
    startMs: processStartMs('/proc', pid),
    installed: installedVersion(),
    history,
  };
}

/**
 * Installs the test package at 1.0-1, 2.0-1, 3.0-1 in turn (dpkg -i), starting processes on each
 * (`onFirst` on version 1, one on the others), more than the tolerance apart.
 */
async function installThreeVersions(
  onFirst: number,
  alsoOnFirst: () => Promise<number[]> = async () => [],
): Promise<Record<1 | 2 | 3, number[]>> {
  const debs = await Promise.all(
    ([1, 2, 3] as const).map((v) => buildTestDeb({ name: PKG, version: `${v}.0-1`, libValue: v })),
  );
  await dpkgPurge(PKG);
  const holder = testPackagePaths(PKG).holder;
  const on: Record<1 | 2 | 3, number[]> = { 1: [], 2: [], 3: [] };
  for (const v of [1, 2, 3] as const) {
    await dpkgInstall(debs[v - 1] as string);
    await sleep(GAP_MS);
    on[v] = await spawnHolders(holder, v === 1 ? onFirst : 1, { maxLifetimeS: 120 });
    if (v === 1) on[v].push(...(await alsoOnFirst()));
    await sleep(GAP_MS);
  }
  return on;
}

describe('running versions from real dpkg upgrades', {
  skip: isRoot ? false : 'needs root (dpkg -i, map_files)',
}, () => {
  const on: Record<1 | 2 | 3, number[]> = { 1: [], 2: [], 3: [] };
  let scratch = '';

  before(async () => {
    Object.assign(on, await installThreeVersions(2));
    scratch = mkdtempSync(join(tmpdir(), 'afterpatch-advtest-'));
  });
  after(async () => {
    await stopProcesses(Object.values(on).flat());
    await dpkgPurge(PKG);
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  const wanted = new Set([PKG]);

  it('knows each version from the deleted inode and dpkg.log', () => {
    const history = dpkgHistory('', wanted);
    for (const pid of on[1]) {
      const r = runningVersion(facts(pid, history));
      assert.deepEqual(
        [r.runningVersion, r.evidence, r.lowerBound],
        ['1.0-1', 'history', undefined],
        r.note,
      );
      assert.equal(isVulnerable(r, FIX, compareDebVersions), true);
    }
    const [two] = on[2];
    const r2 = runningVersion(facts(two as number, history));
    assert.deepEqual([r2.runningVersion, r2.evidence], ['2.0-1', 'history'], r2.note);
    assert.equal(isVulnerable(r2, FIX, compareDebVersions), false);
    const [three] = on[3];
    const r3 = runningVersion(facts(three as number, history));
    assert.deepEqual([r3.runningVersion, r3.evidence], ['3.0-1', 'installed']);
    // The host: patched (3 ≥ 2), but version-1 processes still run.
    const verdict = hostVerdict(
      {
        installed: [{ name: PKG, version: installedVersion(), fixed: FIX }],
        processes: [...on[1], ...on[2], ...on[3]].map((pid) => ({
          pid,
          vulnerable: isVulnerable(runningVersion(facts(pid, history)), FIX, compareDebVersions),
        })),
        containers: [],
      },
      compareDebVersions,
    );
    assert.equal(verdict.verdict, 'restart-needed');
    assert.equal(
      hostVerdict(
        { installed: [{ name: PKG, version: '1.0-1', fixed: FIX }], processes: [], containers: [] },
        compareDebVersions,
      ).verdict,
      'unpatched',
    );
  });

  it('gives the same answer from the start time (a lower bound) and from a rotated log', () => {
    const lines = readFileSync('/var/log/dpkg.log', 'utf8')
      .split('\n')
      .filter((l) => l.includes(` ${PKG}:`));
    const log = join(scratch, 'var/log');
    mkdirSync(log, { recursive: true });
    const half = lines.findIndex((l) => / upgrade .* 2\.0-1 3\.0-1$/.test(l));
    assert.ok(half > 0, lines.join('\n'));
    writeFileSync(join(log, 'dpkg.log.2.gz'), gzipSync(`${lines.slice(0, half).join('\n')}\n`));
    writeFileSync(join(log, 'dpkg.log.1'), `${lines.slice(half).join('\n')}\n`);
    writeFileSync(join(log, 'dpkg.log'), '');
    const rotated = dpkgHistory(scratch, wanted);
    for (const history of [dpkgHistory('', wanted), rotated]) {
      for (const [v, pids] of [
        ['1.0-1', on[1]],
        ['2.0-1', on[2]],
      ] as const) {
        for (const pid of pids) {
          const byCtime = runningVersion(facts(pid, history));
          assert.equal(byCtime.runningVersion, v, byCtime.note);
          assert.match(byCtime.note, /^replaced at .* by the upgrade /);
          const byStart = runningVersion(facts(pid, history, false));
          assert.deepEqual([byStart.runningVersion, byStart.lowerBound], [v, true], byStart.note);
        }
      }
    }
  });

  it('says unknown, with its bound, without any history', () => {
    const [one] = on[1];
    const r = runningVersion(facts(one as number, []));
    assert.equal(r.evidence, 'unknown');
    assert.deepEqual(r.olderThan, { version: '3.0-1', at: null });
    // Older than 3.0-1: vulnerable for a fix at 3.0-1, unknown for one at 2.0-1.
    assert.equal(isVulnerable(r, '3.0-1', compareDebVersions), true);
    assert.equal(isVulnerable(r, FIX, compareDebVersions), 'unknown');
  });
});

describe('advisories through the CLI, on real dpkg upgrades', {
  skip: isRoot ? false : 'needs root (dpkg -i, map_files)',
}, () => {
  const on: Record<1 | 2 | 3, number[]> = { 1: [], 2: [], 3: [] };
  let scratch = '';
  const pidArgs = () =>
    Object.values(on).flatMap((pids) => pids.flatMap((p) => ['--pid', String(p)]));
  const scanJson = async (...args: string[]) => {
    const r = await runCli(['scan', '--json', ...pidArgs(), ...args]);
    assertScanExitMatchesVerdict(r);
    return JSON.parse(r.stdout) as {
      advisoryVerdict: string;
      advisories: { id: string; verdict: string; reasons: { verdict: string; why: string }[] }[];
      processes: {
        pid: number;
        vulnerable: boolean | 'unknown';
        versions: {
          runningVersion: string | null;
          evidence: string;
          lowerBound?: true;
          olderThan?: unknown;
          note: string;
        }[];
      }[];
      entries: { vulnerable: boolean | 'unknown' }[];
    };
  };

  /** A daemon that loads the library, then chroots (as postfix's smtpd does), on version 1. */
  let chrooted = 0;
  before(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'afterpatch-advcli-'));
    const jail = join(scratch, 'jail');
    const holder = join(scratch, 'chrooted-holder');
    mkdirSync(jail);
    writeFileSync(
      holder,
      pythonHolder('ctypes, os', [
        `ctypes.CDLL(${JSON.stringify(testPackagePaths(PKG).lib)})`,
        'os.chroot(sys.argv[3])',
        'os.chdir("/")',
      ]),
    );
    chmodSync(holder, 0o755);
    Object.assign(
      on,
      await installThreeVersions(1, async () => {
        const pids = await spawnHolders(holder, 1, { args: [jail], maxLifetimeS: 120 });
        chrooted = pids[0] as number;
        return pids;
      }),
    );
  });
  after(async () => {
    await stopProcesses(Object.values(on).flat());
    await dpkgPurge(PKG);
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it('scan --fixed: version-1 processes vulnerable, version-2 stale but safe, the host restart-needed', async () => {
    const d = await scanJson('--fixed', `${PKG}=${FIX}`);
    assert.equal(d.advisoryVerdict, 'restart-needed');
    const byPid = new Map(d.processes.map((p) => [p.pid, p]));
    const one = byPid.get(on[1][0] as number);
    assert.equal(one?.vulnerable, true);
    // From the replaced inode's ctime (the mapping the scan saw), not the start time's bound.
    assert.deepEqual(
      [one?.versions[0]?.runningVersion, one?.versions[0]?.evidence, one?.versions[0]?.lowerBound],
      ['1.0-1', 'history', undefined],
    );
    assert.match(String(one?.versions[0]?.note), /^replaced at .* by the upgrade 1\.0-1 → 2\.0-1$/);
    assert.equal(byPid.get(on[2][0] as number)?.vulnerable, false);
    // Chrooted after loading version 1: its library is the host's file and package (the kernel
    // prints the host's path), so it is just as vulnerable.
    assert.equal(byPid.get(chrooted)?.vulnerable, true, JSON.stringify(byPid.get(chrooted)));
    // The version-3 process maps the installed file: not stale, not listed.
    assert.equal(byPid.has(on[3][0] as number), false);
    const text = await runCli(['scan', ...pidArgs(), '--fixed', `${PKG}=${FIX}`]);
    assert.match(text.stdout, /VULNERABLE \(CLI-fixed: afterpatch-advtest 1\.0-1, fixed 2\.0-1\)/);
    assert.match(text.stdout, /Advisory CLI-fixed: restart-needed/);
  });

  it('an installed version below the fix is unpatched; an advisory file gives the same answers', async () => {
    assert.equal((await scanJson('--fixed', `${PKG}=4.0-1`)).advisoryVerdict, 'unpatched');
    const file = join(scratch, 'cve.json');
    writeFileSync(
      file,
      JSON.stringify({ id: 'CVE-2099-0001', packages: [{ name: PKG, fixed: { debian: FIX } }] }),
    );
    const d = await scanJson('--advisory', file);
    assert.deepEqual(
      d.advisories.map((a) => [a.id, a.verdict]),
      [['CVE-2099-0001', 'restart-needed']],
    );
  });

  it('history unreadable → unknown with its bound, never clean; package database unreadable → unknown', async () => {
    const root = join(scratch, 'nohistory');
    mkdirSync(join(root, 'var/lib'), { recursive: true });
    symlinkSync('/var/lib/dpkg', join(root, 'var/lib/dpkg'));
    // dpkg.log is a directory: not a log that can be read.
    mkdirSync(join(root, 'var/log/dpkg.log'), { recursive: true });
    const d = await scanJson('--root', root, '--fixed', `${PKG}=${FIX}`);
    assert.equal(d.advisoryVerdict, 'unknown');
    const one = d.processes.find((p) => p.pid === on[1][0]);
    assert.equal(one?.vulnerable, 'unknown');
    assert.deepEqual(one?.versions[0]?.olderThan, { version: '3.0-1', at: null });
    const nodb = join(scratch, 'nodb');
    mkdirSync(join(nodb, 'var/lib/dpkg/status'), { recursive: true });
    const e = await scanJson('--root', nodb, '--fixed', `${PKG}=${FIX}`);
    assert.equal(e.advisoryVerdict, 'unknown');
    assert.ok(
      e.advisories[0]?.reasons.some((r) => r.verdict === 'unknown'),
      JSON.stringify(e),
    );
  });
});

describe('the fleet CVE table from three real scans: before the upgrade, after it, after the restart', {
  skip: isRoot ? false : 'needs root (dpkg -i, map_files)',
}, () => {
  let scratch = '';
  const started: number[] = [];
  before(() => {
    scratch = mkdtempSync(join(tmpdir(), 'afterpatch-advfleet-'));
  });
  after(async () => {
    await stopProcesses(started);
    await dpkgPurge(PKG);
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it('report: one host unpatched, one restart-needed, one clean, with counts', async () => {
    const debs = await Promise.all(
      ([1, 2] as const).map((v) => buildTestDeb({ name: PKG, version: `${v}.0-1`, libValue: v })),
    );
    await dpkgPurge(PKG);
    const holder = testPackagePaths(PKG).holder;
    const stage = async (host: string, pids: readonly number[]) => {
      const r = await runCli([
        'scan',
        '--json',
        ...pids.flatMap((p) => ['--pid', String(p)]),
        '--fixed',
        `${PKG}=${FIX}`,
      ]);
      assertScanExitMatchesVerdict(r);
      const file = join(scratch, `${host}.json`);
      writeFileSync(file, JSON.stringify({ host, scan: JSON.parse(r.stdout) }));
      return file;
    };
    await dpkgInstall(debs[0] as string);
    const old = await spawnHolders(holder, 1, { maxLifetimeS: 120 });
    started.push(...old);
    const a = await stage('before-upgrade', old);
    await sleep(GAP_MS);
    await dpkgInstall(debs[1] as string);
    const b = await stage('after-upgrade', old);
    // The restart: the old process ends, a new one starts on the fixed version.
    await stopProcesses(old);
    const fresh = await spawnHolders(holder, 1, { maxLifetimeS: 120 });
    started.push(...fresh);
    const c = await stage('after-restart', fresh);

    const r = await runCli(['report', '--json', a, b, c]);
    assert.equal(r.code, 1, r.stderr);
    const table = JSON.parse(r.stdout).advisories as {
      id: string;
      verdict: string;
      hosts: Record<string, string[]>;
      counts: Record<string, number>;
      notAssessed: string[];
    }[];
    assert.equal(table.length, 1);
    const row = table[0];
    assert.deepEqual(
      [row?.id, row?.verdict, row?.hosts.unpatched, row?.hosts['restart-needed'], row?.hosts.clean],
      ['CLI-fixed', 'unpatched', ['before-upgrade'], ['after-upgrade'], ['after-restart']],
    );
    assert.deepEqual(row?.counts, {
      unpatched: 1,
      'reboot-needed': 0,
      'restart-needed': 1,
      'image-vulnerable': 0,
      unknown: 0,
      clean: 1,
    });
    const text = await runCli(['report', a, b, c]);
    assert.match(
      text.stdout,
      /Advisories\n {2}CLI-fixed: unpatched\n {4}unpatched +1 +before-upgrade/,
    );
    // Only the restarted host: the fleet is clean for the advisory (exit 0).
    assert.equal((await runCli(['report', c])).code, 0);
  });
});
