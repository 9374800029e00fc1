// bench/fleet-bench/per-host.ts - `bench/fleet [N]`: what a fleet run costs per host, measured
// on N rig hosts (default 3) leg by leg (adhoc.ts, playbooks.ts, heavy.ts, save.ts), printed as
// tables with the first model of 500 hosts (model.ts, perHostModel) built on them.
import { join } from 'node:path';
import { C_SOURCES } from '../../harness/fixtures.ts';
import { die, mustRun } from '../lib/bench.ts';
import type { HyperfineResult } from '../lib/hyperfine.ts';
import { adhocLegs } from './adhoc.ts';
import type { Ctx } from './context.ts';
import { type BatchStats, median } from './events.ts';
import { heavyLegs } from './heavy.ts';
import { type Knobs, perHostModel } from './model.ts';
import { playbookLegs } from './playbooks.ts';
import { saveLegs } from './save.ts';

const f1 = (x: number) => x.toFixed(1);
const f2 = (x: number) => x.toFixed(2);
const f3 = (x: number) => x.toFixed(3);
const ms = (x: number) => `${Math.round(x * 1000).toLocaleString('en-US')} ms`;
const sms = (x: number) => `${x < 0 ? '−' : '+'}${ms(Math.abs(x))}`;
const kib = (b: number) => `${(b / 1024).toFixed(1)} KiB`;

export interface PerHostOptions {
  runs: number;
  warmup: number;
  playRuns: number;
  heavyN: number;
  knobs: Knobs;
}

export async function perHostLegs(ctx: Ctx, o: PerHostOptions): Promise<string[]> {
  const N = ctx.hosts.length;
  const light = ctx.hosts[0];
  const heavy = ctx.hosts[N - 1];
  if (light === undefined || heavy === undefined || N < 2) die('the rig needs 2 hosts or more');
  const spawner = join(ctx.dir, 'spawner');
  await mustRun('gcc', ['-O2', '-Wall', '-o', spawner, join(C_SOURCES, 'spawner.c')]);

  const b = await adhocLegs(ctx, light, o);
  const c = await playbookLegs(ctx, light, o);
  const h = await heavyLegs(ctx, light, heavy, { ...o, spawner });
  const d = await saveLegs(ctx, h, { ...o, fleet: o.knobs.fleet, forks: o.knobs.forks });

  // --- tables --------------------------------------------------------------------------------------
  const lines: string[] = [];
  const say = (s = '') => lines.push(s);
  const get = (m: Map<string, HyperfineResult>, name: string) =>
    m.get(name) ?? die(`no result ${name}`);
  const cpu = (r: HyperfineResult) => r.user + r.system;
  const table = (
    title: string,
    m: Map<string, HyperfineResult>,
    vs: HyperfineResult,
    what: string,
  ) => {
    say(`| ${title} | wall (mean ± σ) | ${what} | vs ${vs.command} |`);
    say('|---|---:|---:|---:|');
    for (const r of m.values())
      say(
        `| ${r.command} | ${ms(r.mean)} ± ${Math.round((r.stddev ?? 0) * 1000)} | ${ms(cpu(r))} | ${f2(r.mean / vs.mean)}× |`,
      );
    say();
  };
  say(
    `bench/fleet: ${N} rig hosts, heavy host ${h.heavyProcs} stale processes; RUNS=${o.runs}, PLAY_RUNS=${o.playRuns}`,
  );
  say(`rig boot ${f1(ctx.bootS)} s; install.yml (role, binary method) ${f1(ctx.installS)} s`);
  say(
    `heavy host: ${o.heavyN} holders up in ${f1(h.spawnS)} s, ~${Math.round(h.perProcKiB)} KiB of memory each`,
  );
  say();

  // a. in-host
  table('in-host leg', h.inHost, get(h.inHost, `nsenter true (${light.name})`), 'CPU (user+sys)');
  const sc = (n: string) => get(h.inHost, n).mean;
  say(
    `scan --json vs grep: light ${f2(sc('scan --json, light host') / sc('grep maps, light host'))}×, heavy ${f2(sc('scan --json, heavy host') / sc('grep maps, heavy host'))}×`,
  );
  say(
    `JSON: scan --json light ${kib(h.sizes.lightScan)}, heavy ${kib(h.sizes.heavyScan)}; module output light ${kib(h.sizes.lightModuleOut)}, heavy ${kib(h.sizes.heavyModuleOut)}; as ansible -t saves it light ${kib(b.treeLight.get(light.name)?.bytes ?? 0)}, heavy ${kib(h.heavyModuleBytes)}`,
  );
  say(
    `saved per phase by rolling-restart.yml (heavy host): ${[...h.saved].map(([k, v]) => `${k} ${kib(v)}`).join(', ')}`,
  );
  say();

  // b. ad hoc
  table('ad hoc leg', b.hf, get(b.hf, `raw true, ${N} hosts, forks 1`), 'controller CPU');
  const perHost = (a: string, z: string) => {
    const x = get(b.hf, a);
    const y = get(b.hf, z);
    return { wall: (x.mean - y.mean) / (N - 1), cpu: (cpu(x) - cpu(y)) / (N - 1) };
  };
  const raw = perHost(`raw true, ${N} hosts, forks 1`, 'raw true, 1 host, forks 1');
  const rawCold = perHost(
    `raw true no ControlPersist, ${N} hosts`,
    'raw true no ControlPersist, 1 host',
  );
  const ping = perHost(`ping, ${N} hosts, forks 1`, 'ping, 1 host, forks 1');
  const ap = perHost(`afterpatch, ${N} hosts, forks 1`, 'afterpatch, 1 host, forks 1');
  const apNode = perHost(
    `afterpatch_node, ${N} hosts, forks 1`,
    'afterpatch_node, 1 host, forks 1',
  );
  say(
    '| per host and task (forks 1: (N hosts − 1 host) / (N − 1)) | wall | controller CPU | vs raw | vs ping | SSH commands |',
  );
  say('|---|---:|---:|---:|---:|---:|');
  for (const [k, v, ops] of [
    ['raw true, shared connection', raw, b.ops.raw],
    ['raw true, new connection', rawCold, b.ops.raw],
    ['ping (Python, pipelined)', ping, b.ops.ping],
    ['afterpatch module (Python, pipelined)', ap, b.ops.afterpatch],
    ['afterpatch_node module (Node.js)', apNode, b.ops.afterpatch_node],
  ] as const) {
    say(
      `| ${k} | ${ms(v.wall)} | ${ms(v.cpu)} | ${f2(v.wall / raw.wall)}× | ${f2(v.wall / ping.wall)}× | ${ops.total} (${ops.transfers} transfers) |`,
    );
  }
  say();
  for (const m of ['raw true', 'ping', 'afterpatch', 'afterpatch_node'] as const) {
    const x = get(b.hf, `${m}, ${N} hosts, forks 1`).mean;
    const y = get(b.hf, `${m}, ${N} hosts, forks ${N}`).mean;
    say(`${m}: forks ${N} vs forks 1 over ${N} hosts: ${f2(x / y)}× faster`);
  }
  const modAloneL = sc('module alone, light host');
  const modAloneH = sc('module alone, heavy host');
  say(
    `afterpatch module round trip (light host) ${ms(ap.wall)} = module alone on the host ${ms(modAloneL)} + Ansible and SSH ${ms(ap.wall - modAloneL)}`,
  );
  const apL = get(h.adhoc, 'afterpatch, light host');
  const apH = get(h.adhoc, 'afterpatch, heavy host');
  table('module leg', h.adhoc, get(h.adhoc, 'ping, heavy host'), 'controller CPU');
  say(
    `heavy vs light host: module alone ${sms(modAloneH - modAloneL)}, round trip ${sms(apH.mean - apL.mean)}, controller CPU ${sms(cpu(apH) - cpu(apL))}`,
  );
  say();

  // c. playbooks
  table('playbook leg', c.hf, get(c.hf, c.names.base), 'controller CPU');
  const roll = get(c.hf, c.names.roll);
  const clean = get(c.hf, c.names.clean);
  const clean1 = get(c.hf, c.names.clean1);
  const gv = {
    wall: (clean.mean - clean1.mean) / (N - 1),
    cpu: (cpu(clean) - cpu(clean1)) / (N - 1),
  };
  say(
    `gather + report per host (nothing to restart, ${N} hosts − 1 host): wall ${ms(gv.wall)}, controller CPU ${ms(gv.cpu)}`,
  );
  say(
    `restart phase per host (stale − nothing to restart, / ${N}): wall ${ms((roll.mean - clean.mean) / N)}, controller CPU ${ms((cpu(roll) - cpu(clean)) / N)}`,
  );
  const fmtStats = (label: string, s: BatchStats) => {
    say(
      `${label}: batch median ${ms(median(s.batches))} (${s.batches.length} batches: ${s.batches.map(f2).join(' ')} s), run median ${f2(s.total)} s`,
    );
    say(`  plays: ${[...s.plays].map(([k, v]) => `${k.split(' - ')[0]} ${f2(v)} s`).join(', ')}`);
    const tasks = [...s.tasks].filter(([, v]) => v >= 0.05);
    if (tasks.length > 0)
      say(`  batch tasks (≥ 50 ms): ${tasks.map(([k, v]) => `${k} ${f2(v)} s`).join('; ')}`);
  };
  fmtStats('rolling-restart.yml, light hosts', c.roll);
  fmtStats('baseline playbook, light hosts', c.base);
  fmtStats('rolling-restart.yml, nothing to restart', c.clean);
  // Who spends the controller's CPU: ansible-playbook's main process (one thread) or its
  // workers and their ssh (the callback's os.times()).
  const phaseCpu = (m: Map<string, number>) =>
    [...m].filter(([k]) => /^(Gather|Verify|Report)/.test(k)).reduce((a, [, v]) => a + v, 0);
  const mainPerHost = (phaseCpu(c.clean.playSelf) - phaseCpu(c.clean1.playSelf)) / (N - 1);
  const kidsPerHost = (phaseCpu(c.clean.playKids) - phaseCpu(c.clean1.playKids)) / (N - 1);
  say(
    `gather + report plays, controller CPU per host (callback, os.times()): main process ${ms(mainPerHost)}, workers and ssh ${ms(kidsPerHost)}`,
  );
  say();
  table('heavy batch leg', h.batch, get(h.batch, h.baseName), 'controller CPU');
  fmtStats('rolling-restart.yml, heavy host', h.stats);
  fmtStats('baseline playbook, heavy host', h.baseStats);
  say();

  // d. save and report
  say(
    `| save leg: tasks/save-result.yml, one task per batch, synthetic hosts | save task (median of ${o.playRuns}) | per host beyond the first |`,
  );
  say('|---|---:|---:|');
  const perExtra = (t1: number, tn: number, n: number) => (n > 1 ? (tn - t1) / (n - 1) : 0);
  for (const s of d.saves) {
    const t = d.time(s.phase, s.n);
    const t1 = d.time(s.phase, 1);
    const what =
      s.phase === '1-gather' ? `heavy host's gather result (${o.heavyN} stale)` : 'verify result';
    say(
      `| ${what}, ${s.n} host${s.n === 1 ? '' : 's'} | ${ms(t)} | ${s.n > 1 ? ms(perExtra(t1, t, s.n)) : '—'} |`,
    );
  }
  say();
  say(
    `the heavy batch's own save (rig, 1 host, 2-restart): ${ms(h.stats.tasks.get('Save the results of 2-restart') ?? Number.NaN)}; the gather file of ${o.knobs.fleet} heavy hosts: ${(d.gatherFileBytes / 1048576).toFixed(1)} MiB`,
  );
  say();
  const rS = get(d.report, d.reportSmall);
  const rB = get(d.report, d.reportBig);
  table('report leg', d.report, rS, 'CPU');

  // --- the model ---------------------------------------------------------------------------------
  const k = o.knobs;
  const fleet = k.fleet;
  const m = perHostModel(k, {
    heavyN: o.heavyN,
    module: ap,
    moduleAloneLight: modAloneL,
    moduleAloneHeavy: modAloneH,
    raw,
    rawCold,
    heavyCpu: Math.max(0, cpu(apH) - cpu(apL)),
    gatherReport: gv,
    mainPerHost,
    pingCpu: ping.cpu,
    save: {
      g1: d.time('1-gather', 1),
      gMid: d.time('1-gather', d.midN),
      gFleet: d.time('1-gather', fleet),
      v1: d.time('3-verify', 1),
      vFleet: d.time('3-verify', fleet),
      midN: d.midN,
    },
    clean1: clean1.mean,
    reportGrowth: Math.max(0, rB.mean - rS.mean),
    heavyBatch: median(h.stats.batches),
  });
  say(
    `model: ${fleet} hosts of ${o.heavyN} processes, forks ${k.forks}, controller ${k.cores} cores (CPU-bound), window ${k.windowH} h, margin ${Math.round(k.margin * 100)} %`,
  );
  say(
    `  module task per host: latency ${ms(m.lMod)} (Ansible+SSH ${ms(ap.wall - modAloneL)} + module on the heavy host ${ms(modAloneH)} + new connection ${ms(m.coldWall)}), controller CPU ${ms(m.cMod)}`,
  );
  say(
    `  other per-host tasks per phase: ${ms(m.cLocal)} CPU${m.cLocalRaw < 0 ? ` (${sms(m.cLocalRaw)}, taken as 0)` : ''}; the light result's share of the save ${ms(m.lightSave)}`,
  );
  say(`  saving the gather's ${fleet} results in one task: ${f2(m.saveG)} s`);
  say(
    `  gather: module max(latency ${m.waves} waves × ${f2(m.lMod)} s = ${f1(m.modLat)} s, CPU ${fleet} × ${f3(m.cMod)} s / ${k.cores} = ${f1(m.modCpu)} s) → ${f1(m.gatherT)} s; floor of the main process ${f1(m.mainBound)} s`,
  );
  say(`  fixed: ${f1(m.fixedRun)} s + the two reports at ${fleet} hosts → ${f1(m.fixed)} s`);
  say(
    `  gather + report at ${fleet} hosts: ${f1(m.gatherReport)} s = ${f1(m.gatherReport / 60)} min`,
  );
  say(
    `  batch of 1 heavy host: ${f1(m.b1)} s; each further host in a batch + ${ms(m.cB)} CPU / ${k.cores} cores + ${ms(m.saveB)} to save its result`,
  );
  say(
    `  usable window: ${k.windowH} h × ${f2(1 - k.margin)} − gather/report = ${f1(m.usable / 3600)} h`,
  );
  say(
    '| health + warm-up per batch | batch (1 host) | smallest serial that fits | batches | recommended serial | batches | restart phase | whole run |',
  );
  say('|---:|---:|---|---:|---|---:|---:|---:|');
  for (const r of m.rows) {
    say(
      `| ${r.health} s | ${f1(r.batch1)} s | ${r.smallest === 1 ? '1' : `[1, ${r.smallest}]`} | ${r.smallestBatches} | ${r.rec.text} | ${r.recBatches} | ${f1(r.t / 3600)} h | ${f1((r.t + m.gatherReport) / 3600)} h${r.t > m.usable ? ' (over)' : ''} |`,
    );
  }
  return lines;
}
