// One snapshot of everything monitoring reports: the scan, the reboot verdict and the outcomes of
// the last restarts. `check`, `metrics` and `serve` all format this.

import { loadConfig, noiseFromConfig } from './config/load.ts';
import type { NoiseConfig } from './noise.ts';
import { type RebootSettings, rebootSettingsFromConfig } from './reboot/detect.ts';
import type { RebootReport } from './reboot/reboot.ts';
import { rebootRequired } from './reboot/reboot.ts';
import { DEFAULT_STATE_DIR, OUTCOMES, type Outcome, readState } from './restart/state.ts';
import { type ScanReport, scan } from './scan/scan.ts';

export interface Health {
  scan: ScanReport;
  reboot: RebootReport;
  /** Units by outcome of their latest restart, from the restart state (empty when none). */
  restartOutcomes: Record<Outcome, number>;
  /** Wall time of the whole snapshot, in milliseconds. */
  durationMs: number;
  /** Unix time (seconds) when the snapshot was taken. */
  timestamp: number;
}

export interface HealthOptions {
  procRoot?: string;
  root?: string;
  stateDir?: string;
  noise?: NoiseConfig;
  ignoreProcesses?: readonly string[];
  reboot?: RebootSettings;
}

export async function gatherHealth(o: HealthOptions = {}): Promise<Health> {
  const t0 = performance.now();
  const timestamp = Date.now() / 1000;
  const report = await scan({
    ...(o.procRoot === undefined ? {} : { procRoot: o.procRoot }),
    ...(o.root === undefined ? {} : { hostRoot: o.root }),
    ...(o.noise === undefined ? {} : { noise: o.noise }),
    ...(o.ignoreProcesses === undefined ? {} : { ignoreProcesses: o.ignoreProcesses }),
  });
  const reboot = await rebootRequired({
    ...(o.procRoot === undefined ? {} : { procRoot: o.procRoot }),
    ...(o.root === undefined ? {} : { root: o.root }),
    scan: report,
    ...(o.reboot === undefined ? {} : { settings: o.reboot }),
  });
  const restartOutcomes = Object.fromEntries(OUTCOMES.map((x) => [x, 0])) as Record<
    Outcome,
    number
  >;
  try {
    for (const r of Object.values(readState(o.stateDir ?? DEFAULT_STATE_DIR).units))
      restartOutcomes[r.outcome]++;
  } catch {
    // An unreadable state file must not hide the scan; restart outcomes are then unknown (0).
  }
  return {
    scan: report,
    reboot,
    restartOutcomes,
    durationMs: Math.round(performance.now() - t0),
    timestamp,
  };
}

/** Health options from the command line (--config, --state-dir, hidden roots) and the configuration. */
export function healthOptions(o: {
  config?: string;
  stateDir?: string;
  procRoot: string;
  root: string;
}): HealthOptions {
  const config = loadConfig(o.config, o.config !== undefined);
  return {
    procRoot: o.procRoot,
    root: o.root,
    ...(o.stateDir === undefined ? {} : { stateDir: o.stateDir }),
    noise: noiseFromConfig(config),
    ignoreProcesses: config.scan.ignore_processes,
    reboot: rebootSettingsFromConfig(config.reboot),
  };
}
