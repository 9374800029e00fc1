// bench/fleet's pure parts: the callback's events made into plays, tasks and batches, and the
// capacity models of docs/fleet.md ("Scale").
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  batchStats,
  type Ev,
  parseEvents,
  perBatchWork,
  percentOf,
  playSpans,
  serialBatches,
  slope,
  taskSpans,
} from '../../bench/fleet-bench/events.ts';
import {
  fitSerial,
  type Knobs,
  perHostModel,
  phaseTime,
  reportTime,
  type ScaleInputs,
  scaleModel,
} from '../../bench/fleet-bench/model.ts';

/** Events of one run: [ev, name, t, ctl] with the main process's CPU = t / 10. */
function run(id: string, evs: [string, string, number, number?][]): Ev[] {
  return evs.map(([ev, name, t, ctl]) => ({
    ev,
    name,
    t,
    run: id,
    cs: t / 10,
    cc: t / 5,
    ...(ctl === undefined ? {} : { ctl, hosts: 2 * ctl }),
  }));
}

const KNOBS: Knobs = { fleet: 500, forks: 50, cores: 2, windowH: 12, healthS: 60, margin: 0.33 };

describe('bench/fleet events', () => {
  const evs = run('r1', [
    ['start', '', 0, 0],
    ['play', 'Gather - scan every host', 1, 0.5],
    ['task', 'Scan', 1, 0.5],
    ['ok', '', 2],
    ['task', 'Save the results of 1-gather', 3, 2],
    ['play', 'Restart - batch by batch', 4, 3],
    ['task', 'Save the results of 2-restart', 5, 4],
    ['play', 'Restart - batch by batch', 6, 5],
    ['task', 'Save the results of 2-restart', 6.5, 5.5],
    ['task', 'Merge the host results (afterpatch report)', 7, 6],
    ['play', 'Verify - scan every host again', 9, 7],
    ['end', '', 12, 9],
  ]);

  it('plays run from one play start to the next, with CPU of the process and the cgroups', () => {
    const p = playSpans(evs);
    assert.deepEqual(
      p.map((x) => [x.name.split(' - ')[0], x.s, x.ctl, x.hosts]),
      [
        ['Gather', 3, 2.5, 5],
        ['Restart', 2, 2, 4],
        ['Restart', 3, 2, 4],
        ['Verify', 3, 2, 4],
      ],
    );
    assert.ok(Math.abs((p[0]?.self ?? 0) - 0.3) < 1e-9);
  });

  it('tasks know their batch; the work after each batch adds up per batch', () => {
    const t = taskSpans(evs, 'Restart');
    assert.deepEqual(
      t.map((x) => [x.name, x.batch, x.s]),
      [
        ['Save the results of 2-restart', 0, 1],
        ['Save the results of 2-restart', 1, 0.5],
        ['Merge the host results (afterpatch report)', 1, 2],
      ],
    );
    assert.deepEqual(perBatchWork(evs, 'Restart', /^(Save|Merge)/), [1, 2.5]);
    // Unmeasured cgroup CPU stays NaN, never 0.
    const bare = run('r2', [
      ['play', 'P', 0],
      ['end', '', 1],
    ]);
    assert.ok(Number.isNaN(playSpans(bare)[0]?.ctl));
  });

  it('batchStats sums a play that runs per batch and takes medians over runs', () => {
    const text = [...evs, ...evs.map((e) => ({ ...e, run: 'r3', t: e.t * 2 }))]
      .map((e) => JSON.stringify(e))
      .join('\n');
    const runs = parseEvents(`${text}\n\n`);
    assert.equal(runs.size, 2);
    const st = batchStats(runs.values(), 'Restart');
    assert.deepEqual(st.batches, [2, 3, 4, 6]);
    assert.equal(st.plays.get('Restart - batch by batch'), 7.5); // median of 5 and 10
    assert.equal(st.total, 18);
    // Median of every batch's save over both runs: 1, 0.5, 2, 1.
    assert.equal(st.tasks.get('Save the results of 2-restart'), 1);
  });

  it('serial batches and percentages as Ansible makes them', () => {
    assert.deepEqual(serialBatches(10, [1, percentOf(10, 10)]), Array(10).fill(1));
    assert.deepEqual(serialBatches(50, [1, percentOf(10, 50)]), [1, ...Array(9).fill(5), 4]);
    assert.deepEqual(serialBatches(3, [1, percentOf(10, 3)]), [1, 1, 1]);
    assert.deepEqual(serialBatches(5, [2, 0]), [2, 1, 1, 1]);
    assert.equal(percentOf(1, 500), 5);
  });

  it('slope: flat work has none, growing work its step', () => {
    assert.equal(slope([1, 1, 1, 1]), 0);
    assert.ok(Math.abs(slope([1, 1.5, 2, 2.5]) - 0.5) < 1e-9);
    assert.equal(slope([3]), 0);
  });
});

describe('bench/fleet capacity models', () => {
  const cost = { cpuPerHost: 0.2, mainPerHost: 0.05 };

  it('a phase is bound by the longest of latency waves, CPU over the cores, the main thread', () => {
    // 10 waves × 2 s = 20 s; 500 × 0.2 / 2 = 50 s; 500 × 0.05 = 25 s.
    assert.deepEqual(phaseTime(KNOBS, 2, cost), { latency: 20, cpu: 50, main: 25, t: 50 });
    // More cores: the main process (one thread) becomes the floor.
    assert.equal(phaseTime({ ...KNOBS, cores: 16 }, 2, cost).t, 25);
    // Fewer forks: latency bound.
    assert.equal(phaseTime({ ...KNOBS, forks: 5 }, 2, cost).t, 200);
  });

  const inputs: ScaleInputs = {
    hosts: 50,
    gather: cost,
    report: { cpuPerHost: 0.02, mainPerHost: 0.01 },
    restart: { cpuPerHost: 0.4, mainPerHost: 0.05 },
    gatherLatency: 2,
    reportLatency: 2,
    batchLatency: 3,
    fixed: 4,
  };

  it('the report runs once for the fleet: no waves, its CPU one process', () => {
    // 500 × 0.02 = 10 s (not / 2 cores: one `afterpatch report`); 500 × 0.01 = 5 s; latency 2 s.
    assert.deepEqual(reportTime(KNOBS, 2, inputs.report), { latency: 2, cpu: 10, main: 5, t: 10 });
    assert.equal(reportTime(KNOBS, 30, inputs.report).t, 30);
  });

  it('the scale model: one scan a host (gather) + report, batches, serial [1, 10%] and the serial that fits', () => {
    const m = scaleModel(KNOBS, inputs);
    // gather 50 s (CPU bound) + report 10 s + fixed 4 s: no verify phase, no second scan.
    assert.equal(m.gatherReport, 50 + 10 + 4);
    // A batch of 1: latency 3 s + health 60 s; of 50: max(3, 50 × 0.4 / 2 = 10, 2.5) + 60.
    assert.equal(m.batch(1), 63);
    assert.equal(m.batch(50), 70);
    // 500 hosts, [1, '10%']: 1 + 10 × 50 + 49: 11 batches.
    assert.equal(m.tenPercent.batches, 11);
    assert.equal(m.tenPercent.restart, 63 + 9 * 70 + Math.max(3, (49 * 0.4) / 2) + 60);
    assert.equal(m.tenPercent.run, m.tenPercent.restart + m.gatherReport);
    // 12 h × 0.67 is plenty: the smallest second batch is found and the plan fits.
    assert.ok(m.serial.t <= m.usable);
    assert.ok(m.serial.smallest >= 1);
  });

  it('fitSerial: the smallest [1, s] in the window, then whole percentages', () => {
    // Each batch 10 s whatever its size: 500 hosts in 100 s → 10 batches → [1, 56].
    const f = fitSerial(500, 100, () => 10);
    assert.equal(f.smallest, 56);
    assert.equal(f.smallestBatches, 10);
    assert.equal(f.rec.text, "[1, '1%', '12%']");
    assert.deepEqual(f.rec.sizes, [1, 5, 60]);
    // Enough time for one host a batch: [1, 1] and a 1 % second batch.
    const g = fitSerial(500, 1e9, () => 10);
    assert.equal(g.smallest, 1);
    assert.equal(g.rec.text, "[1, '1%']");
  });

  const perHostInputs = {
    heavyN: 5000,
    module: { wall: 0.8, cpu: 0.15 },
    moduleAloneLight: 0.3,
    moduleAloneHeavy: 1.05,
    raw: { wall: 0.15, cpu: 0.07 },
    rawCold: { wall: 0.35, cpu: 0.15 },
    heavyCpu: 0.03,
    gatherReport: { wall: 0.7, cpu: 0.2 },
    mainPerHost: 0.09,
    pingCpu: 0.07,
    save: { g1: 0.5, gMid: 1.5, gFleet: 10.5, v1: 0.47, vFleet: 3.7, midN: 50 },
    clean1: 5,
    reportGrowth: 0.2,
    heavyBatch: 4.6,
  };

  it('the per-host model keeps its figures (the first model, from 3 hosts)', () => {
    const m = perHostModel(KNOBS, perHostInputs);
    assert.ok(Math.abs(m.lMod - (0.8 - 0.3 + 1.05 + 0.2)) < 1e-9);
    assert.ok(Math.abs(m.cMod - (0.15 + 0.08 + 0.03)) < 1e-9);
    // One scan a run: the run's CPU is the gather's whole, not halved over gather and verify:
    // 0.2 − 0.15 − the light save share (3.23 / 499).
    assert.ok(Math.abs(m.cLocalRaw - (0.2 - 0.15 - (3.7 - 0.47) / 499)) < 1e-9);
    assert.ok(Math.abs(m.cLocal - m.cLocalRaw) < 1e-9);
    // The main process's floor: the whole run's per-host CPU, once.
    assert.ok(Math.abs(m.mainBound - 500 * 0.09) < 1e-9);
    assert.ok(Math.abs(m.gatherReport - (m.gatherT + m.fixed)) < 1e-9);
    // Never negative: a run cheaper than its module call leaves the other tasks at 0.
    const cheap = perHostModel(KNOBS, { ...perHostInputs, gatherReport: { wall: 0.7, cpu: 0.1 } });
    assert.equal(cheap.cLocal, 0);
    assert.ok(cheap.cLocalRaw < 0);
    assert.ok(Math.abs(m.modCpu - (500 * 0.26) / 2) < 1e-9);
    assert.equal(m.waves, 10);
    assert.ok(m.gatherT >= m.modCpu + m.saveG - 1e-9);
    assert.equal(m.rows.length, 4);
    assert.deepEqual(
      m.rows.map((r) => r.health),
      [0, 60, 300, 900],
    );
  });
});
