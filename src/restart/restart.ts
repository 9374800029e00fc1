// `restart`: scan, plan, (confirm,) apply, verify, remember — the library API behind the command.

import { groupVulnerable } from '../advisory/assess.ts';
import { noiseFromConfig } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import type { ScanFilters } from '../scan/filters.ts';
import { scanOptionsFrom } from '../scan/options.ts';
import { type ScanReport, scan } from '../scan/scan.ts';
import { BusClient } from '../systemd/bus-client.ts';
import { SystemctlClient, type SystemdClient } from '../systemd/client.ts';
import { SOCKET_PROPERTIES, type UnitProperties } from '../systemd/properties.ts';
import { applyPlan, type UnitResult } from './apply.ts';
import { acquireLock } from './lock.ts';
import type { ActionLog } from './log.ts';
import { isActionable, makePlan, type PlanEntry, socketKey, triggeringSockets } from './plan.ts';
import { DEFAULT_STATE_DIR, readState, type UnitRecord, writeState } from './state.ts';
import { phase, timingNote } from './timing.ts';

export interface RestartOptions {
  config: Config;
  filters?: ScanFilters;
  /** `--fixed` and `--advisory`: restart only units running a version below a fix. */
  fixed?: readonly string[] | undefined;
  advisory?: readonly string[] | undefined;
  force?: boolean;
  includeData?: boolean;
  jobs?: number | undefined;
  timeoutSeconds?: number | undefined;
  stateDir?: string | undefined;
  procRoot?: string | undefined;
  /** File system root owning the packages (hidden --root). */
  root?: string | undefined;
  client?: SystemdClient;
  /** Where unit cgroups are read (tests; default: see ApplyOptions.cgroupMount). */
  cgroupMount?: string | null | undefined;
  /**
   * false: the plan's scan leaves the stale files' packages unknown unless --package, --fixed or
   * --advisory need them (the plan and its report never show them; ScanOptions.fileOwners).
   */
  fileOwners?: boolean | undefined;
}

export interface PlannedRestart {
  scan: ScanReport;
  plan: PlanEntry[];
}

export interface RestartReport extends PlannedRestart {
  dryRun: boolean;
  results: UnitResult[];
  /** The signal that stopped the run before every batch was acted on. */
  interrupted?: string | null;
  /** Why the outcomes could not be saved in the state directory (they are reported anyway). */
  stateError?: string | null;
}

/**
 * For root and the host's own processes, systemd's private bus for reading properties
 * (systemctl for acting, and as the fallback); under another --proc-root, systemctl only, as
 * before: that tree is not PID 1's, and whoever set it up (tests) answers through the systemctl
 * on PATH.
 */
function defaultClient(procRoot: string | undefined): SystemdClient {
  if (procRoot !== undefined && procRoot !== '/proc') return new SystemctlClient();
  // PID 1 answers root only on that socket: others would just be hung up on.
  if (process.getuid?.() !== 0) return new SystemctlClient();
  // One for the plan and the apply: a bus given up while planning is not tried (and waited for)
  // again while restarting.
  sharedBus ??= new BusClient({
    onFallback: (why) => timingNote(`bus given up for systemctl: ${why}`),
  });
  return sharedBus;
}
let sharedBus: BusClient | undefined;

export async function planRestart(o: RestartOptions): Promise<PlannedRestart> {
  const client = o.client ?? defaultClient(o.procRoot);
  phase('start');
  const needOwners =
    o.fileOwners !== false ||
    [o.filters?.packages, o.fixed, o.advisory].some((l) => l !== undefined && l.length > 0);
  const report = await scan({
    ...scanOptionsFrom(o.config, {
      procRoot: o.procRoot,
      root: o.root,
      lib: o.filters?.lib,
      unit: o.filters?.units,
      pid: o.filters?.pids,
      package: o.filters?.packages,
      fixed: o.fixed,
      advisory: o.advisory,
    }),
    fileOwners: needOwners,
  });
  // With advisories, only the units that run a vulnerable version (or one that cannot be told:
  // never left alone on a doubt) are planned; the others are stale but safe for them.
  const groups = report.advisories
    ? report.groups.filter((g) => groupVulnerable(report.advisories, g.pids) !== false)
    : report.groups;
  phase('scan');
  const { properties, sockets } = await unitProperties(report, client);
  phase('show');
  const fileIds = new Map<string, string[]>();
  const byPid = new Map(report.processes.map((p) => [p.pid, p]));
  for (const g of report.groups) {
    const ids = new Set<string>();
    for (const pid of g.pids)
      for (const f of byPid.get(pid)?.files ?? []) ids.add(`${f.inode}:${f.path}`);
    fileIds.set(g.key, [...ids].sort());
  }
  const plan = makePlan({
    groups,
    properties,
    config: o.config.restart,
    state: readState(o.stateDir ?? DEFAULT_STATE_DIR),
    fileIds,
    force: o.force === true,
    includeData: o.includeData === true,
    sockets,
  });
  phase('plan');
  return { scan: report, plan };
}

/**
 * One batched `systemctl show` for the system units, one per user manager; then, only when some
 * template instance is triggered by a socket, one more per manager for those sockets' Accept=.
 */
async function unitProperties(
  report: ScanReport,
  client: SystemdClient,
): Promise<{ properties: Map<string, UnitProperties>; sockets: Map<string, UnitProperties> }> {
  const out = new Map<string, UnitProperties>();
  const sockets = new Map<string, UnitProperties>();
  const system = new Map<string, string>();
  const users = new Map<number, Map<string, string>>();
  for (const g of report.groups) {
    const o = g.owner;
    if (o.type === 'system-unit' && !o.unit.endsWith('.scope')) system.set(o.unit, g.key);
    if (o.type === 'user-unit') {
      const m = users.get(o.uid) ?? new Map<string, string>();
      m.set(o.unit, g.key);
      users.set(o.uid, m);
    }
  }
  const fetch = async (
    manager: Parameters<SystemdClient['show']>[0],
    units: Map<string, string>,
  ) => {
    const props = await client.show(manager, [...units.keys()]);
    const asked = new Set<string>();
    for (const [unit, key] of units) {
      const p = props.get(unit);
      if (p) out.set(key, p);
      for (const s of triggeringSockets(unit, p)) asked.add(s);
    }
    if (asked.size === 0) return;
    // Unanswered sockets stay out of the map: their instances are skipped, not restarted.
    const answer = await client.show(manager, [...asked], SOCKET_PROPERTIES).catch(() => null);
    for (const [s, p] of answer ?? []) sockets.set(socketKey(manager, s), p);
  };
  await fetch({ type: 'system' }, system);
  for (const [uid, units] of users) {
    // A user manager that cannot be reached leaves its units without properties: they are skipped.
    await fetch({ type: 'user', uid }, units).catch(() => {});
  }
  return { properties: out, sockets };
}

/**
 * Acts on the plan under the state lock. Outcomes of actions taken are always returned, even
 * when the state cannot be saved afterwards (stateError). SIGTERM/SIGINT let the batch in
 * flight finish, skip the others, and still record what was done and release the lock.
 */
export async function applyRestart(
  planned: PlannedRestart,
  o: RestartOptions & { log: ActionLog },
): Promise<RestartReport> {
  if (!planned.plan.some(isActionable)) return { ...planned, dryRun: false, results: [] };
  const stateDir = o.stateDir ?? DEFAULT_STATE_DIR;
  const unlock = acquireLock(stateDir);
  const signals = trapSignals(o.log);
  try {
    const results = await applyPlan(planned.plan, {
      client: o.client ?? defaultClient(o.procRoot),
      log: o.log,
      jobs: o.jobs ?? o.config.restart.jobs,
      timeoutMs: (o.timeoutSeconds ?? o.config.restart.timeout) * 1000,
      noise: noiseFromConfig(o.config),
      includeData: o.includeData === true,
      stopRequested: signals.received,
      procRoot: o.procRoot,
      cgroupMount: o.cgroupMount,
    });
    phase('apply');
    let stateError: string | null = null;
    try {
      recordOutcomes(stateDir, planned.plan, results);
    } catch (e) {
      stateError = (e as Error).message;
    }
    phase('state');
    return { ...planned, dryRun: false, results, interrupted: signals.received(), stateError };
  } finally {
    signals.dispose();
    unlock();
  }
}

function recordOutcomes(
  stateDir: string,
  plan: readonly PlanEntry[],
  results: readonly UnitResult[],
): void {
  // Re-read under the lock: another run may have written since we planned.
  const state = readState(stateDir);
  const byKey = new Map(plan.map((e) => [e.key, e]));
  const now = new Date().toISOString();
  for (const r of results) {
    const e = byKey.get(r.key);
    state.units[r.key] = {
      time: now,
      action: r.action as UnitRecord['action'], // results exist for actionable entries only
      outcome: r.outcome,
      files: e ? e.files.flatMap((f) => f.ids) : [],
    };
  }
  writeState(stateDir, state);
}

/** Notes SIGTERM/SIGINT instead of dying mid-batch; dispose() restores the default handling. */
function trapSignals(log: ActionLog): { received: () => string | null; dispose: () => void } {
  let got: string | null = null;
  const on = (sig: NodeJS.Signals) => {
    if (got === null) log.warn(`${sig}: finishing the jobs in flight, then stopping`);
    got ??= sig;
  };
  process.on('SIGTERM', on);
  process.on('SIGINT', on);
  return {
    received: () => got,
    dispose: () => {
      process.off('SIGTERM', on);
      process.off('SIGINT', on);
    },
  };
}
