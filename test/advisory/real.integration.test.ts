// The running version with real dpkg runs: a test library package at versions 1, 2 and 3
// (dpkg-deb), processes started on each, dpkg.log written by dpkg itself, map_files read from
// /proc. With the fix at version 2: version-1 processes are vulnerable, version-2 ones are stale
// but not vulnerable, a version-3 one runs the installed file. The same answer from a rotated log
// (.1 and .gz); without any log, `unknown` with its bound.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
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

describe('running versions from real dpkg upgrades', {
  skip: isRoot ? false : 'needs root (dpkg -i, map_files)',
}, () => {
  const on: Record<1 | 2 | 3, number[]> = { 1: [], 2: [], 3: [] };
  let scratch = '';

  before(async () => {
    const debs = await Promise.all(
      ([1, 2, 3] as const).map((v) =>
        buildTestDeb({ name: PKG, version: `${v}.0-1`, libValue: v }),
      ),
    );
    await dpkgPurge(PKG);
    const holder = testPackagePaths(PKG).holder;
    for (const v of [1, 2, 3] as const) {
      await dpkgInstall(debs[v - 1] as string);
      await sleep(GAP_MS);
      on[v] = await spawnHolders(holder, v === 1 ? 2 : 1, { maxLifetimeS: 120 });
      await sleep(GAP_MS);
    }
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
