// bench/fleet-bench/heavy.ts - the heavy host (the last one): bench-heavy.service runs the
// spawner, which starts HEAVY holders of the library, replaced under them; then
//   a. in-host: `afterpatch scan --json` and the modules alone (run by their interpreters on the
//      host) inside a light and the heavy host (nsenter), against `grep -l deleted
//      /proc/[0-9]*/maps` there and nsenter running `true`; `restart --dry-run` on the heavy
//      host; JSON sizes;
//   b. the module's round trip to the heavy host against a light one and `ping`;
//   c. one rolling-restart.yml batch on the heavy host against the bare playbook.
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RigHost } from '../../harness/rig.ts';
import { die, log, mustRun, runHost, SAFE_PATH, sleep } from '../lib/bench.ts';
import { cmdline, type HyperfineResult } from '../lib/hyperfine.ts';
import { adhoc, moduleTree } from './adhoc.ts';
import {
  baseline,
  type Ctx,
  HOLDER,
  HOST_CLI,
  type Leg,
  LIB,
  LIBRARY,
  memAvailableKiB,
  PREPARE_CJS,
  rolling,
  stalePids,
  UNIT,
} from './context.ts';
import type { BatchStats } from './events.ts';

const HEAVY_UNIT = 'bench-heavy.service';

interface ScanDoc {
  format?: string;
  summary?: { processes?: number };
}

export interface HeavyResults {
  heavyProcs: number;
  spawnS: number;
  perProcKiB: number;
  inHost: Map<string, HyperfineResult>;
  sizes: { lightScan: number; heavyScan: number; lightModuleOut: number; heavyModuleOut: number };
  heavyModuleBytes: number;
  adhoc: Map<string, HyperfineResult>;
  batch: Map<string, HyperfineResult>;
  batchName: string;
  baseName: string;
  stats: BatchStats;
  baseStats: BatchStats;
  /** What rolling-restart.yml saved for the heavy host per phase file, and where. */
  saved: Map<string, number>;
  savedDir: string;
  /** The heavy host's result of a phase as the playbook saved it. */
  result(phase: string): Record<string, unknown>;
}

export async function heavyLegs(
  ctx: Ctx,
  light: RigHost,
  heavy: RigHost,
  o: { heavyN: number; spawner: string; runs: number; warmup: number; playRuns: number },
): Promise<HeavyResults> {
  const { heavyN } = o;
  log(`heavy host ${heavy.name}: ${HEAVY_UNIT} starts ${heavyN} holders`);
  await heavy.sandbox.installUnit(
    HEAVY_UNIT,
    `[Unit]\nDescription=bench/fleet: ${heavyN} processes mapping ${LIB}\nStartLimitIntervalSec=0\n\n` +
      `[Service]\nType=exec\nExecStart=${o.spawner} ${heavyN} ${HOLDER} 3600 /run/bench-heavy/pids\n` +
      'RuntimeDirectory=bench-heavy\nTasksMax=infinity\nLimitNPROC=infinity\n',
  );
  const memBefore = memAvailableKiB();
  const t0 = performance.now();
  const st = await heavy.sandbox.systemctl('start', HEAVY_UNIT);
  if (st.code !== 0) die(`${HEAVY_UNIT} did not start: ${st.stderr}`);
  const cg = (
    await heavy.sandbox.systemctl('show', '-p', 'ControlGroup', '--value', HEAVY_UNIT)
  ).stdout.trim();
  if (!/^\/[A-Za-z0-9_.@/-]+$/.test(cg) || cg.includes('..')) die(`bad ControlGroup ${cg}`);
  const procsFile = join(heavy.sandbox.cgroupDir, cg, 'cgroup.procs');
  if (!SAFE_PATH.test(procsFile)) die(`unsafe cgroup path ${procsFile}`);
  const heavyPrepareArgs = [PREPARE_CJS, LIB, ctx.libNext, procsFile, String(heavyN)];
  const prepareHeavy = cmdline([process.execPath, ...heavyPrepareArgs]);
  // Waits until all holders map the library, then replaces it.
  await mustRun(process.execPath, heavyPrepareArgs);
  const spawnS = (performance.now() - t0) / 1000;
  const heavyProcs = stalePids(await heavy.sandbox.unitPids(HEAVY_UNIT));
  if (heavyProcs < heavyN) die(`only ${heavyProcs} of ${heavyN} heavy processes are stale`);
  await sleep(1000);
  const perProcKiB = (memBefore - memAvailableKiB()) / heavyN;
  log(
    `${heavyProcs} processes stale on ${heavy.name} (up in ${spawnS.toFixed(1)} s, ` +
      `~${Math.round(perProcKiB)} KiB of memory each)`,
  );
  await ctx.prepareNow('heavy phase');

  // a. in-host ----------------------------------------------------------------------------------
  const inH = ctx.inHost;
  const scanArgv = (h: RigHost) => [inH(h), HOST_CLI, 'scan', '--json'];
  // The Python module as AnsiballZ runs it underneath (its arguments file), the Node.js one by
  // node (WANT_JSON); both read the same arguments.
  const args = { state: 'scanned', afterpatch: HOST_CLI };
  const pyArgs = join(ctx.dir, 'module-args-py.json');
  writeFileSync(pyArgs, JSON.stringify({ ANSIBLE_MODULE_ARGS: args }));
  const nodeArgs = join(ctx.dir, 'module-args-node.json');
  writeFileSync(nodeArgs, JSON.stringify(args));
  const moduleArgv = (h: RigHost) => [
    inH(h),
    '/usr/bin/python3',
    join(LIBRARY, 'afterpatch.py'),
    pyArgs,
  ];
  const nodeModuleArgv = (h: RigHost) => [
    inH(h),
    'node',
    join(LIBRARY, 'afterpatch_node'),
    nodeArgs,
  ];
  const dryRunArgv = [inH(heavy), HOST_CLI, 'restart', '--dry-run', '--json'];
  const grep = (h: RigHost) => [inH(h), 'sh', '-c', 'grep -l deleted /proc/[0-9]*/maps; exit 0'];
  /** Runs argv on the machine; its standard output as JSON, or {} when it is not JSON. */
  const runJson = async <T extends object>(argv: readonly string[]) => {
    const [cmd, ...rest] = argv;
    const r = await runHost(cmd ?? '', rest);
    let doc = {} as T;
    try {
      doc = JSON.parse(r.stdout) as T;
    } catch {}
    return { r, doc };
  };
  const checkInHost = async () => {
    const sizes = { lightScan: 0, heavyScan: 0, lightModuleOut: 0, heavyModuleOut: 0 };
    for (const [h, min] of [
      [light, 1],
      [heavy, heavyN],
    ] as const) {
      const { r, doc } = await runJson<ScanDoc>(scanArgv(h));
      if (r.code !== 1 || doc.format !== 'afterpatch-scan' || (doc.summary?.processes ?? 0) < min)
        die(`scan on ${h.name}: exit ${r.code}, ${JSON.stringify(doc.summary)}\n${r.stderr}`);
      for (const argv of [moduleArgv(h), nodeModuleArgv(h)]) {
        const { r: m, doc: res } = await runJson<{ failed?: boolean; scan?: ScanDoc }>(argv);
        if (res.failed !== false || (res.scan?.summary?.processes ?? 0) < min)
          die(
            `module alone on ${h.name} (${argv[1]}): exit ${m.code}: ${m.stdout.slice(0, 2000)}${m.stderr}`,
          );
        if (argv[1] !== 'node') {
          if (h === light) sizes.lightModuleOut = Buffer.byteLength(m.stdout);
          else sizes.heavyModuleOut = Buffer.byteLength(m.stdout);
        }
      }
      if (h === light) sizes.lightScan = Buffer.byteLength(r.stdout);
      else sizes.heavyScan = Buffer.byteLength(r.stdout);
    }
    const { r: d, doc: plan } = await runJson<{ plan?: { unit?: string | null }[] }>(dryRunArgv);
    if (d.code > 1 || !plan.plan?.some((e) => e.unit === HEAVY_UNIT))
      die(`restart --dry-run on ${heavy.name}: exit ${d.code}\n${d.stdout.slice(0, 2000)}`);
    return sizes;
  };
  const legsA: Leg[] = [
    { name: `nsenter true (${light.name})`, argv: [inH(light), 'true'] },
    { name: 'grep maps, light host', argv: grep(light) },
    { name: 'scan --json, light host', argv: scanArgv(light) },
    { name: 'module alone, light host', argv: moduleArgv(light) },
    { name: 'Node.js module alone, light host', argv: nodeModuleArgv(light) },
    { name: 'grep maps, heavy host', argv: grep(heavy) },
    { name: 'scan --json, heavy host', argv: scanArgv(heavy) },
    { name: 'restart --dry-run --json, heavy host', argv: dryRunArgv },
    { name: 'module alone, heavy host', argv: moduleArgv(heavy) },
    { name: 'Node.js module alone, heavy host', argv: nodeModuleArgv(heavy) },
  ];
  log('checking the in-host commands once (untimed)');
  const sizes = await checkInHost();
  // -i: scan exits 1 when it finds stale code, the Python module 1 when it fails (checked before
  // and after the timing).
  const inHost = await ctx.hyperfine('in-host', legsA, {
    runs: o.runs * 2,
    warmup: o.warmup + 1,
    ignoreFailure: true,
    env: ctx.ansibleEnv(),
  });
  await checkInHost();

  // b. the module's round trip to the heavy host ----------------------------------------------
  const treeHeavy = await moduleTree(ctx, `${light.name}:${heavy.name}`, 'heavy');
  const heavyModuleBytes = treeHeavy.get(heavy.name)?.bytes ?? 0;
  if ((treeHeavy.get(heavy.name)?.doc.scan?.summary?.processes ?? 0) < heavyN)
    die(`the module did not see the ${heavyN} processes on ${heavy.name}`);
  const adhocHeavy = await ctx.hyperfine(
    'adhoc-heavy',
    [
      { name: 'ping, heavy host', argv: adhoc(heavy.name, 1, 'ping') },
      { name: 'afterpatch, light host', argv: adhoc(light.name, 1, 'afterpatch') },
      { name: 'afterpatch, heavy host', argv: adhoc(heavy.name, 1, 'afterpatch') },
    ],
    { runs: o.runs, warmup: o.warmup, env: ctx.ansibleEnv() },
  );

  // c. one batch with the heavy host ------------------------------------------------------------
  const units = [UNIT, HEAVY_UNIT];
  const ch = rolling(ctx, 'rolling-heavy', {
    afterpatch_hosts: heavy.name,
    afterpatch_health_command: ['systemctl', 'is-active', ...units],
  });
  const batchName = 'rolling-restart.yml, heavy host';
  const baseName = 'baseline playbook (systemctl restart), heavy host';
  const legsC: Leg[] = [
    { name: batchName, argv: ch.argv, prepare: prepareHeavy },
    {
      name: baseName,
      argv: baseline(ctx, 'baseline-heavy', heavy.name, units),
      prepare: prepareHeavy,
    },
  ];
  log('checking the heavy batch once (untimed)');
  await mustRun(process.execPath, heavyPrepareArgs);
  const rh = await ctx.ansible(ch.argv);
  if (rh.code !== 0) die(`rolling-restart.yml (heavy) failed:\n${ctx.show(rh)}`);
  const fh = ctx.fleetOf(ch.reportDir);
  const restarted = fh.hosts?.find((x) => x.host === heavy.name)?.restarted ?? [];
  if (fh.summary?.clean !== 1 || !restarted.includes(HEAVY_UNIT))
    die(`rolling-restart.yml (heavy): ${JSON.stringify(fh)}`);
  // What the controller keeps per phase and batch (hosts/PHASE.FIRST-HOST.jsonl).
  const saved = new Map<string, number>();
  const savedDir = join(ch.reportDir, 'hosts');
  for (const n of readdirSync(savedDir)) saved.set(n, statSync(join(savedDir, n)).size);
  ctx.clearEvents((l) => l.includes('heavy'));
  const batch = await ctx.hyperfine('playbooks-heavy', legsC, {
    runs: o.playRuns,
    warmup: 0,
    env: ctx.ansibleEnv(),
  });
  const saved1 = (phase: string) => {
    const lines = readFileSync(join(savedDir, `${phase}.${heavy.name}.jsonl`), 'utf8')
      .split('\n')
      .filter((l) => l !== '');
    if (lines.length !== 1) die(`${phase}.${heavy.name}.jsonl: ${lines.length} lines, expected 1`);
    return JSON.parse(lines[0] ?? '') as Record<string, unknown>;
  };
  // The playbook no longer scans again after the restarts (the module verifies): a verify
  // result is the restart result without its restart part, the scan the module made after it.
  const result = (phase: string) => {
    if (phase !== '3-verify') return saved1(phase);
    const { restart: _, ...scanned } = saved1('2-restart');
    return { ...scanned, state: 'scanned', changed: false };
  };
  return {
    heavyProcs,
    spawnS,
    perProcKiB,
    inHost,
    sizes,
    heavyModuleBytes,
    adhoc: adhocHeavy,
    batch,
    batchName,
    baseName,
    stats: ctx.stats('rolling-heavy', 'Restart - batch'),
    baseStats: ctx.stats('baseline-heavy', 'Baseline'),
    saved,
    savedDir,
    result,
  };
}
