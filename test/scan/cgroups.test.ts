// The scan's cgroups (src/scan/cgroups.ts): a walk made by the main thread while it waits for the
// workers' results is used only when a few processes read the classic way agree with it, and
// answers as /proc/PID/cgroup does.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ProcReader } from '../../src/procfs/reader.ts';
import { BULK_CGROUP_THRESHOLD, cgroupOf, cgroupsOf } from '../../src/scan/cgroups.ts';
import { collectAll } from '../../src/scan/parallel.ts';
import { systemdCgroupMount } from '../../src/systemd/cgroupfs.ts';

const reader = new ProcReader('/proc');
const own = cgroupOf(reader, process.pid);
// More PIDs than the bulk threshold (the same one repeated: this host may run few processes).
const many = Array.from({ length: BULK_CGROUP_THRESHOLD + 1 }, () => process.pid);
/** A PID above the kernel's limit (4194304): no such process, /proc/PID/cgroup is unreadable. */
const NONE = 5_000_000;

describe("the scan's cgroups", () => {
  it('uses a walk that agrees with /proc/PID/cgroup, for the PIDs it holds', () => {
    assert.notEqual(own, null, 'this process has a cgroup');
    const early = new Map([
      [process.pid, own as string],
      [NONE, '/from/the/walk'],
    ]);
    const out = cgroupsOf(reader, [...many, NONE], early);
    assert.equal(out.get(process.pid), own);
    // Only the walk knows this one: it was used.
    assert.equal(out.get(NONE), '/from/the/walk');
  });

  it('ignores a walk that disagrees with /proc/PID/cgroup (another namespace, a stale walk)', () => {
    const early = new Map([
      [process.pid, '/somewhere/else'],
      [NONE, '/from/the/walk'],
    ]);
    const out = cgroupsOf(reader, [...many, NONE], early);
    assert.equal(out.get(process.pid), own);
    assert.equal(out.get(NONE), null);
  });

  it('ignores a walk for a /proc that is not the host’s (a fixture tree)', () => {
    const fixture = new ProcReader('/nonexistent-proc');
    const out = cgroupsOf(fixture, many, new Map([[process.pid, '/from/the/walk']]));
    assert.equal(out.get(process.pid), null);
  });

  it('the main thread walks the cgroups while it waits for a worker, and the walk answers as /proc/PID/cgroup does', async (t) => {
    const info = reader.read('self/mountinfo');
    if (typeof info !== 'string' || systemdCgroupMount(info) === null) {
      t.skip('no cgroup hierarchy mounted here');
      return;
    }
    const pids = [1, process.pid, process.ppid];
    const r = await collectAll(
      '/proc',
      pids,
      { noise: {}, keepIgnored: false, wantComm: false },
      2,
      { mainAfterWorkers: true, walkCgroupsAbove: -1 },
    );
    try {
      assert.ok(r.helper, 'a worker took work');
      assert.ok(r.cgroups, 'the main thread walked');
      const walked = r.cgroups;
      assert.equal(walked.has(NONE), false);
      for (const pid of pids) {
        const classic = cgroupOf(reader, pid);
        if (classic !== null && walked.has(pid))
          assert.equal(walked.get(pid), classic, `PID ${pid}`);
      }
      assert.equal(walked.get(process.pid), own);
    } finally {
      await r.helper?.terminate();
    }
  });

  it('no walk for a small share of stale processes, nor without a worker to wait for', async () => {
    for (const threads of [2, 1]) {
      const r = await collectAll(
        '/proc',
        [process.pid],
        { noise: {}, keepIgnored: false, wantComm: false },
        threads,
        threads === 2 ? { mainAfterWorkers: true } : { walkCgroupsAbove: -1 },
      );
      try {
        // One process, none stale: below the threshold; one thread: nothing to wait for.
        assert.equal(r.cgroups, null, `${threads} threads`);
      } finally {
        await r.helper?.terminate();
      }
    }
  });
});
