// Carries out a plan through systemctl — a batch of units per call, as systemd runs their jobs in
// parallel — then verifies each unit from its cgroup (docs/restart.md).
import type { ActionLog } from '../log.ts';
import type { NoiseConfig } from '../noise.ts';
import { ProcReader } from '../procfs/reader.ts';
import { cgroupPids, hostCgroupMount } from '../systemd/cgroupfs.ts';
import type { Manager, SystemdClient } from '../systemd/client.ts';
import type { UnitProperties } from '../systemd/properties.ts';
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
  /** The unit's state after the action; for failures also systemctl's message and the journal. */
  activeState: string | null;
  message: string | null;
  journal: string[];
}

export interface ApplyOptions {
  client: SystemdClient;
  log: ActionLog;
  /** Units acted on in one systemctl call (one batch at a time). */
  jobs: number;
  timeoutMs: number;
  noise: NoiseConfig;
  includeData: boolean;
  procRoot?: string;
  /** Where the unit cgroups are read (default: the mounted systemd hierarchy). */
  cgroupMount?: string | null;
}

const SYSTEM: Manager = { type: 'system' };

const VERB = {
  restart: 'restart',
  reload: 'reload',
  'daemon-reexec': 'daemon-reexec',
  'reexec-user-manager': 'daemon-reexec',
} as const;

/** PID 1 first and alone (everything else talks to it), then batches of units per manager and verb. */
export async function applyPlan(
  plan: readonly PlanEntry[],
  o: ApplyOptions,
): Promise<UnitResult[]> {
  const todo = plan.filter(isActionable);
  const batches: PlanEntry[][] = todo.filter((e) => e.action === 'daemon-reexec').map((e) => [e]);
  const byKind = new Map<string, PlanEntry[]>();
  for (const e of todo) {
    if (e.action === 'daemon-reexec') continue;
    if (e.action === 'reexec-user-manager') {
      batches.push([e]);
      continue;
    }
    const m = e.manager ?? SYSTEM;
    const key = `${m.type === 'user' ? m.uid : 'system'} ${e.action}`;
    const list = byKind.get(key) ?? [];
    list.push(e);
    byKind.set(key, list);
  }
  const size = Math.max(1, o.jobs);
  for (const list of byKind.values()) {
    for (let i = 0; i < list.length; i += size) batches.push(list.slice(i, i + size));
  }
  const results: UnitResult[] = [];
  for (const batch of batches) results.push(...(await applyBatch(batch, o)));
  return results;
}

function label(e: PlanEntry): string {
  return e.unit ?? 'systemd (PID 1)';
}

async function applyBatch(batch: readonly PlanEntry[], o: ApplyOptions): Promise<UnitResult[]> {
  const t0 = performance.now();
  const first = batch[0] as PlanEntry;
  const manager = first.manager ?? SYSTEM;
  const verb = VERB[first.action as keyof typeof VERB];
  const who = manager.type === 'user' ? ` (uid ${manager.uid})` : '';
  for (const e of batch) o.log.info(`${verb} ${label(e)}${who}: ${e.reason}`);
  const targets = verb === 'daemon-reexec' ? null : batch.map((e) => e.unit ?? '');
  const res = await o.client.act(manager, verb, targets, o.timeoutMs);

  // The user manager is a system unit (user@UID.service); PID 1 has no unit to ask about.
  const showAs: Manager = first.action === 'reexec-user-manager' ? SYSTEM : manager;
  const named = batch.flatMap((e) =>
    e.unit !== null && e.action !== 'daemon-reexec' ? [e.unit] : [],
  );
  const props = await unitStates(batch, named, showAs, res.ok, o.client);

  const results = new Map<PlanEntry, UnitResult>();
  const toVerify: { e: PlanEntry; controlGroup: string | null; active: string | null }[] = [];
  for (const e of batch) {
    const p = e.unit === null ? undefined : props.get(e.unit);
    const active = p?.ActiveState ?? null;
    // systemctl names the units whose jobs failed; with one unit any failure is its own.
    const mine = res.messages.filter(
      (m) => batch.length === 1 || (e.unit !== null && m.includes(e.unit)),
    );
    const base = {
      key: e.key,
      unit: e.unit,
      action: e.action,
      stalePids: [],
      activeState: active,
      journal: [],
    };
    if (res.timedOut && (active === null || active === 'activating' || active === 'deactivating')) {
      results.set(e, {
        ...base,
        outcome: 'timeout',
        durationMs: 0,
        message: `no answer within ${o.timeoutMs / 1000} s`,
      });
    } else if (
      (!res.ok && mine.length > 0) ||
      (p && active !== 'active' && active !== 'reloading')
    ) {
      const journal = p && e.unit ? await o.client.journal(showAs, e.unit, 10) : [];
      results.set(e, {
        ...base,
        outcome: 'failed',
        durationMs: 0,
        message: mine.join(' ') || null,
        journal,
      });
    } else {
      toVerify.push({ e, controlGroup: p?.ControlGroup || e.controlGroup, active });
    }
  }
  const stale = await verifyUnits(toVerify, manager, o);
  for (const { e, active } of toVerify) {
    const pids = stale.get(e) ?? [];
    results.set(e, {
      key: e.key,
      unit: e.unit,
      action: e.action,
      outcome: pids.length > 0 ? 'still-stale' : 'verified',
      durationMs: 0,
      stalePids: pids,
      activeState: active,
      message: null,
      journal: [],
    });
  }
  const durationMs = Math.round(performance.now() - t0);
  return batch.map((e) => {
    const r = { ...(results.get(e) as UnitResult), durationMs };
    const pids = r.stalePids.length ? ` (PID ${r.stalePids.map((p) => p.pid).join(', ')})` : '';
    (r.outcome === 'verified' ? o.log.info : o.log.warn)(`${label(e)}: ${r.outcome}${pids}`);
    return r;
  });
}

type StalePids = { pid: number; files: string[] }[];

/**
 * Re-reads each unit's processes (its cgroup) and their maps; retries the stale ones for up to a
 * second, as a just-forked child may not have exec'd its new program yet.
 */
async function verifyUnits(
  units: readonly { e: PlanEntry; controlGroup: string | null }[],
  manager: Manager,
  o: ApplyOptions,
): Promise<Map<PlanEntry, StalePids>> {
  const reader = new ProcReader(o.procRoot ?? '/proc');
  const mount = o.cgroupMount === undefined ? hostCgroupMount() : o.cgroupMount;
  const pidsOf = (e: PlanEntry, controlGroup: string | null): number[] => {
    if (e.action === 'daemon-reexec') return [1];
    const cg =
      e.action === 'reexec-user-manager' && manager.type === 'user' && controlGroup
        ? `${controlGroup}/init.scope`
        : controlGroup;
    return mount && cg ? cgroupPids(mount, cg) : [];
  };
  const check = (list: typeof units) => {
    const out = new Map<PlanEntry, StalePids>();
    for (const { e, controlGroup } of list) {
      const s = staleAmong(reader, pidsOf(e, controlGroup), o.noise, o.includeData).stale;
      if (s.length > 0) out.set(e, s);
    }
    return out;
  };
  let stale = check(units);
  for (let i = 0; i < 5 && stale.size > 0; i++) {
    await new Promise((r) => setTimeout(r, 200));
    stale = check(units.filter((u) => stale.has(u.e)));
  }
  return stale;
}

/**
 * The units' state after the action. When systemctl reported success, one `is-active` call
 * (~0.1 ms a unit) answers for units whose cgroup the plan already knows, and the full
 * `systemctl show` (~0.9 ms a unit: it fetches every property) is paid only for the others;
 * after a failure every unit gets the full properties, which the report of a failure needs.
 */
async function unitStates(
  batch: readonly PlanEntry[],
  named: readonly string[],
  manager: Manager,
  ok: boolean,
  client: SystemdClient,
): Promise<Map<string, UnitProperties>> {
  if (named.length === 0) return new Map();
  const cheap = ok && batch.every((e) => e.controlGroup !== null);
  if (!cheap) return client.show(manager, named);
  const states = await client.activeStates(manager, named);
  const out = new Map<string, UnitProperties>();
  const unsure = named.filter((u) => {
    const state = states.get(u);
    if (state !== 'active' && state !== 'reloading') return true;
    out.set(u, { ActiveState: state });
    return false;
  });
  for (const [u, p] of await client.show(manager, unsure)) out.set(u, p);
  return out;
}
