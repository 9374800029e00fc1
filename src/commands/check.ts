// `check`: the Nagios / Icinga / Sensu plugin. Every error is UNKNOWN (exit 3) with a plugin line
// on stdout, so the monitoring system shows why instead of "(No output on stdout)".
import { parseAdvisoryState } from '../check/advisory.ts';
import { gatherHealth, type HealthCliOptions, healthOptions } from '../check/health.ts';
import { parseRange } from '../check/range.ts';
import type { CliIo } from '../cli/io.ts';
import {
  type CheckBucket,
  type CheckMetric,
  type CheckThresholds,
  formatNagios,
  formatNagiosError,
  type RebootState,
} from '../output/nagios.ts';

export interface CheckCliOptions extends HealthCliOptions {
  warning?: string;
  critical?: string;
  metric: CheckMetric;
  ignore: CheckBucket[];
  rebootState: RebootState;
  advisoryState?: string[];
  json?: true;
  format?: 'nagios' | 'json';
  procRoot: string;
  root: string;
}

/** Default warning range: anything needing action (more than 0) is WARNING. */
export const DEFAULT_WARNING = '0';

export async function runCheck(o: CheckCliOptions, io: CliIo): Promise<number> {
  const json = o.json === true || o.format === 'json';
  try {
    const thresholds: CheckThresholds = {
      metric: o.metric,
      warning: parseRange(o.warning ?? DEFAULT_WARNING),
      critical: o.critical === undefined ? null : parseRange(o.critical),
      ignore: o.ignore,
      rebootState: o.rebootState,
      advisoryStates: Object.fromEntries((o.advisoryState ?? []).map(parseAdvisoryState)),
    };
    const health = await gatherHealth(healthOptions(o));
    const result = formatNagios(health, thresholds);
    if (json) {
      const { healthToJson } = await import('../output/health-json.ts');
      io.stdout.write(`${JSON.stringify(healthToJson(health, result), null, 2)}\n`);
    } else io.stdout.write(result.text);
    return result.exitCode;
  } catch (e) {
    // The plugin line for the monitoring system; the CLI's error handler then writes the message
    // (and, for a bug, how to get the trace) to stderr and exits 3 (ERROR_EXIT in cli.ts).
    if (!json) io.stdout.write(formatNagiosError((e as Error)?.message ?? String(e)).text);
    throw e;
  }
}
