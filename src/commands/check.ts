// `check`: the Nagios / Icinga / Sensu plugin. Every error is UNKNOWN (exit 3) with a plugin line
// on stdout, so the monitoring system shows why instead of "(No output on stdout)".
import { parseRange } from '../check/range.ts';
import { gatherHealth, healthOptions } from '../health.ts';
import {
  type CheckMetric,
  type CheckThresholds,
  formatNagios,
  formatNagiosError,
  type RebootState,
} from '../output/nagios.ts';

export interface CheckCliOptions {
  warning?: string;
  critical?: string;
  metric: CheckMetric;
  rebootState: RebootState;
  config?: string;
  stateDir?: string;
  procRoot: string;
  root: string;
}

/** Default warning range: any unit needing action (more than 0) is WARNING. */
export const DEFAULT_WARNING = '0';

export async function runCheck(o: CheckCliOptions): Promise<number> {
  try {
    const thresholds: CheckThresholds = {
      metric: o.metric,
      warning: parseRange(o.warning ?? DEFAULT_WARNING),
      critical: o.critical === undefined ? null : parseRange(o.critical),
      rebootState: o.rebootState,
    };
    const health = await gatherHealth(healthOptions(o));
    const result = formatNagios(health, thresholds);
    process.stdout.write(result.text);
    return result.exitCode;
  } catch (e) {
    // The plugin line for the monitoring system; the CLI's error handler then writes the message
    // (and, for a bug, how to get the trace) to stderr and exits 3 (ERROR_EXIT in cli.ts).
    process.stdout.write(formatNagiosError((e as Error)?.message ?? String(e)).text);
    throw e;
  }
}
