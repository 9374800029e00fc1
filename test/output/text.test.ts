import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { PLAIN } from '../../src/output/style.ts';
import { formatText } from '../../src/output/text.ts';
import { scan } from '../../src/scan/scan.ts';
import { makeProcTree, mapsLine } from '../helpers/fakeproc.ts';

/** The summary line of `scan`'s text for processes in these cgroups (one stale process each). */
async function summaryFor(cgroups: readonly string[], dataOnly = 0): Promise<string> {
  const stale = (cgroup: string, data: boolean) => ({
    name: 'x',
    maps: [
      mapsLine('/usr/bin/x'),
      mapsLine('/usr/lib/libz.so.1', { deleted: true, perms: data ? 'rw-p' : 'r-xp' }),
    ].join('\n'),
    cgroup: `0::${cgroup}\n`,
  });
  const procs: Parameters<typeof makeProcTree>[0] = {
    1: { name: 'systemd', maps: '', cgroup: '0::/init.scope\n' },
  };
  cgroups.forEach((c, i) => {
    procs[100 + i] = stale(c, i < dataOnly);
  });
  const fx = makeProcTree(procs);
  cleanups.push(fx.cleanup);
  const report = await scan({ procRoot: fx.root, packages: false });
  const lines = formatText(report, PLAIN).trimEnd().split('\n');
  return (
    lines.find((l) => / outdated code/.test(l)) ?? `(no summary line in: ${lines.join(' | ')})`
  );
}

const cleanups: (() => void)[] = [];
after(() => {
  for (const c of cleanups) c();
});

const UNIT = '/system.slice/nginx.service';
const SESSION = '/user.slice/user-1000.slice/session-4.scope';
const NONE = '/';

describe("scan's summary line", () => {
  it('counts units and sessions (the README example)', async () => {
    assert.equal(
      await summaryFor([UNIT, UNIT, UNIT, UNIT, UNIT, SESSION]),
      '6 processes in 1 unit, 1 session run outdated code (7 scanned).',
    );
  });

  it('counts processes outside any unit (no unit, session or container) apart, never "in 0 units"', async () => {
    assert.equal(
      await summaryFor([NONE, NONE]),
      '2 processes outside any unit run outdated code (3 scanned).',
    );
    assert.equal(
      await summaryFor([UNIT, UNIT, NONE]),
      '3 processes run outdated code: 2 in 1 unit; 1 outside any unit (4 scanned).',
    );
  });

  it('agrees in number with one process, and counts data-only ones', async () => {
    assert.equal(await summaryFor([UNIT]), '1 process in 1 unit runs outdated code (2 scanned).');
    assert.equal(
      await summaryFor([SESSION, UNIT], 1),
      '2 processes in 1 unit, 1 session run outdated code; 1 of the 2 keeps only deleted data files (3 scanned).',
    );
  });
});
