import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { formatJson, scanJsonChunks, scanToJson } from '../../src/output/json.ts';
import type { ScanReport } from '../../src/scan/scan.ts';
import { scan } from '../../src/scan/scan.ts';
import { makeProcTree, mapsLine } from '../helpers/fakeproc.ts';

describe('scan JSON written in pieces', () => {
  let fx: ReturnType<typeof makeProcTree>;
  let report: ScanReport;
  before(async () => {
    const stale = (pid: number) => ({
      name: `p${pid}`,
      maps: [
        mapsLine('/usr/bin/x'),
        mapsLine('/usr/lib/libz.so.1', { deleted: true, addr: 0x7f3000 }),
      ].join('\n'),
      cgroup: '0::/system.slice/x.service\n',
    });
    fx = makeProcTree({
      1: { name: 'systemd', maps: '', cgroup: '0::/init.scope\n' },
      20: stale(20),
      21: stale(21),
      22: stale(22),
    });
    report = await scan({ procRoot: fx.root, packages: false });
  });
  after(() => fx.cleanup());

  it('is exactly the pretty-printed document', () => {
    assert.equal(report.processes.length, 3);
    assert.equal(formatJson(report), `${JSON.stringify(scanToJson(report), null, 2)}\n`);
    assert.ok([...scanJsonChunks(report)].length > 4, 'one piece per process');
  });

  it('handles a report without processes', () => {
    const empty = { ...report, processes: [], groups: [] };
    assert.equal(formatJson(empty), `${JSON.stringify(scanToJson(empty), null, 2)}\n`);
  });
});
