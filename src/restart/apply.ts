// Carries out a plan through systemctl, with bounded concurrency, then verifies each unit.
import type { ActionLog } from '../log.ts';
import type { NoiseConfig } from '../noise.ts';
import { ProcReader } from '../procfs/reader.ts';
import { cgroupPids, hostCgroupMount } from '../systemd/cgroupfs.ts';
import type { Manager, SystemdClient } from '../systemd/client.ts';
import { isActionable, type PlanEntry } from './plan.ts';
import type { Outcome } from './state.ts';
import { staleAmong } from './verify.ts';

export interface UnitResult {
  key: string;
  unit: string | null;
  action: PlanEntry['action'];
  outcome: Outcome;
  durationMs: number;
  /** still-stale: the PIDs (and files) that kept old code. */
  stalePids: { pid: number; files: string[] }[];
  /** failed: the unit's state after the action, systemctl's message and the last journal lines. */
  activeState: string | null;
  message: string | null;
  journal: string[];
}

export interface ApplyOptions {
  client: SystemdClient;
  log: ActionLog;
  jobs: number;
  timeoutMs: number;
  noise: NoiseConfig;
  includeData: boolean;
  procRoot?: string;
  /** Where the unit cgroups are read (default: the mounted systemd hierarchy). */
  cgroupMount?: string | null;
}

/** PID 1 first and alone (everything else talks to it), then units in parallel. */
export async function applyPlan(
  plan: readonly PlanEntry[],
  o: ApplyOptions,
): Promise<UnitResult[]> {
  const todo = plan.filter(isActionable);
  const first = todo.filter((e) => e.action === 'daemon-reexec');
  const rest = todo.filter((e) => e.action !== 'daemon-reexec');
  const results: UnitResult[] = [];
  for (const e of first) results.push(await applyOne(e, o));
  results.push(...(await pool(rest, Math.max(1, o.jobs), (e) => applyOne(e, o))));
  return results;
}

async function pool<T, R>(
  items: readonly T[],
  size: number,
  fn: (t: T) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) out[i] = await fn(items[i] as T);
  };
  await Promise.all(Array.from({ length: Math.min(size, items.length) }, worker));
  return out;
}

const VERB = {
  restart: 'restart',
  reload: 'reload',
  'daemon-reexec': 'daemon-reexec',
  'reexec-user-manager': 'daemon-reexec',
} as const;

async function applyOne(e: PlanEntry, o: ApplyOptions): Promise<UnitResult> {
  const t0 = performance.now();
  const manager = e.manager ?? { type: 'system' };
  const name = e.unit ?? 'systemd (PID 1)';
  const verb = VERB[e.action as keyof typeof VERB];
  const target = e.action === 'daemon-reexec' || e.action === 'reexec-user-manager' ? null : e.unit;
  o.log.info(
    `${verb} ${name}${manager.type === 'user' ? ` (uid ${manager.uid})` : ''}: ${e.reason}`,
  );
  const res = await o.client.act(manager, verb, target, o.timeoutMs);
  const base = {
    key: e.key,
    unit: e.unit,
    action: e.action,
    stalePids: [],
    activeState: null,
    message: res.message || null,
    journal: [],
  };
  const done = (outcome: Outcome, extra: Partial<UnitResult> = {}): UnitResult => {
    const r = { ...base, outcome, durationMs: Math.round(performance.now() - t0), ...extra };
    const text = `${name}: ${outcome}${r.stalePids.length ? ` (PID ${r.stalePids.map((p) => p.pid).join(', ')})` : ''}`;
    (outcome === 'verified' ? o.log.info : o.log.warn)(text);
    return r;
  };
  if (res.timedOut) return done('timeout', { message: `no answer within ${o.timeoutMs / 1000} s` });
  // The user manager is a system unit (user@UID.service); PID 1 has no unit to ask about.
  const showAs: Manager = e.action === 'reexec-user-manager' ? { type: 'system' } : manager;
  const props =
    e.unit === null || e.action === 'daemon-reexec'
      ? null
      : (await o.client.show(showAs, [e.unit])).get(e.unit);
  const active = props?.ActiveState ?? null;
  if (
    !res.ok ||
    (props && active !== 'active' && active !== 'reloading' && active !== 'activating')
  ) {
    const journal = props && e.unit ? await o.client.journal(showAs, e.unit, 10) : [];
    return done('failed', { activeState: active, journal });
  }
  const stale = await verifyUnit(e, manager, props?.ControlGroup ?? null, o);
  return stale.length > 0
    ? done('still-stale', { stalePids: stale, activeState: active })
    : done('verified', { activeState: active });
}

/** Re-reads the unit's processes and their maps; retries briefly, as a just-forked child may not have exec'd yet. */
async function verifyUnit(
  e: PlanEntry,
  manager: Manager,
  controlGroup: string | null,
  o: ApplyOptions,
): Promise<{ pid: number; files: string[] }[]> {
  const reader = new ProcReader(o.procRoot ?? '/proc');
  const mount = o.cgroupMount === undefined ? hostCgroupMount() : o.cgroupMount;
  const pidsNow = (): number[] => {
    if (e.action === 'daemon-reexec') return [1];
    const cg =
      e.action === 'reexec-user-manager' && manager.type === 'user' && controlGroup
        ? `${controlGroup}/init.scope`
        : controlGroup;
    return mount && cg ? cgroupPids(mount, cg) : [];
  };
  let stale = staleAmong(reader, pidsNow(), o.noise, o.includeData).stale;
  for (let i = 0; i < 5 && stale.length > 0; i++) {
    await new Promise((r) => setTimeout(r, 200));
    stale = staleAmong(reader, pidsNow(), o.noise, o.includeData).stale;
  }
  return stale;
}
