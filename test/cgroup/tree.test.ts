// The one cgroup-tree walk (src/cgroup/tree.ts): the scan's lenient bulk attribution and
// restart verification's strict "every PID or why not", on a directory tree shaped like cgroupfs.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { walkCgroupTree } from '../../src/cgroup/tree.ts';
import { CgroupSnapshot } from '../../src/scan/cgroups.ts';
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
    const snap = CgroupSnapshot.walk(root);
    assert.deepEqual(
      [101, 102, 1, 100, 200].map((pid) => [pid, snap.get(pid)]),
      [
        [101, '/system.slice/nginx.service'],
        [102, '/system.slice/nginx.service/worker'],
        [1, '/'],
        [100, '/system.slice/nginx.service'],
        [200, '/system.slice/odd.service'],
      ],
    );
    // Not in any cgroup it could read: unknown.
    for (const pid of [300, 999]) {
      assert.equal(snap.has(pid), false);
      assert.equal(snap.get(pid), undefined);
    }
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
