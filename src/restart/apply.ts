// Carries out a plan through systemctl — a batch of units per call, as systemd runs their jobs in
// parallel — then verifies each unit from its cgroup (docs/restart.md).

import { ProcReader } from '../procfs/reader.ts';
import type { NoiseConfig } from '../scan/noise.ts';
import { cgroupPids, hostCgroupMount } from '../systemd/cgroupfs.ts';
import type { ActionResult, Manager, SystemdClient } from '../systemd/client.ts';
import type { UnitProperties } from '../systemd/properties.ts';
import { firstLook, judgeBatch, toRescan, type Verdict } from './judge.ts';
import type { ActionLog } from './log.ts';
import { isActionable, type PlanEntry } from './plan.ts';
import type { Outcome } from './state.ts';
import { phase } from './timing.ts';
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
  procRoot?: string | undefined;
  /**
   * Where the unit cgroups are read. Default: the host's mounted systemd hierarchy, or none under
   * a --proc-root other than /proc (those processes are not the host's: unit results are then
   * `unverified`).
   */
  cgroupMount?: string | null | undefined;
  /** Asked before each batch: a reason (e.g. "SIGTERM") stops before the next batch starts. */
  stopRequested?: () => string | null;
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
  // A batch of restarts or reloads is checked (states, cgroups, maps) while systemd already runs
  // the next batch's jobs: reading only, of other units, so --jobs still bounds what is acted on
  // at once. After a re-execution nothing overlaps: everything else talks to that manager.
  // An error (systemctl or the bus unusable, /proc unreadable) never loses what was already done:
  // the batch it hit is reported as failed or unverified, with the error, and no further batch
  // starts.
  const results: UnitResult[][] = [];
  let checking: Promise<void> = Promise.resolve();
  let failed = false;
  for (const batch of batches) {
    if (o.stopRequested?.() || failed) break;
    const i = results.push([]) - 1;
    let check: () => Promise<UnitResult[]>;
    try {
      check = await actOn(batch, o);
    } catch (e) {
      failed = true;
      results[i] = batch.map((u) => errorResult(u, 'failed', `could not ${u.action}`, e, o));
      break;
    }
    const checked = check().then(
      (r) => {
        results[i] = r;
      },
      (e: unknown) => {
        failed = true;
        results[i] = batch.map((u) => errorResult(u, 'unverified', 'could not check', e, o));
      },
    );
    checking = Promise.all([checking, checked]).then(() => {});
    if (batch.some((e) => e.action === 'daemon-reexec' || e.action === 'reexec-user-manager')) {
      await checking;
    }
  }
  await checking;
  return results.flat();
}

/** The result of a unit whose action or check threw: counted as failed, with the error. */
function errorResult(
  e: PlanEntry,
  outcome: 'failed' | 'unverified',
  what: string,
  error: unknown,
  o: ApplyOptions,
): UnitResult {
  const message = `${what}: ${error instanceof Error ? error.message : String(error)}`;
  o.log.warn(`${entryLabel(e)}: ${outcome}: ${message}`);
  return {
    key: e.key,
    unit: e.unit,
    action: e.action,
    outcome,
    durationMs: 0,
    stalePids: [],
    activeState: null,
    message,
    journal: [],
  };
}

/** "systemd (PID 1)" only for PID 1 itself; other processes of init.scope are named by PID. */
export function entryLabel(e: Pick<PlanEntry, 'unit' | 'owner' | 'pids'>): string {
  if (e.owner.type !== 'init') return e.unit ?? 'systemd (PID 1)';
  if (e.pids.every((p) => p === 1)) return 'systemd (PID 1)';
  const more = e.pids.length > 4 ? ` +${e.pids.length - 4}` : '';
  return `init.scope (PID ${e.pids.slice(0, 4).join(', ')}${more})`;
}

/** Acts on one batch; resolves when systemctl has returned, with the check of the outcomes. */
async function actOn(
  batch: readonly PlanEntry[],
  o: ApplyOptions,
): Promise<() => Promise<UnitResult[]>> {
  const t0 = performance.now();
  const first = batch[0] as PlanEntry;
  const manager = first.manager ?? SYSTEM;
  const verb = VERB[first.action as keyof typeof VERB];
  const who = manager.type === 'user' ? ` (uid ${manager.uid})` : '';
  for (const e of batch) o.log.info(`${verb} ${entryLabel(e)}${who}: ${e.reason}`);
  const targets = verb === 'daemon-reexec' ? null : batch.map((e) => e.unit ?? '');
  const res = await o.client.act(manager, verb, targets, o.timeoutMs);
  phase(`batch ${verb} ${batch.length}`);
  return () => checkBatch(batch, res, t0, o);
}

async function checkBatch(
  batch: readonly PlanEntry[],
  res: ActionResult,
  t0: number,
  o: ApplyOptions,
): Promise<UnitResult[]> {
  const first = batch[0] as PlanEntry;
  const manager = first.manager ?? SYSTEM;

  // The user manager is a system unit (user@UID.service); PID 1 has no unit to ask about.
  const showAs: Manager = first.action === 'reexec-user-manager' ? SYSTEM : manager;
  const named = batch.flatMap((e) =>
    e.unit !== null && e.action !== 'daemon-reexec' ? [e.unit] : [],
  );
  const props = await unitStates(batch, named, showAs, res.ok, o.client);
  phase('batch states');

  const toVerify = batch.flatMap((e) => {
    const look = firstLook(e, batch.length, res, props, o.timeoutMs);
    return look.outcome === 'rescan' ? [{ e, controlGroup: look.controlGroup }] : [];
  });
  const judged = judgeBatch(
    batch,
    res,
    props,
    await rescanUnits(toVerify, manager, o),
    o.timeoutMs,
  );
  phase('batch verify');
  const results = new Map<PlanEntry, UnitResult>();
  for (const [e, { wantsJournal, ...j }] of judged) {
    const journal = wantsJournal && e.unit ? await o.client.journal(showAs, e.unit, 10) : [];
    results.set(e, { key: e.key, unit: e.unit, action: e.action, ...j, durationMs: 0, journal });
  }
  const durationMs = Math.round(performance.now() - t0);
  return batch.map((e) => {
    const r = { ...(results.get(e) as UnitResult), durationMs };
    const pids = r.stalePids.length ? ` (PID ${r.stalePids.map((p) => p.pid).join(', ')})` : '';
    const why = r.outcome === 'unverified' ? `: ${r.message}` : '';
    (r.outcome === 'verified' ? o.log.info : o.log.warn)(
      `${entryLabel(e)}: ${r.outcome}${pids}${why}`,
    );
    return r;
  });
}

/**
 * Re-reads the processes the action was meant to renew — a unit's cgroup; for daemon-reexec PID 1
 * and every other process of init.scope the plan named — and their maps; retries the stale ones
 * for up to a second, as a just-forked child may not have exec'd its new program yet.
 */
async function rescanUnits(
  units: readonly { e: PlanEntry; controlGroup: string | null }[],
  manager: Manager,
  o: ApplyOptions,
): Promise<Map<PlanEntry, Verdict>[]> {
  const procRoot = o.procRoot ?? '/proc';
  const reader = new ProcReader(procRoot);
  const mount =
    o.cgroupMount !== undefined ? o.cgroupMount : procRoot === '/proc' ? hostCgroupMount() : null;
  const pidsOf = (e: PlanEntry, controlGroup: string | null): number[] | string => {
    if (e.action === 'daemon-reexec') return [...new Set([1, ...e.pids])].sort((a, b) => a - b);
    const cg =
      e.action === 'reexec-user-manager' && manager.type === 'user' && controlGroup
        ? `${controlGroup}/init.scope`
        : controlGroup;
    if (!cg) return 'systemd named no control group for the unit';
    if (!mount) {
      return procRoot === '/proc'
        ? "systemd's cgroup hierarchy is not mounted"
        : `the unit's processes are in the host's cgroups, not under --proc-root ${procRoot}`;
    }
    const r = cgroupPids(mount, cg);
    return r.pids ?? r.error;
  };
  const check = (list: typeof units) => {
    const out = new Map<PlanEntry, Verdict>();
    for (const { e, controlGroup } of list) {
      const pids = pidsOf(e, controlGroup);
      if (typeof pids === 'string') {
        out.set(e, { unverified: pids });
        continue;
      }
      const s = staleAmong(reader, pids, o.noise, o.includeData);
      out.set(
        e,
        s.stale.length === 0 && s.unreadable.length > 0
          ? { unverified: `cannot read the maps of PID ${s.unreadable.join(', ')}` }
          : { stale: s.stale },
      );
    }
    return out;
  };
  const rescans = [check(units)];
  for (let i = 0; i < 5; i++) {
    const again = toRescan(rescans);
    if (again.length === 0) break;
    await new Promise((r) => setTimeout(r, 200));
    rescans.push(check(units.filter((u) => again.includes(u.e))));
  }
  return rescans;
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
