// `check --json`: the whole health snapshot of one scan as one versioned document (docs/json.md,
// "check --json"), for tools that want one call: verdict, buckets, scan, reboot, restart state.

import type { Health } from '../check/health.ts';
import type { HealthDocument } from '../formats/health.ts';
import type { Outcome } from '../restart/state.ts';
import { VERSION } from '../version.ts';
import { scanToJson } from './json.ts';
import { countHealth, type NagiosResult } from './nagios.ts';

export const HEALTH_FORMAT_VERSION = 1;

const iso = (t: number | null) => (t === null ? null : new Date(t * 1000).toISOString());

/** The health snapshot as the published document (src/formats/health.ts). */
export function healthToJson(h: Health, verdict: NagiosResult): HealthDocument {
  const c = countHealth(h);
  return {
    format: 'afterpatch-health',
    formatVersion: HEALTH_FORMAT_VERSION,
    afterpatch: VERSION,
    hostname: h.scan.hostname,
    time: new Date(h.timestamp * 1000).toISOString(),
    state: verdict.state,
    exitCode: verdict.exitCode,
    summary: verdict.summary,
    alerting: verdict.alerting,
    counts: c,
    scan: scanToJson(h.scan),
    reboot: {
      required: h.reboot.required,
      applicable: h.reboot.applicable,
      reasons: h.reboot.reasons,
      notes: h.reboot.notes,
      unknown: h.reboot.unknown ?? [],
    },
    restart: {
      error: h.restart.error,
      outcomes: h.restart.outcomes,
      latest: Object.fromEntries(
        Object.entries(h.restart.latest).map(([o, t]) => [o, iso(t)]),
      ) as Record<Outcome, string | null>,
      agedOut: h.restart.agedOut,
    },
    durationMs: h.durationMs,
  };
}
