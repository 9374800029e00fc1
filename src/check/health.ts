// One snapshot of everything monitoring reports: the scan, the reboot verdict and the outcomes of
// the last restarts. `check`, `metrics` and `serve` all format this.

import { loadConfig } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import { type RebootSettings, rebootSettingsFromConfig } from '../reboot/detect.ts';
import { scanServesReboot } from '../reboot/for-scan.ts';
import type { RebootReport } from '../reboot/reboot.ts';
import { rebootRequired } from '../reboot/reboot.ts';
import {
  DEFAULT_STATE_DIR,
  OUTCOMES,
  type Outcome,
  type RestartState,
  readState,
} from '../restart/state.ts';
import { type ScanFlags, scanOptionsFrom } from '../scan/options.ts';
import { type ScanOptions, type ScanReport, scan } from '../scan/scan.ts';
import type { Manager } from '../systemd/client.ts';

/** What the restart state says, as monitoring shows it (docs/monitoring.md, afterpatch_restart_results). */
export interface RestartStateView {
  /** Why the state file could not be read or parsed; null when it was (a missing file is empty). */
  error: string | null;
  /** Units by outcome of their latest restart (all 0 when the state could not be read). */
  outcomes: Record<Outcome, number>;
  /** Unix time (seconds) of the newest counted record per outcome; null when none. */
  latest: Record<Outcome, number | null>;
  /** Records left out because systemd no longer knows their unit. */
  agedOut: number;
}

export interface Health {
  scan: ScanReport;
  reboot: RebootReport;
  restart: RestartStateView;
  /** Wall time of the whole snapshot, in milliseconds. */
  durationMs: number;
  /** Unix time (seconds) when the snapshot was taken. */
  timestamp: number;
}

/** Of these state keys ("system-unit:NAME", "user-unit:UID:NAME"), the ones whose unit is gone. */
export type GoneUnits = (keys: readonly string[]) => Promise<Set<string>>;

export interface HealthOptions {
  scan: ScanOptions;
  /** File system root to inspect for the reboot verdict ("/"). */
  root?: string | undefined;
  stateDir?: string | undefined;
  /** Default: asks systemd (one `systemctl show` per manager); keeps every record when it cannot. */
  goneUnits?: GoneUnits | undefined;
  /** The `[reboot]` configuration (default DEFAULT_REBOOT_SETTINGS). */
  reboot?: RebootSettings | undefined;
  /**
   * The scan the reboot verdict needs when `scan` is narrowed (filters, --all, --include,
   * switched-off lookups: scanServesReboot), which never narrows the verdict; absent: `scan`'s.
   */
  rebootScan?: ScanOptions | undefined;
}

export async function gatherHealth(o: HealthOptions): Promise<Health> {
  const t0 = performance.now();
  const timestamp = Date.now() / 1000;
  const report = await scan(o.scan);
  const reboot = await rebootRequired({
    procRoot: o.scan.procRoot,
    root: o.root,
    scan: o.rebootScan === undefined ? report : await scan(o.rebootScan),
    settings: o.reboot,
  });
  const restart = await restartView(o.stateDir ?? DEFAULT_STATE_DIR, o.goneUnits ?? systemdGone);
  return {
    scan: report,
    reboot,
    restart,
    durationMs: Math.round(performance.now() - t0),
    timestamp,
  };
}

const zeros = <T>(v: T) => Object.fromEntries(OUTCOMES.map((k) => [k, v])) as Record<Outcome, T>;

/** No records: every outcome 0, no times. */
export function emptyRestartView(): RestartStateView {
  return { error: null, outcomes: zeros(0), latest: zeros(null), agedOut: 0 };
}

/** The restart state as monitoring shows it: unreadable is its own answer, never "no outcomes". */
export async function restartView(
  stateDir: string,
  goneUnits: GoneUnits,
): Promise<RestartStateView> {
  const view = emptyRestartView();
  let state: RestartState;
  try {
    state = readState(stateDir);
  } catch (e) {
    view.error = e instanceof Error ? e.message : String(e);
    return view;
  }
  const gone = await goneUnits(Object.keys(state.units));
  for (const [key, r] of Object.entries(state.units)) {
    if (gone.has(key)) {
      view.agedOut++;
      continue;
    }
    view.outcomes[r.outcome]++;
    const t = Date.parse(r.time) / 1000;
    const prev = view.latest[r.outcome];
    if (Number.isFinite(t) && (prev === null || t > prev)) view.latest[r.outcome] = t;
  }
  return view;
}

/** The manager and unit name of a state key, or null for keys that are not units (init, …). */
export function unitOfKey(key: string): { manager: Manager; unit: string } | null {
  const sys = /^system-unit:(.+)$/.exec(key);
  if (sys?.[1]) return { manager: { type: 'system' }, unit: sys[1] };
  const user = /^user-unit:(\d+):(.+)$/.exec(key);
  if (user?.[1] && user[2])
    return { manager: { type: 'user', uid: Number(user[1]) }, unit: user[2] };
  return null;
}

/** How long monitoring waits for systemd's answer before keeping every record. */
const SYSTEMD_TIMEOUT_MS = 10_000;

/** Units systemd says are not-found; a manager that cannot be asked keeps all its records. */
const systemdGone: GoneUnits = async (keys) => {
  const gone = new Set<string>();
  const byManager = new Map<string, { manager: Manager; keys: Map<string, string> }>();
  for (const key of keys) {
    const u = unitOfKey(key);
    if (u === null) continue;
    const id = u.manager.type === 'system' ? 'system' : `user:${u.manager.uid}`;
    const entry = byManager.get(id) ?? { manager: u.manager, keys: new Map<string, string>() };
    entry.keys.set(u.unit, key);
    byManager.set(id, entry);
  }
  if (byManager.size === 0) return gone;
  const [{ managerArgs }, { parseShow }, { run }] = await Promise.all([
    import('../systemd/client.ts'),
    import('../systemd/properties.ts'),
    import('../systemd/run.ts'),
  ]);
  for (const { manager, keys: units } of byManager.values()) {
    // Bounded: a hung systemctl must not hang a monitoring check (the child is killed).
    const argv = [
      'systemctl',
      ...managerArgs(manager),
      'show',
      '--no-pager',
      '--property=Id,LoadState',
    ];
    const r = await run([...argv, '--', ...units.keys()], { timeoutMs: SYSTEMD_TIMEOUT_MS }).catch(
      () => null,
    );
    // No systemd (a container, another init), no user manager, no answer: nothing proves a unit gone.
    if (r === null || r.timedOut || r.code !== 0) continue;
    for (const b of parseShow(r.stdout)) {
      const key = b.Id === undefined ? undefined : units.get(b.Id);
      if (key !== undefined && b.LoadState === 'not-found') gone.add(key);
    }
  }
  return gone;
};

/** The command-line flags that shape a health snapshot (check, metrics, serve). */
export interface HealthCliOptions extends ScanFlags {
  config?: string | undefined;
  stateDir?: string | undefined;
}

/** Health options from the command line (--config, --state-dir, filters, hidden roots) and the configuration. */
export function healthOptions(o: HealthCliOptions, config?: Config): HealthOptions {
  const c = config ?? loadConfig(o.config, o.config !== undefined);
  return {
    scan: scanOptionsFrom(c, o),
    // A filter that hid the stale message bus made `check --lib libssl` say no reboot: a narrowed
    // scan gets the one reboot-required itself makes for the verdict.
    rebootScan: scanServesReboot(o)
      ? undefined
      : scanOptionsFrom(c, { procRoot: o.procRoot, root: o.root }),
    root: o.root,
    stateDir: o.stateDir,
    reboot: rebootSettingsFromConfig(c.reboot),
  };
}
