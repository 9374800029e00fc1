// The one cgroup-tree walk (src/cgroup/tree.ts): the scan's lenient bulk attribution and
// restart verification's strict "every PID or why not", on a directory tree shaped like cgroupfs.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { walkCgroupTree } from '../../src/cgroup/tree.ts';
import { CgroupSnapshot, walkCgroups } from '../../src/scan/cgroups.ts';
import { cgroupPids } from '../../src/systemd/cgroupfs.ts';

describe('walkCgroupTree', () => {
  let root: string;
  const cg = (path: string, procs: string | null) => {
    const dir = join(root, path);
    mkdirSync(dir, { recursive: true });
    if (procs === null) mkdirSync(join(dir, 'cgroup.procs'));
    else writeFileSync(join(dir, 'cgroup.procs'), procs);
  };
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'afterpatch-cgtree-'));
    cg('', '1\n');
    cg('system.slice', '');
    cg('system.slice/nginx.service', '100\n101\n');
    cg('system.slice/nginx.service/worker', '102\n');
    // cgroup.procs is a directory here: unreadable (EISDIR).
    cg('system.slice/broken.service', null);
    cg('system.slice/broken.service/child', '300\n');
    cg('system.slice/odd.service', '200\nnot-a-pid\n');
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('lenient: paths relative to the top, what cannot be read skipped with its subtree', () => {
    const seen: string[] = [];
    const r = walkCgroupTree(root, 'lenient', (path, pids) =>
      seen.push(`${path}=${pids.join(',')}`),
    );
    assert.equal(r, null);
    assert.deepEqual(seen.sort(), [
      '/=1',
      '/system.slice/nginx.service/worker=102',
      '/system.slice/nginx.service=100,101',
      '/system.slice/odd.service=200',
      '/system.slice=',
    ]);
    assert.deepEqual([...walkCgroups(root, new Set([101, 102, 300, 999]))].sort(), [
      [101, '/system.slice/nginx.service'],
      [102, '/system.slice/nginx.service/worker'],
    ]);
  });

  it("a worker's snapshot answers the same, with only the paths its PIDs use", () => {
    const found = CgroupSnapshot.walk(root).lookup(Int32Array.from([300, 102, 999, 101, 1]));
    assert.deepEqual(
      [...found.pids].map((pid, i) => [pid, found.paths[found.at[i] as number]]),
      [
        [102, '/system.slice/nginx.service/worker'],
        [101, '/system.slice/nginx.service'],
        [1, '/'],
      ],
    );
    assert.equal(found.paths.length, 3);
    assert.deepEqual(CgroupSnapshot.walk(root).lookup(Int32Array.from([999])), {
      pids: new Int32Array(0),
      at: new Int32Array(0),
      paths: [],
    });
  });

  it('strict: every PID of a unit and below, or why not — never an empty list for an unreadable cgroup', () => {
    assert.deepEqual(cgroupPids(root, 'system.slice/nginx.service'), {
      pids: [100, 101, 102],
      error: null,
    });
    const broken = cgroupPids(root, 'system.slice/broken.service');
    assert.equal(broken.pids, null);
    assert.match(broken.error ?? '', /^cannot read .*broken\.service\/cgroup\.procs \(EISDIR\)$/);
    assert.match(
      cgroupPids(root, 'system.slice/gone.service').error ?? '',
      /gone\.service\/cgroup\.procs \(ENOENT\)$/,
    );
    assert.match(
      cgroupPids(root, 'system.slice/odd.service').error ?? '',
      /^unexpected content in /,
    );
    // A broken child ends the strict walk of its parent too.
    assert.match(cgroupPids(root, 'system.slice').error ?? '', /broken\.service|odd\.service/);
  });
});
