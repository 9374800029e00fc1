// bench/fleet-bench/adhoc.ts - the module's round trip through Ansible, ad hoc: `raw -a true`,
// `ping` and the modules (`afterpatch`, Python; `afterpatch_node`, Node.js) against one host and
// all N at forks 1 (per-host serial cost = difference / (N - 1)), all N at forks N, and `raw`
// with SSH connection sharing off (the cost of a new connection); the modules' answers checked
// (`-t`), the SSH commands per task counted (`-vvv`).
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { RigHost } from '../../harness/rig.ts';
import { die, log } from '../lib/bench.ts';
import type { HyperfineResult } from '../lib/hyperfine.ts';
import { type Ctx, HOST_CLI, type Leg, LIBRARY } from './context.ts';

export type AdhocModule = 'raw' | 'ping' | 'afterpatch' | 'afterpatch_node';

export interface ModuleResult {
  failed?: boolean;
  needs_restart?: boolean;
  msg?: string;
  scan?: { format?: string; summary?: { processes?: number } };
}

/** `ansible PATTERN -f FORKS -m MODULE …` for the rig. */
export function adhoc(pattern: string, forks: number, mod: AdhocModule): string[] {
  const a = ['ansible', pattern, '-f', String(forks)];
  if (mod === 'raw') return [...a, '-m', 'raw', '-a', 'true'];
  if (mod === 'ping') return [...a, '-m', 'ping'];
  return [...a, '-M', LIBRARY, '-m', mod, '-a', `state=scanned afterpatch=${HOST_CLI}`];
}

/** The module's answer per host as `ansible -t` saves it (= what the controller receives). */
export async function moduleTree(
  ctx: Ctx,
  pattern: string,
  label: string,
  mod: AdhocModule = 'afterpatch',
): Promise<Map<string, { bytes: number; doc: ModuleResult }>> {
  const d = join(ctx.dir, `tree-${label}`);
  const r = await ctx.ansible([...adhoc(pattern, ctx.hosts.length, mod), '-t', d]);
  if (r.code !== 0) die(`module (${label}): exit ${r.code}\n${ctx.show(r)}`);
  const out = new Map<string, { bytes: number; doc: ModuleResult }>();
  for (const h of ctx.hosts) {
    const p = join(d, h.name);
    if (!existsSync(p)) continue;
    const doc = JSON.parse(readFileSync(p, 'utf8')) as ModuleResult;
    if (doc.failed || doc.needs_restart !== true || (doc.scan?.summary?.processes ?? 0) < 1)
      die(`module (${label}) on ${h.name}: ${JSON.stringify(doc).slice(0, 2000)}`);
    out.set(h.name, { bytes: statSync(p).size, doc });
  }
  return out;
}

export interface AdhocResults {
  hf: Map<string, HyperfineResult>;
  ops: Record<AdhocModule, { total: number; transfers: number }>;
  treeLight: Map<string, { bytes: number; doc: ModuleResult }>;
}

export async function adhocLegs(
  ctx: Ctx,
  light: RigHost,
  o: { runs: number; warmup: number },
): Promise<AdhocResults> {
  const N = ctx.hosts.length;
  // No connection sharing: every task opens a fresh SSH connection (ansible adds ControlPath
  // only when ssh_args has ControlPersist).
  const coldSsh =
    'ANSIBLE_SSH_ARGS=-o ControlMaster=no -o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no -o LogLevel=ERROR';
  const cold = (argv: string[]) => ['env', coldSsh, ...argv];
  const legs: Leg[] = [
    { name: 'raw true, 1 host, forks 1', argv: adhoc(light.name, 1, 'raw') },
    { name: `raw true, ${N} hosts, forks 1`, argv: adhoc('all', 1, 'raw') },
    { name: 'raw true no ControlPersist, 1 host', argv: cold(adhoc(light.name, 1, 'raw')) },
    { name: `raw true no ControlPersist, ${N} hosts`, argv: cold(adhoc('all', 1, 'raw')) },
    { name: 'ping, 1 host, forks 1', argv: adhoc(light.name, 1, 'ping') },
    { name: `ping, ${N} hosts, forks 1`, argv: adhoc('all', 1, 'ping') },
    { name: 'afterpatch, 1 host, forks 1', argv: adhoc(light.name, 1, 'afterpatch') },
    { name: `afterpatch, ${N} hosts, forks 1`, argv: adhoc('all', 1, 'afterpatch') },
    { name: 'afterpatch_node, 1 host, forks 1', argv: adhoc(light.name, 1, 'afterpatch_node') },
    { name: `afterpatch_node, ${N} hosts, forks 1`, argv: adhoc('all', 1, 'afterpatch_node') },
    { name: `raw true, ${N} hosts, forks ${N}`, argv: adhoc('all', N, 'raw') },
    { name: `ping, ${N} hosts, forks ${N}`, argv: adhoc('all', N, 'ping') },
    { name: `afterpatch, ${N} hosts, forks ${N}`, argv: adhoc('all', N, 'afterpatch') },
    { name: `afterpatch_node, ${N} hosts, forks ${N}`, argv: adhoc('all', N, 'afterpatch_node') },
  ];
  // Checked: the modules' answers (tree), every leg's exit status (hyperfine, no -i).
  const treeLight = await moduleTree(ctx, 'all', 'light');
  await moduleTree(ctx, 'all', 'light-node', 'afterpatch_node');
  // How many SSH commands (ssh, sftp) one task costs per host.
  const sshOps = async (mod: AdhocModule) => {
    const r = await ctx.ansible([...adhoc(light.name, 1, mod), '-vvv']);
    if (r.code !== 0) die(`-vvv ${mod}: exit ${r.code}\n${ctx.show(r)}`);
    const lines = r.stdout.split('\n').filter((l) => l.includes('SSH: EXEC'));
    return {
      total: lines.length,
      transfers: lines.filter((l) => /SSH: EXEC (sftp|scp)/.test(l)).length,
    };
  };
  const ops = {
    raw: await sshOps('raw'),
    ping: await sshOps('ping'),
    afterpatch: await sshOps('afterpatch'),
    afterpatch_node: await sshOps('afterpatch_node'),
  };
  log(`SSH commands per host and task: ${JSON.stringify(ops)}`);
  const hf = await ctx.hyperfine('adhoc', legs, { ...o, env: ctx.ansibleEnv() });
  return { hf, ops, treeLight };
}
