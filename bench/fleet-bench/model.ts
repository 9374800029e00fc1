// bench/fleet-bench/model.ts - what the measured costs make of a fleet (docs/fleet.md, "Scale").
// Pure functions of the measurements: tested in test/bench/fleet-model.test.ts.
//
// Two models:
// - perHostModel(): from the per-host costs of the 3-host legs (module round trip, new SSH
//   connection, the save at FLEET hosts, the heavy host's batch) - the first model, kept to
//   compare;
// - scaleModel(): from a whole rolling-restart.yml run over 50 hosts - each phase's controller
//   CPU per host (the controller's cgroup: Ansible, its workers, ssh and the connection-sharing
//   masters), the main process's CPU per host (one thread: a floor whatever the cores) and the
//   latency of one host measured alone (on the rig the hosts share the controller's cores, so
//   the wall time at 50 hosts is no fleet's).
// A run scans each host once (the gather): the restart module's own verification is the verify,
// and the report play is controller work only (one `afterpatch report` over all hosts).
import { percentOf, serialBatches } from './events.ts';

export interface Knobs {
  fleet: number;
  forks: number;
  /** The controller's cores. */
  cores: number;
  windowH: number;
  /** Health checks and warm-up per batch, seconds, beyond what was measured. */
  healthS: number;
  /** Share of the window kept free. */
  margin: number;
}

/** A serial list as Ansible writes it, and its batches for `fleet` hosts. */
export interface SerialPlan {
  text: string;
  sizes: number[];
}

/**
 * The serial that fits `usable` seconds: the smallest second batch size s with [1, s] in time,
 * and the recommended list - a canary, 1 % of the fleet, then the smallest whole percentage of
 * at least s (Ansible rounds a percentage down, at least 1 host).
 */
export function fitSerial(
  fleet: number,
  usable: number,
  batchTime: (size: number) => number,
): { smallest: number; smallestBatches: number; rec: SerialPlan; recBatches: number; t: number } {
  const plan = (sizes: number[]) => {
    const batches = serialBatches(fleet, sizes);
    return { t: batches.reduce((t, size) => t + batchTime(size), 0), n: batches.length };
  };
  let s = 1;
  while (s < fleet && plan([1, s]).t > usable) s++;
  let pct = 1;
  while (percentOf(pct, fleet) < s && pct < 100) pct++;
  const rec: SerialPlan =
    pct === 1
      ? { text: "[1, '1%']", sizes: [1, percentOf(1, fleet)] }
      : { text: `[1, '1%', '${pct}%']`, sizes: [1, percentOf(1, fleet), percentOf(pct, fleet)] };
  const p0 = plan([1, s]);
  const p1 = plan(rec.sizes);
  return { smallest: s, smallestBatches: p0.n, rec, recBatches: p1.n, t: p1.t };
}

// ---------------------------------------------------------------------------------------------
// The model from the 50-host run

export interface PhaseCost {
  /** Controller CPU per host (s): the controller cgroup's CPU over the phase / hosts. */
  cpuPerHost: number;
  /** CPU per host (s) of ansible-playbook's main process alone (one thread). */
  mainPerHost: number;
}

export interface ScaleInputs {
  /** Hosts of the measured run. */
  hosts: number;
  gather: PhaseCost;
  /** The report play: run once on the controller for all hosts. */
  report: PhaseCost;
  /** The restart plays: controller CPU per host restarted (batches' fixed work included). */
  restart: PhaseCost;
  /**
   * Latency of one host in a phase, measured alone (1 host, nothing else on the rig): the
   * gather play over 1 host, the report play, a restart batch of one host.
   */
  gatherLatency: number;
  reportLatency: number;
  batchLatency: number;
  /** A run's fixed wall time (start-up, the final report over few hosts): 1-host run − phases. */
  fixed: number;
}

export interface ScaleResult {
  waves: number;
  gather: { latency: number; cpu: number; main: number; t: number };
  report: { latency: number; cpu: number; main: number; t: number };
  /** One batch of `size` hosts (seconds), health included. */
  batch(size: number): number;
  /** gather + report + the run's fixed time: everything but the restart batches. */
  gatherReport: number;
  usable: number;
  serial: ReturnType<typeof fitSerial>;
  /** The restart phase with serial [1, '10%'] (the bench's own), and the whole run with it. */
  tenPercent: { batches: number; restart: number; run: number };
}

/**
 * A phase over `fleet` hosts at `forks`: the longest of its latency (⌈fleet / forks⌉ waves of
 * one host's latency), its controller CPU spread over the cores, and the main process's CPU
 * (one thread).
 */
export function phaseTime(
  k: Knobs,
  latency: number,
  c: PhaseCost,
): { latency: number; cpu: number; main: number; t: number } {
  const waves = Math.ceil(k.fleet / k.forks);
  const l = waves * latency;
  const cpu = (k.fleet * c.cpuPerHost) / k.cores;
  const main = k.fleet * c.mainPerHost;
  return { latency: l, cpu, main, t: Math.max(l, cpu, main) };
}

/**
 * The report play: one task for the whole fleet on the controller (no waves), whose work is one
 * `afterpatch report` process and the main process: its CPU is not spread over the cores.
 */
export function reportTime(
  k: Knobs,
  latency: number,
  c: PhaseCost,
): { latency: number; cpu: number; main: number; t: number } {
  const cpu = k.fleet * c.cpuPerHost;
  const main = k.fleet * c.mainPerHost;
  return { latency, cpu, main, t: Math.max(latency, cpu, main) };
}

export function scaleModel(k: Knobs, m: ScaleInputs): ScaleResult {
  const gather = phaseTime(k, m.gatherLatency, m.gather);
  const report = reportTime(k, m.reportLatency, m.report);
  const gatherReport = gather.t + report.t + m.fixed;
  // A batch: one host's latency (its hosts run in parallel up to forks), or its controller CPU
  // over the cores, or the main process's, whichever is longest; plus health and warm-up.
  const batch = (size: number) =>
    Math.max(
      Math.ceil(size / k.forks) * m.batchLatency,
      (size * m.restart.cpuPerHost) / k.cores,
      size * m.restart.mainPerHost,
    ) + k.healthS;
  const usable = k.windowH * 3600 * (1 - k.margin) - gatherReport;
  const serial = fitSerial(k.fleet, usable, batch);
  const ten = serialBatches(k.fleet, [1, percentOf(10, k.fleet)]);
  const restart = ten.reduce((t, size) => t + batch(size), 0);
  return {
    waves: Math.ceil(k.fleet / k.forks),
    gather,
    report,
    batch,
    gatherReport,
    usable,
    serial,
    tenPercent: { batches: ten.length, restart, run: restart + gatherReport },
  };
}

// ---------------------------------------------------------------------------------------------
// The first model, from the 3-host per-host legs

export interface PerHostInputs {
  heavyN: number;
  /** Per-host module round trip at forks 1: wall and controller CPU. */
  module: { wall: number; cpu: number };
  /** The module alone on a light and on the heavy host. */
  moduleAloneLight: number;
  moduleAloneHeavy: number;
  /** raw over a shared and over a new connection, per host. */
  raw: { wall: number; cpu: number };
  rawCold: { wall: number; cpu: number };
  /** Controller CPU the heavy host's bigger result adds. */
  heavyCpu: number;
  /** A run with nothing to restart (gather + report: one scan a host), per host: wall and controller CPU. */
  gatherReport: { wall: number; cpu: number };
  /** CPU per host of the main process in that run. */
  mainPerHost: number;
  pingCpu: number;
  /**
   * The save task: batches of 1, mid and FLEET heavy gather results, 1 and FLEET light results
   * (the save leg's "3-verify" phase: a light host's result).
   */
  save: { g1: number; gMid: number; gFleet: number; v1: number; vFleet: number; midN: number };
  /** The 1-host "nothing to restart" run's wall time. */
  clean1: number;
  /** `afterpatch report` at FLEET hosts minus over one host. */
  reportGrowth: number;
  /** The heavy host's batch (median). */
  heavyBatch: number;
}

export function perHostModel(k: Knobs, m: PerHostInputs) {
  const P = k.cores;
  const fleet = k.fleet;
  const waves = Math.ceil(fleet / k.forks);
  const perExtraHost = (t1: number, tn: number, n: number) => (n > 1 ? (tn - t1) / (n - 1) : 0);
  const coldWall = Math.max(0, m.rawCold.wall - m.raw.wall);
  const coldCpu = Math.max(0, m.rawCold.cpu - m.raw.cpu);
  // The gather phase = the module task, the other per-host tasks (group_by, the skipped `fail`)
  // and saving the results (one task for the whole phase: one batch). Once per run: there is no
  // verify scan (the restart module verifies), so the run's CPU is one phase's, not two.
  const lMod = m.module.wall - m.moduleAloneLight + m.moduleAloneHeavy + coldWall;
  const cMod = m.module.cpu + coldCpu + m.heavyCpu;
  // The rig's run per host holds a light host's share of the save: charged whole below.
  const lightSave = perExtraHost(m.save.v1, m.save.vFleet, fleet);
  const cLocalRaw = m.gatherReport.cpu - m.module.cpu - lightSave;
  const cLocal = Math.max(0, cLocalRaw);
  const saveG = Math.max(0, m.save.gFleet - m.save.v1);
  const modLat = waves * lMod;
  const modCpu = (fleet * cMod) / P;
  const mainBound = fleet * m.mainPerHost;
  const gatherT = Math.max(Math.max(modLat, modCpu) + (fleet * cLocal) / P + saveG, mainBound);
  const fixedRun = Math.max(0, m.clean1 - m.gatherReport.wall);
  // Two reports over the fleet: the summary after the gather and the one at the end.
  const fixed = fixedRun + 2 * m.reportGrowth;
  const gatherReport = gatherT + fixed;
  const b1 = m.heavyBatch + m.reportGrowth;
  const cB = cMod + m.pingCpu + cLocal;
  const saveB =
    m.save.midN > 1
      ? perExtraHost(m.save.g1, m.save.gMid, m.save.midN)
      : perExtraHost(m.save.g1, m.save.gFleet, fleet);
  const usable = k.windowH * 3600 * (1 - k.margin) - gatherReport;
  const rows = [...new Set([0, k.healthS, 300, 900])].map((h) => {
    const bt = (s: number) => Math.ceil(s / k.forks) * (b1 + h) + (s - 1) * (cB / P + saveB);
    return { health: h, batch1: b1 + h, ...fitSerial(fleet, usable, bt) };
  });
  return {
    waves,
    lMod,
    cMod,
    coldWall,
    coldCpu,
    cLocal,
    cLocalRaw,
    lightSave,
    saveG,
    modLat,
    modCpu,
    mainBound,
    gatherT,
    fixedRun,
    fixed,
    gatherReport,
    b1,
    cB,
    saveB,
    usable,
    rows,
  };
}
