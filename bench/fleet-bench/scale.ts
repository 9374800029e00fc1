// bench/fleet-bench/scale.ts - `bench/fleet scale`: a whole rolling-restart.yml run over 3, 10
// and 50 hosts of one rig (serial [1, '10%'], forks = hosts), against the bare playbook
// (`systemctl restart`, the same serial) and `ansible -m ping` over the same hosts, plus the
// module's round trip (Python and Node.js) and one host alone (the latency a fleet would see).
//
// Controller CPU is the CPU of a cgroup of its own that every timed Ansible command runs in:
// ansible-playbook, its workers, ssh and the connection-sharing masters it starts (daemons that
// outlive the command: they are in the cgroup too). The hosts' CPU is their sandboxes' cgroups.
// Both from cpu.stat (usage_usec), which cgroup2 keeps without any controller enabled. The
// callback plugin reads the same two figures at every play and task, so each phase (gather,
// restart batches, verify) has its own wall time and CPU.
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmdirSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import type { RigHost } from '../../harness/rig.ts';
import { rigFootprint } from '../../harness/rig.ts';
import { die, log, type Ran, runHost, SAFE_PATH } from '../lib/bench.ts';
import { writeScript } from '../lib/scripts.ts';
import { ANSIBLE_DIR, baseline, type Ctx, HOST_CLI, LIBRARY, rolling, UNIT } from './context.ts';
import {
  type BatchStats,
  median,
  perBatchWork,
  percentOf,
  serialBatches,
  slope,
} from './events.ts';
import { type Knobs, type ScaleInputs, scaleModel } from './model.ts';

const f1 = (x: number) => x.toFixed(1);
const f2 = (x: number) => x.toFixed(2);
const ms = (x: number) => `${Math.round(x * 1000).toLocaleString('en-US')} ms`;

export interface ScaleOptions {
  sizes: number[];
  /** Runs of every leg at sizes up to 10 hosts, and above. */
  runsSmall: number;
  runsLarge: number;
  /** Largest size the Node.js module is timed at. */
  nodeMax: number;
  /** Also time the playbook as it was (the report rewritten after every batch) at the largest size. */
  legacy: boolean;
  /** Another checkout (BASELINE): its playbook, module and CLI timed at every size, leg by leg. */
  baseline?: string | undefined;
  knobs: Knobs;
}

let controllerCg: string | undefined;

/** The controller's cgroup: its processes (our children, ssh masters) killed, then removed. */
export function removeControllerCgroup(): void {
  const cg = controllerCg;
  if (cg === undefined || !existsSync(cg)) return;
  try {
    writeFileSync(join(cg, 'cgroup.kill'), '1');
  } catch {}
  for (let i = 0; i < 100; i++) {
    try {
      rmdirSync(cg);
      controllerCg = undefined;
      return;
    } catch {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    }
  }
}

function cpuOf(cgroups: readonly string[]): number {
  let usec = 0;
  for (const cg of cgroups) {
    const m = /^usage_usec ([0-9]+)$/m.exec(readFileSync(join(cg, 'cpu.stat'), 'utf8'));
    if (m === null) die(`no usage_usec in ${cg}/cpu.stat`);
    usec += Number(m[1]);
  }
  return usec / 1e6;
}

const loadavg = () => Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);

interface Timed {
  wall: number;
  ctl: number;
  hosts: number;
  load0: number;
  load1: number;
}

interface LegResult {
  name: string;
  hosts: number;
  runs: Timed[];
}

const med = (r: LegResult, k: keyof Timed) => median(r.runs.map((x) => x[k]));

/**
 * rolling-restart.yml as it was before the report was written only on failure and at the end:
 * the report rewritten after every batch. A copy of integrations/ansible in the work directory
 * (its tasks/, vars/ and library/ beside it), the playbook changed back.
 */
function legacyPlaybook(ctx: Ctx): string {
  const copy = join(ctx.dir, 'ansible-legacy');
  cpSync(ANSIBLE_DIR, copy, { recursive: true });
  const p = join(copy, 'rolling-restart.yml');
  const text = readFileSync(p, 'utf8');
  // The batch's save renders the report only when a host failed: make it render every batch.
  const re = /(\n(\s+)afterpatch_render: )>-\n(?:\s{14}.*\n){3}/;
  if (!re.test(text)) die(`${p}: the conditional report moved; update legacyPlaybook()`);
  writeFileSync(p, text.replace(re, '$1[fleet.json, fleet.txt]\n'));
  return p;
}

/**
 * BASELINE's integrations/ansible copied into the work directory (its library/ and
 * action_plugins/ beside its playbook, found before ours) and its CLI installed on every host
 * beside ours: the vars that make rolling() run it.
 */
function baselineSetup(ctx: Ctx, checkout: string): { playbook: string; vars: object } {
  const copy = join(ctx.dir, 'ansible-baseline');
  cpSync(join(checkout, 'integrations', 'ansible'), copy, { recursive: true });
  const cli = join(ctx.dir, 'afterpatch-baseline.cjs');
  cpSync(join(checkout, 'dist', 'afterpatch.cjs'), cli);
  chmodSync(cli, 0o755);
  for (const h of ctx.hosts) {
    const dest = join(h.dirs['/opt/afterpatch'], 'bin', 'afterpatch-baseline');
    cpSync(cli, dest);
    chmodSync(dest, 0o755);
  }
  return {
    playbook: join(copy, 'rolling-restart.yml'),
    vars: { afterpatch_cli: `${HOST_CLI}-baseline`, afterpatch_report_cli: cli },
  };
}

export async function scaleLegs(ctx: Ctx, o: ScaleOptions): Promise<string[]> {
  const lines: string[] = [];
  const say = (s = '') => lines.push(s);
  const maxN = Math.max(...o.sizes);
  if (ctx.hosts.length < maxN) die(`the rig has ${ctx.hosts.length} hosts, not ${maxN}`);

  // The controller's cgroup, next to the sandboxes' (the cgroup2 root the harness uses).
  const first = ctx.hosts[0] ?? die('no hosts');
  controllerCg = join(
    dirname(first.sandbox.cgroupDir),
    `afterpatch-bench-ctl-${randomBytes(3).toString('hex')}`,
  );
  if (!SAFE_PATH.test(controllerCg)) die(`unsafe cgroup path ${controllerCg}`);
  mkdirSync(controllerCg);
  const inController = join(ctx.dir, 'in-controller');
  writeScript(
    inController,
    `#!/bin/sh\n# bench/fleet: run "$@" in the controller's cgroup (its CPU is measured)\necho $$ > ${controllerCg}/cgroup.procs || exit 99\nexec "$@"\n`,
  );
  const hostCgs = (hs: readonly RigHost[]) => hs.map((h) => h.sandbox.cgroupDir);
  const env = ctx.ansibleEnv({
    BENCH_FLEET_CONTROLLER_CGROUP: controllerCg,
    BENCH_FLEET_HOST_CGROUPS: hostCgs(ctx.hosts).join(':'),
  });
  const cg = controllerCg;
  const timed = async (argv: readonly string[]): Promise<{ t: Timed; r: Ran }> => {
    const load0 = loadavg();
    const c0 = cpuOf([cg]);
    const h0 = cpuOf(hostCgs(ctx.hosts));
    const t0 = performance.now();
    const r = await runHost(inController, argv, { env, cwd: ctx.rig.dir, timeoutMs: 1_800_000 });
    const wall = (performance.now() - t0) / 1000;
    const t = {
      wall,
      ctl: cpuOf([cg]) - c0,
      hosts: cpuOf(hostCgs(ctx.hosts)) - h0,
      load0,
      load1: loadavg(),
    };
    return { t, r };
  };

  const fp = rigFootprint(ctx.rig);
  const pss = fp.map((x) => x.pssKiB);
  const procs = fp.map((x) => x.processes);
  say(
    `rig: ${ctx.hosts.length} hosts booted in ${f1(ctx.bootS)} s, install.yml ${f1(ctx.installS)} s; per host (systemd, journald, sshd, the app): ${f1(median(procs))} processes, PSS ${f1(median(pss) / 1024)} MiB median (${f1(Math.min(...pss) / 1024)}–${f1(Math.max(...pss) / 1024)}), ${f1(pss.reduce((a, b) => a + b, 0) / 1024)} MiB for all`,
  );
  say();

  const pattern = (n: number) => `rig[0:${n - 1}]`;
  const adhoc = (n: number, forks: number, mod: string) => {
    const a = ['ansible', pattern(n), '-f', String(forks)];
    if (mod === 'ping') return [...a, '-m', 'ping'];
    return [...a, '-M', LIBRARY, '-m', mod, '-a', `state=scanned afterpatch=${HOST_CLI}`];
  };
  const results = new Map<string, LegResult>();
  const record = (name: string, hosts: number, t: Timed) => {
    const r = results.get(name) ?? { name, hosts, runs: [] };
    r.runs.push(t);
    results.set(name, r);
  };
  /** Runs argv, dies unless it exits 0 (and `check` passes), records the time. */
  const leg = async (name: string, n: number, argv: string[], check?: () => Promise<void>) => {
    const { t, r } = await timed(argv);
    if (r.code !== 0) die(`${name}: exit ${r.code}\n${ctx.show(r)}`);
    await check?.();
    record(name, n, t);
    log(
      `${name}: ${f1(t.wall)} s, controller CPU ${f1(t.ctl)} s, hosts ${f1(t.hosts)} s (load ${f1(t.load0)})`,
    );
  };
  const restartedAll = (reportDir: string, hs: readonly RigHost[]) => async () => {
    const f = ctx.fleetOf(reportDir);
    if (
      f.summary?.clean !== hs.length ||
      hs.some((h) => f.hosts?.find((x) => x.host === h.name)?.restarted?.[0] !== UNIT)
    )
      die(
        `${reportDir}: expected ${hs.length} clean hosts, ${UNIT} restarted on each: ${JSON.stringify(f.summary)}`,
      );
  };
  const pidsChanged = (hs: readonly RigHost[], before: string[]) => async () => {
    const after = await ctx.mainPids(hs);
    if (after.some((p, i) => p === before[i])) die('a unit was not restarted');
  };
  const serialTen = [1, '10%'];

  const sizes = [1, ...o.sizes.filter((n) => n > 1)];
  const rollName = (n: number) =>
    `rolling-restart.yml, serial [1, '10%'], ${n} host${n === 1 ? '' : 's'}`;
  const bareName = (n: number) =>
    `bare playbook, serial [1, '10%'], ${n} host${n === 1 ? '' : 's'}`;
  const legacyName = (n: number) =>
    `rolling-restart.yml as before (report after every batch), ${n} hosts`;
  const baseName = (n: number) => `BASELINE's rolling-restart.yml, ${n} host${n === 1 ? '' : 's'}`;
  const base = o.baseline === undefined ? undefined : baselineSetup(ctx, o.baseline);
  for (const n of sizes) {
    const hs = ctx.hosts.slice(0, n);
    const runs = n <= 10 ? o.runsSmall : o.runsLarge;
    // No health command: the bare playbook checks nothing either (rolling-restart.yml's own
    // restart, verification and report are what is compared).
    const noHealth = { afterpatch_health_command: null };
    const roll = rolling(
      ctx,
      `scale-rolling-${n}`,
      { afterpatch_hosts: pattern(n), afterpatch_serial: serialTen, ...noHealth },
      undefined,
      ['-f', String(n)],
    );
    const legacy =
      o.legacy && n === maxN
        ? rolling(
            ctx,
            `scale-legacy-${n}`,
            { afterpatch_hosts: pattern(n), afterpatch_serial: serialTen, ...noHealth },
            legacyPlaybook(ctx),
            ['-f', String(n)],
          )
        : undefined;
    const bare = baseline(ctx, `scale-bare-${n}`, pattern(n), [UNIT], serialTen, ['-f', String(n)]);
    const other =
      base === undefined
        ? undefined
        : rolling(
            ctx,
            `scale-baseline-${n}`,
            {
              afterpatch_hosts: pattern(n),
              afterpatch_serial: serialTen,
              ...noHealth,
              ...base.vars,
            },
            base.playbook,
            ['-f', String(n)],
          );
    log(`${n} host${n === 1 ? '' : 's'}: ${runs} run${runs === 1 ? '' : 's'} of every leg`);
    for (let i = 0; i < runs; i++) {
      await leg(`ping, ${n} hosts, forks ${n}`, n, adhoc(n, n, 'ping'));
      await leg(`afterpatch (Python), ${n} hosts, forks ${n}`, n, adhoc(n, n, 'afterpatch'));
      if (n <= o.nodeMax)
        await leg(
          `afterpatch_node (Node.js), ${n} hosts, forks ${n}`,
          n,
          adhoc(n, n, 'afterpatch_node'),
        );
      await ctx.prepareNow(`before ${rollName(n)}`);
      await leg(rollName(n), n, roll.argv, restartedAll(roll.reportDir, hs));
      await ctx.prepareNow(`before ${bareName(n)}`);
      await leg(bareName(n), n, bare, pidsChanged(hs, await ctx.mainPids(hs)));
      if (other !== undefined) {
        await ctx.prepareNow(`before ${baseName(n)}`);
        await leg(baseName(n), n, other.argv, restartedAll(other.reportDir, hs));
      }
      if (legacy !== undefined) {
        await ctx.prepareNow(`before ${legacyName(n)}`);
        await leg(legacyName(n), n, legacy.argv, restartedAll(legacy.reportDir, hs));
      }
    }
  }

  // --- tables ------------------------------------------------------------------------------------
  say(
    "| leg | hosts | runs | wall (median) | controller CPU | per host | hosts' CPU | load avg (1 min) at start → end |",
  );
  say('|---|---:|---:|---:|---:|---:|---:|---|');
  for (const r of results.values()) {
    const loads = r.runs.map((x) => `${f1(x.load0)}→${f1(x.load1)}`).join(', ');
    say(
      `| ${r.name} | ${r.hosts} | ${r.runs.length} | ${f2(med(r, 'wall'))} s | ${f2(med(r, 'ctl'))} s | ${ms(med(r, 'ctl') / r.hosts)} | ${f2(med(r, 'hosts'))} s | ${loads} |`,
    );
  }
  say();
  const get = (name: string) => results.get(name) ?? die(`no result ${name}`);
  const ratio = (a: string, b: string) => med(get(a), 'wall') / med(get(b), 'wall');
  for (const n of sizes) {
    const parts = [
      `module round trip / ping: Python ${f2(ratio(`afterpatch (Python), ${n} hosts, forks ${n}`, `ping, ${n} hosts, forks ${n}`))}×`,
    ];
    if (n <= o.nodeMax)
      parts.push(
        `Node.js ${f2(ratio(`afterpatch_node (Node.js), ${n} hosts, forks ${n}`, `ping, ${n} hosts, forks ${n}`))}×`,
      );
    parts.push(`rolling-restart.yml / bare playbook ${f2(ratio(rollName(n), bareName(n)))}×`);
    if (base !== undefined)
      parts.push(
        `BASELINE's / bare playbook ${f2(ratio(baseName(n), bareName(n)))}×; this / BASELINE's ${f2(ratio(rollName(n), baseName(n)))}×`,
      );
    say(`${n} host${n === 1 ? '' : 's'}: ${parts.join('; ')}`);
  }
  say();

  const phases = (st: BatchStats) => {
    const pick = (...prefixes: string[]) => {
      const keys = [...st.plays.keys()].filter((k) => prefixes.some((p) => k.startsWith(p)));
      const sum = (m: Map<string, number>) => keys.reduce((a, k) => a + (m.get(k) ?? 0), 0);
      return {
        s: sum(st.plays),
        ctl: sum(st.playCtl),
        self: sum(st.playSelf),
        hosts: sum(st.playHosts),
      };
    };
    return {
      gather: pick('Gather'),
      restart: pick('Restart'),
      // Since the restart module's verification is the verify: the report play alone (a run of
      // the older playbook: its verify play).
      report: pick('Verify', 'Report'),
      total: st.total,
    };
  };
  say(
    "| rolling-restart.yml phase (median of runs) | hosts | wall | controller CPU | per host | main process per host | hosts' CPU |",
  );
  say('|---|---:|---:|---:|---:|---:|---:|');
  const phaseOf = new Map<number, ReturnType<typeof phases>>();
  for (const [label, who] of [
    ['scale-rolling', ''],
    ...(base === undefined ? [] : [['scale-baseline', "BASELINE's "]]),
  ] as const) {
    for (const n of sizes) {
      const p = phases(ctx.stats(`${label}-${n}`, 'Restart - batch'));
      if (who === '') phaseOf.set(n, p);
      for (const [k, v] of [
        ['gather', p.gather],
        [`restart (${serialBatchesText(n)})`, p.restart],
        ['report', p.report],
      ] as const) {
        say(
          `| ${who}${k} | ${n} | ${f2(v.s)} s | ${f2(v.ctl)} s | ${ms(v.ctl / n)} | ${ms(v.self / n)} | ${f2(v.hosts)} s |`,
        );
      }
    }
  }
  say();

  // Where a run's time goes, task by task (median over the runs and, in the restart play, over
  // the batches), at the smallest and the largest size.
  for (const n of [...new Set([Math.min(...o.sizes), maxN])]) {
    for (const play of ['Gather', 'Restart', 'Verify', 'Report']) {
      const st = ctx.stats(`scale-rolling-${n}`, play);
      if (st.tasks.size === 0) continue; // a play this playbook does not have
      const tasks = [...st.tasks].filter(([, v]) => v >= 0.05);
      say(
        `${n} hosts, ${play} tasks (median, ≥ 50 ms): ${tasks.map(([t, v]) => `${t} ${f2(v)} s`).join('; ')}`,
      );
    }
  }
  say();

  // Per-batch controller work at the largest size: must not grow with the number of hosts already done.
  const work = /^(Save the results|Merge the host results|Write fleet\.json|Show the fleet)/;
  for (const [label, name] of [
    [`scale-rolling-${maxN}`, 'now'],
    ...(o.legacy ? [[`scale-legacy-${maxN}`, 'as before']] : []),
  ] as const) {
    for (const evs of ctx.runsOf(label)) {
      const w = perBatchWork(evs, 'Restart - batch', work);
      if (w.length === 0) continue;
      say(
        `controller work after each batch (save + report tasks), ${maxN} hosts, ${name}: ${w.map(f2).join(' ')} s; slope ${ms(slope(w))} per batch; first ${f2(w[0] ?? 0)} s, last ${f2(w[w.length - 1] ?? 0)} s`,
      );
    }
  }
  say();

  // --- the model from the largest run ---------------------------------------------------------------
  const big = phaseOf.get(maxN) ?? die('no phases');
  const one = phaseOf.get(1) ?? die('no 1-host phases');
  const oneRun = ctx.stats('scale-rolling-1', 'Restart - batch');
  const inputs: ScaleInputs = {
    hosts: maxN,
    gather: { cpuPerHost: big.gather.ctl / maxN, mainPerHost: big.gather.self / maxN },
    report: { cpuPerHost: big.report.ctl / maxN, mainPerHost: big.report.self / maxN },
    restart: { cpuPerHost: big.restart.ctl / maxN, mainPerHost: big.restart.self / maxN },
    gatherLatency: one.gather.s,
    reportLatency: one.report.s,
    batchLatency: median(oneRun.batches),
    fixed: Math.max(0, one.total - one.gather.s - one.restart.s - one.report.s),
  };
  const k = o.knobs;
  const m = scaleModel(k, inputs);
  say(
    `model from ${maxN} hosts: ${k.fleet} light hosts, forks ${k.forks}, controller ${k.cores} cores, window ${k.windowH} h, margin ${Math.round(k.margin * 100)} %, health ${k.healthS} s a batch`,
  );
  say(
    `  inputs per host: gather ${ms(inputs.gather.cpuPerHost)} CPU (main ${ms(inputs.gather.mainPerHost)}), report ${ms(inputs.report.cpuPerHost)} (main ${ms(inputs.report.mainPerHost)}), restart ${ms(inputs.restart.cpuPerHost)} (main ${ms(inputs.restart.mainPerHost)}); latency alone: gather ${f2(inputs.gatherLatency)} s, report ${f2(inputs.reportLatency)} s, a batch ${f2(inputs.batchLatency)} s; fixed ${f2(inputs.fixed)} s`,
  );
  say(
    `  gather: latency ${m.waves} waves = ${f1(m.gather.latency)} s, CPU ${f1(m.gather.cpu)} s, main process ${f1(m.gather.main)} s → ${f1(m.gather.t)} s`,
  );
  say(
    `  report (once, on the controller): latency ${f1(m.report.latency)} s, its CPU (one process) ${f1(m.report.cpu)} s, main process ${f1(m.report.main)} s → ${f1(m.report.t)} s`,
  );
  say(`  gather + report + fixed: ${f1(m.gatherReport)} s = ${f1(m.gatherReport / 60)} min`);
  say(
    `  a batch of 1: ${f1(m.batch(1))} s; of ${Math.min(k.forks, k.fleet)}: ${f1(m.batch(Math.min(k.forks, k.fleet)))} s (health included)`,
  );
  say(
    `  serial [1, '10%'] (${m.tenPercent.batches} batches): restart ${f1(m.tenPercent.restart / 60)} min, whole run ${f1(m.tenPercent.run / 60)} min`,
  );
  say(
    `  in ${k.windowH} h (usable ${f1(m.usable / 3600)} h): smallest [1, ${m.serial.smallest}] (${m.serial.smallestBatches} batches); recommended ${m.serial.rec.text}: ${m.serial.recBatches} batches, ${f1(m.serial.t / 3600)} h`,
  );
  return lines;
}

function serialBatchesText(n: number): string {
  return `${serialBatches(n, [1, percentOf(10, n)]).length} batches`;
}
