// bench/fleet-bench/playbooks.ts - rolling-restart.yml over all hosts, serial 1, one stale unit
// per host, against the bare playbook (`systemctl restart` per host, serial 1), both checked once
// first; and rolling-restart.yml with nothing to restart over all hosts and over one host (the
// gather + verify cost per host is their difference). The callback times every batch.
import { join } from 'node:path';
import type { RigHost } from '../../harness/rig.ts';
import { die, log } from '../lib/bench.ts';
import type { HyperfineResult } from '../lib/hyperfine.ts';
import { writeScript } from '../lib/scripts.ts';
import { baseline, type Ctx, type Leg, rolling, UNIT } from './context.ts';
import type { BatchStats } from './events.ts';

export interface PlaybookResults {
  hf: Map<string, HyperfineResult>;
  names: { roll: string; base: string; clean: string; clean1: string };
  roll: BatchStats;
  base: BatchStats;
  clean: BatchStats;
  clean1: BatchStats;
}

export async function playbookLegs(
  ctx: Ctx,
  light: RigHost,
  o: { playRuns: number },
): Promise<PlaybookResults> {
  const N = ctx.hosts.length;
  // The "nothing to restart" legs start from clean hosts: restart the unit everywhere first.
  const prepareClean = join(ctx.dir, 'prepare-clean');
  writeScript(
    prepareClean,
    `#!/bin/sh\n# bench/fleet --prepare: restart ${UNIT} on every rig host (nothing stale left)\nset -e\n` +
      ctx.hosts.map((h) => `${ctx.inHost(h)} systemctl restart ${UNIT}\n`).join(''),
  );
  const c1 = rolling(ctx, 'rolling');
  const c3 = rolling(ctx, 'rolling-clean');
  const c4 = rolling(ctx, 'rolling-clean-1', { afterpatch_hosts: light.name });
  const names = {
    roll: `rolling-restart.yml, ${N} hosts, serial 1`,
    base: `baseline playbook (systemctl restart), ${N} hosts, serial 1`,
    clean: `rolling-restart.yml, nothing to restart, ${N} hosts`,
    clean1: 'rolling-restart.yml, nothing to restart, 1 host',
  };
  const base = baseline(ctx, 'baseline', 'all', [UNIT]);
  const legs: Leg[] = [
    { name: names.roll, argv: c1.argv, prepare: ctx.prepareLight },
    { name: names.base, argv: base, prepare: ctx.prepareLight },
    { name: names.clean, argv: c3.argv, prepare: prepareClean },
    { name: names.clean1, argv: c4.argv, prepare: prepareClean },
  ];
  log('checking the playbooks once (untimed)');
  await ctx.prepareNow('before the rolling restart check');
  let before = await ctx.mainPids();
  const rc1 = await ctx.ansible(c1.argv);
  if (rc1.code !== 0) die(`rolling-restart.yml failed:\n${ctx.show(rc1)}`);
  let after = await ctx.mainPids();
  const f = ctx.fleetOf(c1.reportDir);
  if (
    f.summary?.clean !== N ||
    ctx.hosts.some((h) => f.hosts?.find((x) => x.host === h.name)?.restarted?.[0] !== UNIT) ||
    after.some((p, i) => p === before[i])
  )
    die(
      `rolling-restart.yml: expected ${N} clean hosts, ${UNIT} restarted on each: ${JSON.stringify(f)}`,
    );
  await ctx.prepareNow('before the baseline check');
  before = await ctx.mainPids();
  const rb = await ctx.ansible(base);
  if (rb.code !== 0) die(`baseline playbook failed:\n${ctx.show(rb)}`);
  after = await ctx.mainPids();
  if (after.some((p, i) => p === before[i])) die('baseline playbook: a unit was not restarted');
  const env = ctx.ansibleEnv();
  // The timed runs' events only.
  ctx.clearEvents();
  const hf = await ctx.hyperfine('playbooks', legs.slice(0, 2), {
    runs: o.playRuns,
    warmup: 0,
    env,
  });
  // The per-host gather + verify cost is a difference of two runs: twice the runs. Checked
  // after the timing (exit status by hyperfine; the report of the last run here).
  const hfClean = await ctx.hyperfine('playbooks-clean', legs.slice(2), {
    runs: 2 * o.playRuns,
    warmup: 0,
    env,
  });
  for (const [k, v] of hfClean) hf.set(k, v);
  const fc = ctx.fleetOf(c3.reportDir);
  if (fc.summary?.clean !== N || fc.hosts?.some((h) => (h.restarted ?? []).length > 0))
    die(`nothing to restart: expected ${N} clean hosts, nothing restarted: ${JSON.stringify(fc)}`);
  return {
    hf,
    names,
    roll: ctx.stats('rolling', 'Restart - batch'),
    base: ctx.stats('baseline', 'Baseline'),
    clean: ctx.stats('rolling-clean', 'Restart - batch'),
    clean1: ctx.stats('rolling-clean-1', 'Restart - batch'),
  };
}
