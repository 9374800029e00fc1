// Carries out a plan — over systemd's D-Bus API a window of jobs, one per unit; through systemctl a
// batch of units per call, as systemd runs their jobs in parallel — then verifies each unit from
// its cgroup (docs/restart.md).

import { ProcReader } from '../procfs/reader.ts';
import type { NoiseConfig } from '../scan/noise.ts';
import { cgroupPids, hostCgroupMount } from '../systemd/cgroupfs.ts';
import type { ActionResult, JobRunner, Manager, SystemdClient } from '../systemd/client.ts';
import type { UnitProperties } from '../systemd/properties.ts';
import { firstLook, judgeBatch, shareOf, toRescan, type Verdict } from './judge.ts';
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

/** A unit's action as systemd answered it, and when it was asked for. */
interface Acted {
  e: PlanEntry;
  own: ActionResult;
  t0: number;
}

/**
 * PID 1 first and alone (everything else talks to it), then each user manager alone, then the
 * units per manager and verb: over systemd's D-Bus API in a window of `--jobs` jobs when the
 * client offers it (a unit whose job ended makes room for the next at once), else in batches of
 * `--jobs` units, one systemctl call each.
 */
export async function applyPlan(
  plan: readonly PlanEntry[],
  o: ApplyOptions,
): Promise<UnitResult[]> {
  const todo = plan.filter(isActionable);
  const steps: { manager: Manager; entries: PlanEntry[]; alone: boolean }[] = todo
    .filter((e) => e.action === 'daemon-reexec')
    .map((e) => ({ manager: SYSTEM, entries: [e], alone: true }));
  const byKind = new Map<string, PlanEntry[]>();
  for (const e of todo) {
    if (e.action === 'daemon-reexec') continue;
    const m = e.manager ?? SYSTEM;
    if (e.action === 'reexec-user-manager') {
      steps.push({ manager: m, entries: [e], alone: true });
      continue;
    }
    const key = `${m.type === 'user' ? m.uid : 'system'} ${e.action}`;
    const list = byKind.get(key);
    if (list) list.push(e);
    else {
      const entries = [e];
      byKind.set(key, entries);
      steps.push({ manager: m, entries, alone: false });
    }
  }
  // Units that are not restarted or reloaded alone are moved after the re-executions.
  steps.sort((x, y) => Number(!x.alone) - Number(!y.alone));
  const size = Math.max(1, o.jobs);
  // What is acted on is checked (states, cgroups, maps) while systemd already runs the next jobs:
  // reading only, of other units, so --jobs still bounds what is acted on at once. After a
  // re-execution nothing overlaps: everything else talks to that manager.
  // An error (systemctl or the bus unusable, /proc unreadable) never loses what was already done:
  // the units it hit are reported as failed or unverified, with the error, and nothing further
  // starts.
  const results: (UnitResult | undefined)[][] = [];
  let checking: Promise<void> = Promise.resolve();
  const track = (p: Promise<void>) => {
    checking = Promise.all([checking, p]).then(() => {});
  };
  let failed = false;
  const stop = () => failed || o.stopRequested?.() != null;
  // A connection opened just after `daemon-reexec` may still be accepted by the exiting PID 1,
  // which hands it to its successor unread (systemd keeps such descriptors open across the
  // re-execution): jobs queued on it would never be answered. After a re-execution the system
  // manager's units go through systemctl, which waits for the new PID 1.
  let reexecuted = false;
  for (const step of steps) {
    if (stop()) break;
    // No runner (or none to be had): the batches through systemctl, as before.
    const windowed = !step.alone && !(reexecuted && step.manager.type === 'system');
    const runner = windowed ? await o.client.jobs?.(step.manager).catch(() => null) : null;
    if (step.entries.some((e) => e.action === 'daemon-reexec')) reexecuted = true;
    if (runner) {
      const out: UnitResult[] = [];
      results.push(out);
      try {
        failed = !(await actInWindow(step.entries, runner, out, stop, o));
      } finally {
        runner.close();
      }
      continue;
    }
    for (let i = 0; i < step.entries.length; i += size) {
      if (stop()) break;
      const batch = step.entries.slice(i, i + size);
      const out: UnitResult[] = [];
      results.push(out);
      let check: () => Promise<UnitResult[]>;
      try {
        check = await actOn(batch, o);
      } catch (e) {
        failed = true;
        out.push(...batch.map((u) => errorResult(u, 'failed', `could not ${u.action}`, e, o)));
        break;
      }
      track(
        check().then(
          (r) => void out.push(...r),
          (e: unknown) => {
            failed = true;
            out.push(...batch.map((u) => errorResult(u, 'unverified', 'could not check', e, o)));
          },
        ),
      );
      if (step.alone) await checking;
    }
  }
  await checking;
  return results.flat().filter((r) => r !== undefined);
}

/**
 * The units of one manager and verb, one job each, at most `o.jobs` in flight: a unit whose job
 * has ended makes room for the next at once and is checked — with the others that ended while
 * the previous check ran — while the rest run. Results go to `out` in the order of `list`
 * (units never acted on get none). False when an error stopped it.
 */
async function actInWindow(
  list: readonly PlanEntry[],
  runner: JobRunner,
  out: (UnitResult | undefined)[],
  stop: () => boolean,
  o: ApplyOptions,
): Promise<boolean> {
  const index = new Map(list.map((e, i) => [e, i]));
  let ok = true;
  const checks = groupQueue<Acted>(async (group) => {
    const batch = group.map((a) => a.e);
    const own = new Map(group.map((a) => [a.e, a]));
    try {
      const r = await checkUnits(
        batch,
        (e) => (own.get(e) as Acted).own,
        (e) => (own.get(e) as Acted).t0,
        o,
      );
      r.forEach((x, i) => {
        out[index.get(batch[i] as PlanEntry) as number] = x;
      });
    } catch (err) {
      ok = false;
      for (const e of batch) {
        out[index.get(e) as number] = errorResult(e, 'unverified', 'could not check', err, o);
      }
    }
  });
  const size = Math.max(1, o.jobs);
  let next = 0;
  let inFlight = 0;
  await new Promise<void>((resolve) => {
    const pump = () => {
      const queued: PlanEntry[] = [];
      while (ok && inFlight < size && next < list.length && !stop()) {
        const e = list[next++] as PlanEntry;
        const verb = e.action === 'reload' ? 'reload' : 'restart';
        inFlight++;
        queued.push(e);
        const t0 = performance.now();
        runner
          .run(verb, e.unit ?? '', o.timeoutMs)
          .then(
            (own) => checks.push({ e, own, t0 }),
            (err: unknown) => {
              ok = false;
              out[index.get(e) as number] = errorResult(e, 'failed', `could not ${verb}`, err, o);
            },
          )
          .finally(() => {
            inFlight--;
            pump();
          });
      }
      // Logged once queued: the log's first line starts its systemd-cat child (a fork of this
      // process, tens of milliseconds), which then overlaps systemd's work on these jobs.
      for (const e of queued) o.log.info(`${e.action} ${entryLabel(e)}: ${e.reason}`);
      if (inFlight === 0) resolve();
    };
    pump();
  });
  phase(`window ${list[0]?.action} ${next} (at most ${size} at once)`);
  await checks.idle();
  return ok;
}

/**
 * Runs `work` on what was pushed, one group at a time: whatever is pushed while a group is worked
 * on forms the next group. `work` must not throw.
 */
function groupQueue<T>(work: (group: T[]) => Promise<void>): {
  push: (x: T) => void;
  idle: () => Promise<void>;
} {
  let tail: Promise<void> = Promise.resolve();
  let open: T[] | null = null;
  return {
    push: (x) => {
      if (open) return void open.push(x);
      const group = [x];
      open = group;
      tail = tail.then(() => {
        open = null;
        return work(group);
      });
    },
    idle: () => tail,
  };
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
  return () => checkUnits(batch, shareOf(batch, res), () => t0, o);
}

/** The outcome of units of one manager and verb from their answers: states, cgroups, maps. */
async function checkUnits(
  batch: readonly PlanEntry[],
  own: (e: PlanEntry) => ActionResult,
  started: (e: PlanEntry) => number,
  o: ApplyOptions,
): Promise<UnitResult[]> {
  const first = batch[0] as PlanEntry;
  const manager = first.manager ?? SYSTEM;

  // The user manager is a system unit (user@UID.service); PID 1 has no unit to ask about.
  const showAs: Manager = first.action === 'reexec-user-manager' ? SYSTEM : manager;
  const props = await unitStates(batch, own, showAs, o.client);
  phase('batch states');

  const toVerify = batch.flatMap((e) => {
    const look = firstLook(e, own(e), props, o.timeoutMs);
    return look.outcome === 'rescan' ? [{ e, controlGroup: look.controlGroup }] : [];
  });
  const judged = judgeBatch(
    batch,
    own,
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
  const now = performance.now();
  return batch.map((e) => {
    const r = { ...(results.get(e) as UnitResult), durationMs: Math.round(now - started(e)) };
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
 * The units' state after the action. For a unit whose action succeeded and whose cgroup the plan
 * already knows, one cheap question for all of them (`ActiveState`; `systemctl is-active`, ~0.1 ms
 * a unit) answers; the full properties (`systemctl show`, ~0.9 ms a unit: it fetches every
 * property) are read only for the others — not active afterwards, or failed: the report of a
 * failure needs them.
 */
async function unitStates(
  batch: readonly PlanEntry[],
  own: (e: PlanEntry) => ActionResult,
  manager: Manager,
  client: SystemdClient,
): Promise<Map<string, UnitProperties>> {
  const named = batch.filter((e) => e.unit !== null && e.action !== 'daemon-reexec');
  const cheap = named.filter((e) => own(e).ok && e.controlGroup !== null).map((e) => e.unit ?? '');
  const states = cheap.length ? await client.activeStates(manager, cheap) : new Map();
  const out = new Map<string, UnitProperties>();
  const unsure = named.flatMap((e) => {
    const u = e.unit ?? '';
    const state = states.get(u);
    if (state !== 'active' && state !== 'reloading') return [u];
    out.set(u, { ActiveState: state });
    return [];
  });
  if (unsure.length) for (const [u, p] of await client.show(manager, unsure)) out.set(u, p);
  return out;
}
