// apply + verify + state, driven through FakeSystemd with real files: outcomes that need evidence,
// outcomes that survive a state directory that cannot be written (signals and the lock race:
// signals-lock.integration.test.ts).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { defaultConfig } from '../../src/config/load.ts';
import { EnvironmentError } from '../../src/errors.ts';
import { restartExitCode } from '../../src/exit.ts';
import { restartToJson } from '../../src/output/restart.ts';
import { silentLog } from '../../src/restart/log.ts';
import type { PlanEntry } from '../../src/restart/plan.ts';
import { applyRestart, type RestartReport } from '../../src/restart/restart.ts';
import type { Manager } from '../../src/systemd/client.ts';
import { FakeSystemd } from '../helpers/fake-systemd.ts';
import { FAKE_INIT, FAKE_STALE_SSHD, makeProcTree, mapsLine } from '../helpers/fakeproc.ts';
import { planEntry, scanStub } from '../helpers/restart-plan.ts';
import { scratchDirs } from '../helpers/scratch.ts';
import { IS_ROOT, mountTinyTmpfs } from '../helpers/tmpfs.ts';

const CLEAN = {
  name: 'svc',
  maps: mapsLine('/usr/sbin/svc'),
  cgroup: '0::/system.slice/a.service\n',
};

describe('restart: apply and verify', () => {
  const fresh = scratchDirs('afterpatch-apply');
  /** A cgroup tree in a plain directory: one cgroup.procs per cgroup path. */
  const cgroups = (tree: Record<string, number[]>) => {
    const d = fresh();
    for (const [cg, pids] of Object.entries(tree)) {
      mkdirSync(join(d, cg), { recursive: true });
      writeFileSync(join(d, cg, 'cgroup.procs'), pids.map((p) => `${p}\n`).join(''));
    }
    return d;
  };
  const apply = (
    plan: ReturnType<typeof planEntry>[],
    o: { procRoot: string; cgroupMount: string | null; client?: FakeSystemd; stateDir?: string },
  ) =>
    applyRestart(
      { scan: scanStub(), plan },
      {
        config: defaultConfig(),
        client: o.client ?? new FakeSystemd().unit('a.service'),
        log: silentLog(),
        stateDir: o.stateDir ?? fresh(),
        procRoot: o.procRoot,
        cgroupMount: o.cgroupMount,
      },
    );
  const outcome = (r: RestartReport) => r.results.map((x) => [x.unit, x.outcome, x.message]);

  it('says verified only when the unit cgroup was read and its processes map nothing stale', async () => {
    const fx = makeProcTree({ 1: FAKE_INIT, 200: CLEAN });
    after(() => fx.cleanup());
    const r = await apply([planEntry('a.service')], {
      procRoot: fx.root,
      cgroupMount: cgroups({ 'system.slice/a.service': [200] }),
    });
    assert.deepEqual(outcome(r), [['a.service', 'verified', null]]);
    assert.equal(restartExitCode(r), 0);
  });

  it('is unverified, with the reason, when the unit cgroup cannot be read (was: verified)', async () => {
    const fx = makeProcTree({ 1: FAKE_INIT });
    after(() => fx.cleanup());
    const r = await apply([planEntry('a.service')], {
      procRoot: fx.root,
      cgroupMount: cgroups({}),
    });
    assert.equal(r.results[0]?.outcome, 'unverified');
    assert.match(
      r.results[0]?.message ?? '',
      /cannot read .*system\.slice\/a\.service\/cgroup\.procs \(ENOENT\)/,
    );
    assert.equal(restartExitCode(r), 2);
    const json = restartToJson(r) as { summary: Record<string, number> };
    assert.equal(json.summary.unverified, 1);
    assert.equal(json.summary.verified, 0);
    // Recorded as not done: the next run skips it for the same files unless --force.
    assert.equal(r.stateError, null);
  });

  it('is unverified when no cgroup hierarchy is known, or the processes are under another --proc-root', async () => {
    const fx = makeProcTree({ 1: FAKE_INIT });
    after(() => fx.cleanup());
    const none = await apply([planEntry('a.service')], { procRoot: fx.root, cgroupMount: null });
    assert.deepEqual(outcome(none)[0]?.slice(0, 2), ['a.service', 'unverified']);
    const other = await applyRestart(
      { scan: scanStub(), plan: [planEntry('a.service')] },
      {
        config: defaultConfig(),
        client: new FakeSystemd().unit('a.service'),
        log: silentLog(),
        stateDir: fresh(),
        procRoot: fx.root,
      },
    );
    assert.equal(other.results[0]?.outcome, 'unverified');
    assert.match(other.results[0]?.message ?? '', /not under --proc-root/);
  });

  it('is still-stale when the cgroup has a process on the old library', async () => {
    const fx = makeProcTree({ 1: FAKE_INIT, 300: FAKE_STALE_SSHD });
    after(() => fx.cleanup());
    const r = await apply([planEntry('a.service')], {
      procRoot: fx.root,
      cgroupMount: cgroups({ 'system.slice/a.service': [], 'system.slice/a.service/sub': [300] }),
    });
    assert.equal(r.results[0]?.outcome, 'still-stale');
    assert.deepEqual(r.results[0]?.stalePids, [{ pid: 300, files: ['/usr/lib/libcrypto.so.3'] }]);
  });

  it('after daemon-reexec verifies every process of init.scope the plan named, not PID 1 only', async () => {
    const fx = makeProcTree({
      1: FAKE_INIT,
      345: { ...FAKE_STALE_SSHD, cgroup: '0::/init.scope\n' },
    });
    after(() => fx.cleanup());
    const r = await apply([planEntry(null, [1, 345])], { procRoot: fx.root, cgroupMount: null });
    assert.equal(r.results[0]?.outcome, 'still-stale');
    assert.deepEqual(
      r.results[0]?.stalePids.map((p) => p.pid),
      [345],
    );
    const clean = await apply([planEntry(null, [1])], { procRoot: fx.root, cgroupMount: null });
    assert.equal(clean.results[0]?.outcome, 'verified');
  });
  describe('what is asked of systemd after the action (FakeSystemd)', () => {
    const both = () => {
      const fx = makeProcTree({
        1: FAKE_INIT,
        200: CLEAN,
        201: { ...CLEAN, cgroup: '0::/system.slice/b.service\n' },
      });
      after(() => fx.cleanup());
      return {
        procRoot: fx.root,
        cgroupMount: cgroups({ 'system.slice/a.service': [200], 'system.slice/b.service': [201] }),
      };
    };
    const failure = 'Job for b.service failed because the control process exited with error code.';
    /** The whole restart (plan given), one unit a batch. */
    const oneUnitBatches = (client: FakeSystemd, plan: PlanEntry[]) =>
      applyRestart(
        { scan: scanStub(), plan },
        {
          config: defaultConfig(),
          client,
          log: silentLog(),
          stateDir: fresh(),
          jobs: 1,
          ...both(),
        },
      );

    it('after a success: one is-active for the batch, show and journal only for the unit that is not active', async () => {
      const client = new FakeSystemd()
        .unit('a.service')
        .unit('b.service', { ActiveState: 'failed' });
      client.journals.set('b.service', ['b: exit 1']);
      const r = await apply([planEntry('a.service'), planEntry('b.service')], {
        ...both(),
        client,
      });
      assert.deepEqual(client.queries, [
        'is-active a.service b.service',
        'show b.service',
        'journal b.service',
      ]);
      assert.deepEqual(outcome(r), [
        ['a.service', 'verified', null],
        ['b.service', 'failed', null],
      ]);
      assert.deepEqual(r.results[1]?.journal, ['b: exit 1']);
    });

    it('after a failed call: every unit shown, the failure (and journal) to the unit systemctl names', async () => {
      const client = new FakeSystemd()
        .unit('a.service')
        .unit('b.service', { ActiveState: 'failed' });
      client.result = () => ({ ok: false, timedOut: false, messages: [failure] });
      const r = await apply([planEntry('a.service'), planEntry('b.service')], {
        ...both(),
        client,
      });
      assert.deepEqual(client.queries, ['show a.service b.service', 'journal b.service']);
      assert.deepEqual(outcome(r), [
        ['a.service', 'verified', null],
        ['b.service', 'failed', failure],
      ]);
    });

    it('checks a batch while systemd runs the next one, and reports in plan order', async () => {
      // a.service's state can only be read once b.service's batch is acted on: without the
      // overlap this would never finish.
      let open = () => {};
      const opened = new Promise<void>((resolve) => {
        open = resolve;
      });
      const client = new (class extends FakeSystemd {
        override async activeStates(m: Manager, units: readonly string[]) {
          if (units.includes('a.service')) await opened;
          return super.activeStates(m, units);
        }
      })()
        .unit('a.service')
        .unit('b.service');
      client.onAct = (a) => {
        if (a.units?.includes('b.service')) open();
      };
      const run = oneUnitBatches(client, [planEntry('a.service'), planEntry('b.service')]);
      const late = new Promise<null>((resolve) => setTimeout(() => resolve(null), 5000).unref());
      const r = await Promise.race([run, late]);
      assert.ok(r, 'the first batch was not checked while the second was acted on');
      assert.deepEqual(
        client.acts.map((a) => a.units),
        [['a.service'], ['b.service']],
      );
      assert.deepEqual(outcome(r), [
        ['a.service', 'verified', null],
        ['b.service', 'verified', null],
      ]);
    });

    it('an error in a later batch keeps the earlier results; that batch is failed or unverified, no further batch starts', async () => {
      const entries = [planEntry('a.service'), planEntry('b.service'), planEntry('c.service')];
      const run = (client: FakeSystemd) => oneUnitBatches(client, entries);
      // systemctl cannot be run for the second batch: whether it acted is unknown → failed.
      const actFails = new FakeSystemd().unit('a.service').unit('b.service').unit('c.service');
      actFails.onAct = (a) => {
        if (a.units?.includes('b.service')) throw new Error('spawn systemctl EAGAIN');
      };
      assert.deepEqual(outcome(await run(actFails)), [
        ['a.service', 'verified', null],
        ['b.service', 'failed', 'could not restart: spawn systemctl EAGAIN'],
      ]);
      assert.equal(actFails.acts.length, 2, 'c.service is not acted on');

      // The second batch was acted on but its state cannot be read: unverified, not lost.
      const checkFails = new (class extends FakeSystemd {
        override async activeStates(m: Manager, units: readonly string[]) {
          if (units.includes('b.service')) throw new Error('systemctl is-active: killed');
          return super.activeStates(m, units);
        }
      })()
        .unit('a.service')
        .unit('b.service')
        .unit('c.service');
      const r = await run(checkFails);
      assert.deepEqual(outcome(r).slice(0, 2), [
        ['a.service', 'verified', null],
        ['b.service', 'unverified', 'could not check: systemctl is-active: killed'],
      ]);
      // c.service may have been acted on while b.service was checked (the overlap); if so, it is
      // reported too — an action taken is never left out.
      assert.equal(r.results.length, checkFails.acts.length);
    });

    it('no answer in time while the unit is still activating: timeout, its processes not judged', async () => {
      const client = new FakeSystemd().unit('a.service', { ActiveState: 'activating' });
      client.result = () => ({ ok: false, timedOut: true, messages: [] });
      const r = await apply([planEntry('a.service')], { ...both(), client });
      assert.deepEqual(outcome(r), [['a.service', 'timeout', 'no answer within 90 s']]);
      assert.deepEqual(client.queries, ['show a.service']);
    });
  });
});

describe('restart: outcomes are reported when the state cannot be saved', {
  skip: !IS_ROOT && 'needs root to mount a tmpfs',
}, () => {
  const root = mkdtempSync(join(tmpdir(), 'afterpatch-full-'));
  after(() => rmSync(root, { recursive: true, force: true }));

  const fx = makeProcTree({ 1: FAKE_INIT, 200: CLEAN });
  after(() => fx.cleanup());
  const cg = join(root, 'cg');
  mkdirSync(join(cg, 'system.slice/a.service'), { recursive: true });
  writeFileSync(join(cg, 'system.slice/a.service/cgroup.procs'), '200\n');
  /** Restarts a.service (verified) with the state in `dir`; `onAct` runs while systemd acts. */
  const restartWith = (dir: string, onAct: () => void) => {
    const client = new FakeSystemd().unit('a.service');
    client.onAct = onAct;
    const report = applyRestart(
      { scan: scanStub(), plan: [planEntry('a.service')] },
      {
        config: defaultConfig(),
        client,
        log: silentLog(),
        stateDir: dir,
        procRoot: fx.root,
        cgroupMount: cg,
      },
    );
    return { client, report };
  };
  const mounted = async (
    name: string,
    mount: (dir: string) => () => void,
    body: (dir: string) => Promise<void>,
  ) => {
    const dir = join(root, name);
    mkdirSync(dir);
    const unmount = mount(dir);
    try {
      await body(dir);
    } finally {
      unmount();
    }
  };
  const readOnlyBind = (dir: string) => {
    execFileSync('mount', ['--bind', dir, dir]);
    return () => execFileSync('umount', ['-l', dir]);
  };
  /** The unit's outcome is in the report although the state could not be written. */
  const reportedNotSaved = (r: RestartReport, errno: string) => {
    assert.deepEqual(
      r.results.map((x) => [x.unit, x.outcome]),
      [['a.service', 'verified']],
    );
    assert.match(r.stateError ?? '', new RegExp(`cannot write .*state\\.json \\(${errno}\\)`));
    assert.equal(restartExitCode(r), 4);
  };
  const remountRo = (dir: string) => execFileSync('mount', ['-o', 'remount,bind,ro', dir]);

  it('a full disk after the restarts: results returned, stateError set, lock released (was: exit 3, nothing)', () =>
    mounted(
      'full',
      (d) => mountTinyTmpfs(d, 8192),
      async (dir) => {
        // The disk fills up while systemd restarts the unit.
        const { report } = restartWith(dir, () => {
          try {
            writeFileSync(join(dir, 'filler'), Buffer.alloc(64 * 1024));
          } catch {
            // ENOSPC: full now, as wanted.
          }
        });
        const r = await report;
        reportedNotSaved(r, 'ENOSPC');
        assert.equal(existsSync(join(dir, 'lock')), false, 'the lock is released');
        assert.equal(existsSync(join(dir, 'state.json')), false, 'no half-written state');
      },
    ));

  it('a state directory that turns read-only during the restarts: results returned, stateError EROFS', () =>
    mounted('ro-after', readOnlyBind, async (dir) => {
      const { report } = restartWith(dir, () => remountRo(dir));
      const r = await report;
      reportedNotSaved(r, 'EROFS');
    }));

  it('a read-only state directory before anything is done: one clear error, no action', () =>
    mounted('ro-before', readOnlyBind, async (dir) => {
      remountRo(dir);
      const { client, report } = restartWith(dir, () => {});
      await assert.rejects(
        report,
        (e: unknown) =>
          e instanceof EnvironmentError && /cannot create .*lock.*\(EROFS\)/.test(e.message),
      );
      assert.equal(client.acts.length, 0);
    }));
});
