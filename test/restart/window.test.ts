// The window of jobs (apply.ts, over systemd's D-Bus API): at most --jobs units in flight, the next
// one started as soon as one ends, each unit judged on its own answer, errors and signals
// stopping further starts without losing what was done — FakeSystemd's job runner, real files
// for the cgroups and maps (the real systemd: window.integration.test.ts).
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { defaultConfig, noiseFromConfig } from '../../src/config/load.ts';
import { applyPlan, type UnitResult } from '../../src/restart/apply.ts';
import { silentLog } from '../../src/restart/log.ts';
import type { PlanEntry } from '../../src/restart/plan.ts';
import type { ActionResult, Manager } from '../../src/systemd/client.ts';
import { FakeSystemd } from '../helpers/fake-systemd.ts';
import { FAKE_INIT, type FakeProcess, makeProcTree, mapsLine } from '../helpers/fakeproc.ts';
import { planEntry } from '../helpers/restart-plan.ts';
import { scratchDirs } from '../helpers/scratch.ts';

const NAMES = ['a', 'b', 'c', 'd', 'e', 'f'].map((x) => `${x}.service`);
const OK: ActionResult = { ok: true, timedOut: false, messages: [] };

describe('restart: a window of jobs over the bus', () => {
  const fresh = scratchDirs('afterpatch-window');
  // One clean process per unit, each in its unit's cgroup.
  const procs: Record<number, FakeProcess> = { 1: FAKE_INIT };
  const cg = fresh();
  NAMES.forEach((u, i) => {
    procs[200 + i] = {
      name: 'svc',
      maps: mapsLine('/usr/sbin/svc'),
      cgroup: `0::/system.slice/${u}\n`,
    };
    mkdirSync(join(cg, 'system.slice', u), { recursive: true });
    writeFileSync(join(cg, 'system.slice', u, 'cgroup.procs'), `${200 + i}\n`);
  });
  const fx = makeProcTree(procs);
  after(() => fx.cleanup());

  const client = (): FakeSystemd => {
    const c = new FakeSystemd();
    for (const u of NAMES) c.unit(u);
    return c;
  };
  const apply = (
    c: FakeSystemd,
    plan: PlanEntry[],
    jobs: number,
    stopRequested?: () => string | null,
  ): Promise<UnitResult[]> =>
    applyPlan(plan, {
      client: c,
      log: silentLog(),
      jobs,
      timeoutMs: 90_000,
      noise: noiseFromConfig(defaultConfig()),
      includeData: false,
      procRoot: fx.root,
      cgroupMount: cg,
      ...(stopRequested ? { stopRequested } : {}),
    });
  const outcome = (r: UnitResult[]) => r.map((x) => [x.unit, x.outcome, x.message]);
  const within = <T>(p: Promise<T>, what: string): Promise<T> =>
    Promise.race([
      p,
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error(what)), 5000).unref()),
    ]);

  it('keeps at most --jobs units in flight and starts the next as soon as one ends, not after the slowest (was: batches)', async () => {
    const c = client();
    // a.service's job ends only once f.service's has started: with batch barriers (a and b, then
    // c and d, …) f would never start while a runs.
    let fStarted = () => {};
    const gate = new Promise<void>((resolve) => {
      fStarted = resolve;
    });
    c.runJob = async (_verb, unit) => {
      if (unit === 'f.service') fStarted();
      if (unit === 'a.service') await gate;
      else await new Promise((r) => setTimeout(r, 5));
      return OK;
    };
    const r = await within(
      apply(
        c,
        NAMES.map((u) => planEntry(u)),
        2,
      ),
      'the slow unit held back the others',
    );
    assert.deepEqual(
      outcome(r),
      NAMES.map((u) => [u, 'verified', null]),
      'every unit verified, reported in plan order',
    );
    assert.equal(c.maxInFlight, 2, 'never more than --jobs at once');
    assert.deepEqual(
      c.jobsRun,
      NAMES.map((u) => `restart ${u}`),
    );
    assert.deepEqual(c.acts, [], 'no systemctl call');
    assert.deepEqual([c.runners, c.closed], [1, 1], 'one runner, closed afterwards');
  });

  it('a window larger than the unit count has them all in flight at once; reloads go as reloads, after', async () => {
    const c = client();
    let running = 0;
    let all = () => {};
    const together = new Promise<void>((resolve) => {
      all = resolve;
    });
    c.runJob = async (verb) => {
      if (verb === 'reload') return OK;
      if (++running === 3) all();
      await together;
      return OK;
    };
    const plan = [
      planEntry('a.service'),
      { ...planEntry('b.service'), action: 'reload' as const },
      planEntry('c.service'),
      planEntry('d.service'),
    ];
    const r = await within(apply(c, plan, 64), 'the three restarts were not in flight together');
    assert.equal(c.maxInFlight, 3);
    assert.deepEqual(c.jobsRun, [
      'restart a.service',
      'restart c.service',
      'restart d.service',
      'reload b.service',
    ]);
    assert.deepEqual(
      outcome(r).map((x) => x.slice(0, 2)),
      [
        ['a.service', 'verified'],
        ['c.service', 'verified'],
        ['d.service', 'verified'],
        ['b.service', 'verified'],
      ],
    );
  });

  it('judges each unit on its own answer: failed, canceled and timed-out jobs are never verified', async () => {
    const c = client()
      .unit('b.service', { ActiveState: 'failed' })
      .unit('c.service', { ActiveState: 'activating' });
    c.journals.set('b.service', ['b: exit 1']);
    const answers: Record<string, ActionResult> = {
      'a.service': OK,
      'b.service': {
        ok: false,
        timedOut: false,
        messages: ['Job for b.service failed (job result: failed).'],
      },
      'c.service': { ok: false, timedOut: true, messages: [] },
      // Canceled (another job replaced it): active, but not by our restart's doing.
      'd.service': { ok: false, timedOut: false, messages: ['Job for d.service canceled.'] },
    };
    c.runJob = async (_verb, unit) => answers[unit] ?? OK;
    const r = await apply(
      c,
      ['a', 'b', 'c', 'd'].map((x) => planEntry(`${x}.service`)),
      64,
    );
    assert.deepEqual(outcome(r), [
      ['a.service', 'verified', null],
      ['b.service', 'failed', 'Job for b.service failed (job result: failed).'],
      ['c.service', 'timeout', 'no answer within 90 s'],
      ['d.service', 'failed', 'Job for d.service canceled.'],
    ]);
    assert.deepEqual(r[1]?.journal, ['b: exit 1']);
    // The cheap state question only for the unit whose job succeeded; the others are shown.
    const asked = c.queries.filter((q) => !q.startsWith('journal')).join(' | ');
    assert.doesNotMatch(asked, /is-active [^|]*(b|c|d)\.service/);
    for (const u of ['b', 'c', 'd']) assert.match(asked, new RegExp(`show [^|]*${u}\\.service`));
  });

  it('the connection lost: the units in flight are failed (whether systemd acted is unknown), none starts after, earlier results stay', async () => {
    const c = client();
    c.runJob = async (_verb, unit) => {
      if (unit === 'a.service') return OK;
      await new Promise((r) => setTimeout(r, 20));
      throw new Error('/run/systemd/private closed the connection');
    };
    const r = await apply(
      c,
      NAMES.map((u) => planEntry(u)),
      2,
    );
    assert.deepEqual(c.jobsRun, ['restart a.service', 'restart b.service', 'restart c.service']);
    assert.deepEqual(outcome(r), [
      ['a.service', 'verified', null],
      ['b.service', 'failed', 'could not restart: /run/systemd/private closed the connection'],
      ['c.service', 'failed', 'could not restart: /run/systemd/private closed the connection'],
    ]);
  });

  it('a check that cannot read the states stops further starts; what was acted on is reported unverified', async () => {
    const c = new (class extends FakeSystemd {
      override async activeStates(m: Manager, units: readonly string[]) {
        if (units.includes('a.service')) throw new Error('no answer on the bus');
        return super.activeStates(m, units);
      }
    })();
    for (const u of NAMES) c.unit(u);
    c.runJob = async (_verb, unit) => {
      if (unit !== 'a.service') await new Promise((r) => setTimeout(r, 30));
      return OK;
    };
    const r = await apply(
      c,
      NAMES.map((u) => planEntry(u)),
      2,
    );
    assert.deepEqual(outcome(r)[0], [
      'a.service',
      'unverified',
      'could not check: no answer on the bus',
    ]);
    assert.ok(c.jobsRun.length < NAMES.length, `stopped starting: ${c.jobsRun.join(', ')}`);
    assert.equal(r.length, c.jobsRun.length, 'every unit acted on is reported');
  });

  it('SIGTERM: the jobs in flight finish and are reported, no further unit starts', async () => {
    const c = client();
    let signal: string | null = null;
    c.runJob = async () => {
      // Arrives while both jobs of the window run.
      await new Promise((r) => setTimeout(r, 5));
      signal = 'SIGTERM';
      await new Promise((r) => setTimeout(r, 10));
      return OK;
    };
    const r = await apply(
      c,
      NAMES.map((u) => planEntry(u)),
      2,
      () => signal,
    );
    assert.deepEqual(c.jobsRun, ['restart a.service', 'restart b.service']);
    assert.deepEqual(outcome(r), [
      ['a.service', 'verified', null],
      ['b.service', 'verified', null],
    ]);
  });

  it('after PID 1 re-executed, the system units go through systemctl batches, not the bus (was: jobs never answered)', async () => {
    const c = client();
    c.runJob = async () => OK;
    const r = await apply(
      c,
      [planEntry(null, [1]), planEntry('a.service'), planEntry('b.service')],
      64,
    );
    assert.deepEqual(c.jobsRun, []);
    assert.deepEqual(
      c.acts.map((a) => [a.verb, a.units]),
      [
        ['daemon-reexec', null],
        ['restart', ['a.service', 'b.service']],
      ],
    );
    assert.deepEqual(
      outcome(r).map((x) => x[1]),
      ['verified', 'verified', 'verified'],
    );
  });

  it('no runner (the bus unavailable, a user manager): systemctl batches of --jobs, as before', async () => {
    const c = client();
    const r = await apply(
      c,
      ['a', 'b', 'c'].map((x) => planEntry(`${x}.service`)),
      2,
    );
    assert.deepEqual(
      c.acts.map((a) => a.units),
      [['a.service', 'b.service'], ['c.service']],
    );
    // A client whose jobs() fails outright: the same batches, nothing lost.
    const broken = new (class extends FakeSystemd {
      override async jobs(): Promise<null> {
        throw new Error('cannot connect');
      }
    })();
    for (const u of NAMES) broken.unit(u);
    const b = await apply(broken, [planEntry('a.service')], 2);
    assert.deepEqual(outcome(b), [['a.service', 'verified', null]]);
    assert.deepEqual(
      broken.acts.map((a) => a.units),
      [['a.service']],
    );
    assert.deepEqual(
      outcome(r).map((x) => x[1]),
      ['verified', 'verified', 'verified'],
    );
  });
});
