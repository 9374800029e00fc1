// `restart`: scan, plan, (confirm,) apply, verify, remember — the library API behind the command.
import { noiseFromConfig } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import type { ActionLog } from '../log.ts';
import type { ScanFilters } from '../scan/filters.ts';
import { scanOptionsFrom } from '../scan/options.ts';
import { type ScanReport, scan } from '../scan/scan.ts';
import { SystemctlClient, type SystemdClient } from '../systemd/client.ts';
import type { UnitProperties } from '../systemd/properties.ts';
import { applyPlan, type UnitResult } from './apply.ts';
import { isActionable, makePlan, type PlanEntry } from './plan.ts';
import { acquireLock, DEFAULT_STATE_DIR, readState, writeState } from './state.ts';

export interface RestartOptions {
  config: Config;
  filters?: ScanFilters;
  force?: boolean;
  includeData?: boolean;
  jobs?: number;
  timeoutSeconds?: number;
  stateDir?: string;
  procRoot?: string;
  client?: SystemdClient;
}

export interface PlannedRestart {
  scan: ScanReport;
  plan: PlanEntry[];
}

export interface RestartReport extends PlannedRestart {
  dryRun: boolean;
  results: UnitResult[];
}

export async function planRestart(o: RestartOptions): Promise<PlannedRestart> {
  const client = o.client ?? new SystemctlClient();
  const report = await scan(
    scanOptionsFrom(o.config, {
      procRoot: o.procRoot,
      lib: o.filters?.lib,
      unit: o.filters?.units,
      pid: o.filters?.pids,
      package: o.filters?.packages,
    }),
  );
  const properties = await unitProperties(report, client);
  const fileIds = new Map<string, string[]>();
  const byPid = new Map(report.processes.map((p) => [p.pid, p]));
  for (const g of report.groups) {
    const ids = new Set<string>();
    for (const pid of g.pids)
      for (const f of byPid.get(pid)?.files ?? []) ids.add(`${f.inode}:${f.path}`);
    fileIds.set(g.key, [...ids].sort());
  }
  const plan = makePlan({
    groups: report.groups,
    properties,
    config: o.config.restart,
    state: readState(o.stateDir ?? DEFAULT_STATE_DIR),
    fileIds,
    force: o.force === true,
    includeData: o.includeData === true,
  });
  return { scan: report, plan };
}

/** One batched `systemctl show` for the system units, one per user manager. */
async function unitProperties(
  report: ScanReport,
  client: SystemdClient,
): Promise<Map<string, UnitProperties>> {
  const out = new Map<string, UnitProperties>();
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
    for (const [unit, key] of units) {
      const p = props.get(unit);
      if (p) out.set(key, p);
    }
  };
  await fetch({ type: 'system' }, system);
  for (const [uid, units] of users) {
    // A user manager that cannot be reached leaves its units without properties: they are skipped.
    await fetch({ type: 'user', uid }, units).catch(() => {});
  }
  return out;
}

export async function applyRestart(
  planned: PlannedRestart,
  o: RestartOptions & { log: ActionLog },
): Promise<RestartReport> {
  if (!planned.plan.some(isActionable)) return { ...planned, dryRun: false, results: [] };
  const stateDir = o.stateDir ?? DEFAULT_STATE_DIR;
  const unlock = acquireLock(stateDir);
  try {
    const results = await applyPlan(planned.plan, {
      client: o.client ?? new SystemctlClient(),
      log: o.log,
      jobs: o.jobs ?? o.config.restart.jobs,
      timeoutMs: (o.timeoutSeconds ?? o.config.restart.timeout) * 1000,
      noise: noiseFromConfig(o.config),
      includeData: o.includeData === true,
      ...(o.procRoot === undefined ? {} : { procRoot: o.procRoot }),
    });
    // Re-read under the lock: another run may have written since we planned.
    const state = readState(stateDir);
    const byKey = new Map(planned.plan.map((e) => [e.key, e]));
    const now = new Date().toISOString();
    for (const r of results) {
      const e = byKey.get(r.key);
      state.units[r.key] = {
        time: now,
        action: r.action,
        outcome: r.outcome,
        files: e ? e.files.flatMap((f) => f.ids) : [],
      };
    }
    writeState(stateDir, state);
    return { ...planned, dryRun: false, results };
  } finally {
    unlock();
  }
}
