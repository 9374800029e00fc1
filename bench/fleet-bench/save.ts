// bench/fleet-bench/save.ts - the controller's save of one batch at scale: tasks/save-result.yml
// alone (ansible/save.yml) over synthetic hosts that are never contacted, each holding the heavy
// host's result, in one batch of 1, FORKS and FLEET hosts (the gather phase saves all hosts at
// once; a restart batch, its hosts), or its (small) verify result; then `afterpatch report` over
// FLEET hosts' results saved that way, as the playbook runs it at the end of a FLEET-host run.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { childEnv, die, runHost } from '../lib/bench.ts';
import type { HyperfineResult } from '../lib/hyperfine.ts';
import { BENCH_ANSIBLE, type Ctx, type Leg } from './context.ts';
import { serialBatches } from './events.ts';
import type { HeavyResults } from './heavy.ts';

export interface SaveRun {
  label: string;
  phase: string;
  n: number;
  argv: string[];
  file: string;
}

export interface SaveResults {
  saves: SaveRun[];
  midN: number;
  /** The save task's time (median over the runs) for one batch of n hosts saving phase. */
  time(phase: string, n: number): number;
  gatherFileBytes: number;
  report: Map<string, HyperfineResult>;
  reportSmall: string;
  reportBig: string;
}

export async function saveLegs(
  ctx: Ctx,
  heavy: HeavyResults,
  o: { fleet: number; forks: number; runs: number; warmup: number; playRuns: number },
): Promise<SaveResults> {
  const { fleet } = o;
  const synth = (i: number) => `host${String(i + 1).padStart(5, '0')}`;
  const saveInventory = join(ctx.dir, 'save-inventory.ini');
  writeFileSync(
    saveInventory,
    `[synthetic]\n${Array.from({ length: fleet }, (_, i) => `${synth(i)}\n`).join('')}`,
  );
  const resultVars = new Map<string, string>();
  for (const phase of ['1-gather', '2-restart', '3-verify']) {
    // An extra variable, the same for every host: the save reads it through hostvars as it
    // reads a registered result (checked by hand: a result registered per host, marked unsafe,
    // saved within 5 % of the same time).
    const p = join(ctx.dir, `result-${phase}.json`);
    writeFileSync(p, JSON.stringify({ bench_result: heavy.result(phase) }));
    resultVars.set(phase, p);
  }
  /** One batch of n synthetic hosts saving `phase`; `file` is what the save writes. */
  const saveRun = (phase: string, n: number): SaveRun => {
    const label = `save-${phase}-${n}`;
    const reportDir = join(ctx.dir, `report-${label}`);
    mkdirSync(join(reportDir, 'hosts'), { recursive: true });
    const vars = join(ctx.dir, `vars-${label}.json`);
    writeFileSync(
      vars,
      JSON.stringify({
        bench_hosts: `all[0:${n - 1}]`,
        afterpatch_phase: phase,
        afterpatch_report_dir: reportDir,
      }),
    );
    const result = resultVars.get(phase) ?? die(`no result for ${phase}`);
    return {
      label,
      phase,
      n,
      argv: ctx.withEvents(label, [
        'ansible-playbook',
        '-i',
        saveInventory,
        join(BENCH_ANSIBLE, 'save.yml'),
        '-e',
        `@${result}`,
        '-e',
        `@${vars}`,
      ]),
      file: join(reportDir, 'hosts', `${phase}.${synth(0)}.jsonl`),
    };
  };
  const jsonLines = (file: string) =>
    readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l !== '');
  /** The save wrote one line per host, in order, each the heavy host's result renamed. */
  const checkSaved = (s: SaveRun) => {
    const lines = jsonLines(s.file);
    const want = JSON.stringify({ ...heavy.result(s.phase), host: '' });
    if (
      lines.length !== s.n ||
      lines.some((l, i) => {
        const doc = JSON.parse(l) as Record<string, unknown>;
        return doc.host !== synth(i) || JSON.stringify({ ...doc, host: '' }) !== want;
      })
    )
      die(`${s.label}: ${s.file} does not hold ${s.n} hosts' results (${lines.length} lines)`);
    return lines;
  };
  const midN = Math.min(o.forks, fleet);
  const saves = [
    ...[...new Set([1, midN, fleet])].map((n) => saveRun('1-gather', n)),
    ...[...new Set([1, fleet])].map((n) => saveRun('3-verify', n)),
  ];
  const saveName = (s: SaveRun) => `save ${s.phase}, ${s.n} host${s.n === 1 ? '' : 's'}`;
  await ctx.hyperfine(
    'save',
    saves.map((s) => ({ name: saveName(s), argv: s.argv })),
    { runs: o.playRuns, warmup: 0, env: ctx.ansibleEnv() },
  );
  for (const s of saves) checkSaved(s);
  const time = (phase: string, n: number) =>
    ctx.stats(`save-${phase}-${n}`, 'Save - one batch').tasks.get(`Save the results of ${phase}`) ??
    die(`no save task timed for ${phase}, ${n} hosts`);

  // The report at fleet scale: the gather phase's file (FLEET hosts, from the leg above) and
  // FLEET/2 hosts' restart results, in the files of `serial: [1, '1%']` batches.
  const big = join(ctx.dir, 'report-fleet');
  mkdirSync(big);
  const gatherAll = saves.find((s) => s.phase === '1-gather' && s.n === fleet);
  if (gatherAll === undefined) die('no gather save of all hosts');
  copyFileSync(gatherAll.file, join(big, `1-gather.${synth(0)}.jsonl`));
  const restartAll = saveRun('2-restart', Math.ceil(fleet / 2));
  const rr = await ctx.ansible(restartAll.argv);
  if (rr.code !== 0) die(`${restartAll.label}: exit ${rr.code}\n${ctx.show(rr)}`);
  const restartLines = checkSaved(restartAll);
  let first = 0;
  const restartBatches = serialBatches(restartAll.n, [1, Math.max(1, Math.floor(fleet / 100))]);
  for (const size of restartBatches) {
    const batch = restartLines.slice(first, first + size);
    writeFileSync(join(big, `2-restart.${synth(first)}.jsonl`), `${batch.join('\n')}\n`);
    first += size;
  }
  const reportLeg = (files: string) =>
    // report exits 1 when a host needs work: that is the expected answer here.
    ['sh', '-c', `${process.execPath} ${ctx.cli} report --json ${files} > /dev/null; [ $? -le 1 ]`];
  const reportSmall = `report --json, 1 host (${heavy.saved.size} files)`;
  const reportBig = `report --json, ${fleet} hosts (${1 + restartBatches.length} files: gather, ${restartBatches.length} restart batches)`;
  const legs: Leg[] = [
    { name: reportSmall, argv: reportLeg(`${heavy.savedDir}/*.jsonl`) },
    { name: reportBig, argv: reportLeg(`${big}/*.jsonl`) },
  ];
  for (const l of legs) {
    const [cmd, ...args] = l.argv;
    const r = await runHost(cmd ?? '', args);
    if (r.code !== 0) die(`${l.name}: exit ${r.code}: ${r.stderr}`);
  }
  const report = await ctx.hyperfine('report', legs, {
    runs: o.runs,
    warmup: o.warmup,
    env: childEnv(),
  });
  return {
    saves,
    midN,
    time,
    gatherFileBytes: readFileSync(gatherAll.file).length,
    report,
    reportSmall,
    reportBig,
  };
}
