// The scan's fast paths (issue 17): a maps file without " (deleted)" is dropped after one search,
// and a file mapped several times in a row is parsed once. Neither may drop a process or a file
// that the full parse reports, on one thread or several.
import assert from 'node:assert/strict';
import { symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ProcReader } from '../../src/procfs/reader.ts';
import { collect } from '../../src/scan/collect.ts';
import { defaultThreads } from '../../src/scan/parallel.ts';
import { scan } from '../../src/scan/scan.ts';
import { makeProcTree, mapsLine } from '../helpers/fakeproc.ts';

const exe = (p: string) => mapsLine(p, { addr: 0x55e000, inode: 99 });
const lib = '/usr/lib/x86_64-linux-gnu/libfast.so.1';
const at = (i: number, o: { perms?: string; inode?: number; deleted?: boolean } = {}) =>
  mapsLine(lib, { deleted: true, addr: 0x7f2000 + i, ...o });

const tree = {
  1: { name: 'systemd', maps: exe('/usr/lib/systemd/systemd'), cgroup: '0::/init.scope\n' },
  // Data mappings first, then the code one: the repeated lines must still make it code.
  10: {
    name: 'data-first',
    maps: [
      exe('/usr/bin/a'),
      at(0, { perms: 'r--p' }),
      at(1, { perms: 'rw-p' }),
      at(2, { perms: 'r-xp' }),
    ].join('\n'),
    cgroup: '0::/system.slice/a.service\n',
  },
  // The same path with two inodes in a row (replaced twice): two stale files, not one.
  11: {
    name: 'two-inodes',
    maps: [exe('/usr/bin/b'), at(0, { inode: 500 }), at(1, { inode: 501 })].join('\n'),
    cgroup: '0::/system.slice/b.service\n',
  },
  // The only marker is the last bytes of the file (no newline after it).
  12: {
    name: 'last-line',
    maps: [exe('/usr/bin/c'), mapsLine('/usr/lib/libok.so'), at(0)].join('\n'),
    cgroup: '0::/system.slice/c.service\n',
  },
  // " (deleted)" only inside a path, never as the suffix: clean.
  13: {
    name: 'inside',
    pidNs: 'pid:[4026532001]',
    maps: [exe('/usr/bin/d'), mapsLine('/opt/x (deleted)/lib.so')].join('\n'),
    cgroup: '0::/system.slice/d.service\n',
  },
  // Nothing deleted at all.
  14: {
    name: 'clean',
    maps: [exe('/usr/bin/e'), mapsLine('/usr/lib/libok.so')].join('\n'),
    cgroup: '0::/system.slice/e.service\n',
  },
};

describe('scan fast paths on a fixture /proc', () => {
  let fx: ReturnType<typeof makeProcTree>;
  before(() => {
    fx = makeProcTree(tree);
    for (const pid of [13, 14]) symlinkSync(`mnt:[40265321${pid}]`, join(fx.root, `${pid}/ns/mnt`));
  });
  after(() => fx.cleanup());

  const files = (r: Awaited<ReturnType<typeof scan>>) =>
    r.processes.map((p) => [p.pid, p.files.map((f) => [f.inode, f.kind])]);
  const expected = [
    [10, [[1234, 'code']]],
    [
      11,
      [
        [500, 'code'],
        [501, 'code'],
      ],
    ],
    [12, [[1234, 'code']]],
  ];

  it('reports every stale process and file, and only those', async () => {
    const r = await scan({ procRoot: fx.root, packages: false, threads: 1 });
    assert.deepEqual(files(r), expected);
    assert.equal(r.summary.scanned, 6);
  });

  it('gives the same answer on several threads', async () => {
    const r = await scan({ procRoot: fx.root, packages: false, threads: 3 });
    assert.deepEqual(files(r), expected);
  });

  it('reads the PID namespace of every process only when asked (for the advisories)', () => {
    const queue = () => {
      let handed = false;
      return {
        next: () => {
          if (handed) return null;
          handed = true;
          return [1, 10, 11, 12, 13, 14];
        },
      };
    };
    const opts = { noise: {}, keepIgnored: false, wantComm: false };
    const r = collect(new ProcReader(fx.root), queue(), {
      ...opts,
      hostPidNs: 'pid:[4026531836]',
    });
    // 13 is in another PID namespace (and clean: still a container candidate); 14 has a mount
    // namespace link but the host's PID namespace.
    assert.deepEqual(r.foreign, [{ pid: 13, mntNs: 'mnt:[4026532113]' }]);
    assert.deepEqual(collect(new ProcReader(fx.root), queue(), opts).foreign, []);
    assert.deepEqual(
      r.processes.map((p) => [p.pid, p.pidNs]),
      [10, 11, 12].map((pid) => [pid, 'pid:[4026531836]']),
    );
  });
});

describe('the default thread count', () => {
  it('is the CPUs (at most 4), one thread only when the cores are saturated, on average and now', () => {
    assert.equal(defaultThreads(2, 0, 0), 2);
    assert.equal(
      defaultThreads(2, 1.6, 1),
      2,
      'a lagging load average of a few does not halve the scan',
    );
    assert.equal(defaultThreads(2, 3.9, 9), 2);
    assert.equal(defaultThreads(2, 4, 4), 1, 'saturated: no worker');
    assert.equal(defaultThreads(2, 45, 30), 1, 'never fewer than one');
    assert.equal(
      defaultThreads(2, 12, 1),
      2,
      'an average still high after a burst, idle cores now: both threads',
    );
    assert.equal(defaultThreads(2, 0.5, 8), 2, 'a momentary burst alone: both threads');
    assert.equal(defaultThreads(1, 0, 0), 1);
    assert.equal(defaultThreads(16, 14, 40), 4);
    assert.equal(defaultThreads(16, 32, 32), 1);
  });
});
