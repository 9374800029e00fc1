// Prometheus text exposition (format 0.0.4) of one health snapshot: pure, no I/O.
// Every metric is documented in docs/monitoring.md ("Prometheus").
import { bucketOf, countBuckets } from '../check/buckets.ts';
import type { Health } from '../check/health.ts';
import { rebootUnknown } from '../exit.ts';
import type { Group } from '../grouping/group.ts';
import { OUTCOMES } from '../restart/state.ts';
import { isPartialScan } from '../scan/coverage.ts';
import { VERSION } from '../version.ts';
import { advisorySeries } from './advisory.ts';
import { DEFAULT_MAX_UNIT_SERIES } from './prometheus-defaults.ts';

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
export { DEFAULT_MAX_UNIT_SERIES };

export interface PrometheusOptions {
  /** At most this many `afterpatch_unit_needs_restart` series with a unit name (default 100). */
  maxUnitSeries?: number;
  /** Also export `node_reboot_required` (default true). */
  nodeRebootRequired?: boolean;
  /** Failed scans: since the server started (serve), or 0/1 for this run (metrics). */
  scanErrors?: number;
  /** Whether the latest scan attempt succeeded (default true). */
  lastScanSuccess?: boolean;
}

/** Escapes a label value: backslash, double quote and newline (exposition format). */
export function escapeLabelValue(v: string): string {
  return v.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n');
}

/** Escapes HELP text: backslash and newline. */
function escapeHelp(v: string): string {
  return v.replaceAll('\\', '\\\\').replaceAll('\n', '\\n');
}

function labels(l: Record<string, string>): string {
  const parts = Object.entries(l).map(([k, v]) => `${k}="${escapeLabelValue(v)}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

function num(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Number.POSITIVE_INFINITY) return '+Inf';
  if (v === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(v);
}

class Exposition {
  private readonly lines: string[] = [];
  family(
    name: string,
    type: 'gauge' | 'counter',
    help: string,
    samples: readonly [Record<string, string>, number][],
  ): void {
    this.lines.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`);
    for (const [l, v] of samples) this.lines.push(`${name}${labels(l)} ${num(v)}`);
  }
  one(name: string, type: 'gauge' | 'counter', help: string, v: number): void {
    this.family(name, type, help, [[{}, v]]);
  }
  text(): string {
    return `${this.lines.join('\n')}\n`;
  }
}

/** Groups of restartable units running stale code, in report order. */
export function unitsNeedingRestart(h: Health): Group[] {
  // PID 1 counts: it needs an action (daemon-reexec) like a unit, not a reboot.
  return h.scan.groups.filter((g) => g.severity === 'code' && bucketOf(g.owner) === 'units');
}

function unitLabels(g: Group): Record<string, string> {
  const o = g.owner;
  switch (o.type) {
    case 'system-unit':
      return { unit: o.unit, type: o.type };
    case 'init':
      return { unit: 'init.scope', type: o.type };
    case 'user-unit':
    case 'user-manager':
      return { unit: o.unit, type: o.type, uid: String(o.uid) };
    default:
      return { unit: g.key, type: o.type };
  }
}

/**
 * Formats a snapshot. `health` is null when no scan has succeeded yet (serve after a failed first
 * scan, metrics after a failed scan): then only the scan-status metrics are exported, so that
 * "metric absent" alerts fire while `afterpatch_scan_errors_total` says why.
 */
export function formatPrometheus(health: Health | null, o: PrometheusOptions = {}): string {
  const max = o.maxUnitSeries ?? DEFAULT_MAX_UNIT_SERIES;
  const e = new Exposition();
  e.family('afterpatch_build_info', 'gauge', 'afterpatch version, always 1.', [
    [{ version: VERSION }, 1],
  ]);
  e.one(
    'afterpatch_scan_errors_total',
    'counter',
    'Scans that failed: since start for serve, 0 or 1 for this run for metrics.',
    o.scanErrors ?? 0,
  );
  e.one(
    'afterpatch_last_scan_success',
    'gauge',
    '1 if the latest scan attempt succeeded, 0 if it failed (the other values are then from the last good scan, if any).',
    o.lastScanSuccess === false ? 0 : 1,
  );
  if (!health) return e.text();
  const s = health.scan.summary;
  const units = unitsNeedingRestart(health);
  e.one(
    'afterpatch_outdated_processes',
    'gauge',
    'Processes running deleted or replaced code (executable or library).',
    s.processes - s.dataOnly,
  );
  e.one(
    'afterpatch_units_needing_restart',
    'gauge',
    'System units, user units, user managers and PID 1 running outdated code.',
    units.length,
  );
  const listed = units.slice(0, Math.max(0, max));
  const rest = units.length - listed.length;
  const series: [Record<string, string>, number][] = listed.map((g) => [unitLabels(g), 1]);
  if (rest > 0) series.push([{ unit: '(other)', type: 'aggregated' }, rest]);
  e.family(
    'afterpatch_unit_needs_restart',
    'gauge',
    'One series per unit running outdated code (1); beyond --max-unit-series the rest is one type="aggregated" series counting them.',
    series,
  );
  const buckets = countBuckets(health.scan.groups);
  e.one(
    'afterpatch_sessions_outdated',
    'gauge',
    'Login sessions (log out and back in) and per-connection units (end with their connection) running outdated code.',
    buckets.sessions,
  );
  e.one(
    'afterpatch_containers_outdated',
    'gauge',
    'Containers with processes running outdated code (rebuild or restart them).',
    buckets.containers,
  );
  e.one(
    'afterpatch_vms_outdated',
    'gauge',
    'Virtual machine guests whose qemu process runs outdated code (live-migrate them, or shut them down and start them again).',
    buckets.vms,
  );
  e.one(
    'afterpatch_unmanaged_processes_outdated',
    'gauge',
    'Processes outside any unit, session or container running outdated code (restart them by hand).',
    buckets.unmanaged,
  );
  e.one(
    'afterpatch_reboot_required',
    'gauge',
    '1 if only a reboot helps (newer kernel, sentinel file, stale code in the bus), else 0.',
    health.reboot.required ? 1 : 0,
  );
  e.one(
    'afterpatch_reboot_required_unknown',
    'gauge',
    '1 if no reboot reason was found but evidence that could be one could not be read (afterpatch_reboot_required 0 then means unknown), else 0.',
    rebootUnknown(health.reboot) ? 1 : 0,
  );
  if (o.nodeRebootRequired !== false) {
    e.one(
      'node_reboot_required',
      'gauge',
      'Node reboot is required for software updates (1) or not (0); same as afterpatch_reboot_required.',
      health.reboot.required ? 1 : 0,
    );
  }
  e.one(
    'afterpatch_last_scan_timestamp_seconds',
    'gauge',
    'Unix time when the last successful scan started.',
    health.timestamp,
  );
  e.one(
    'afterpatch_scan_duration_seconds',
    'gauge',
    'Wall time of the last successful scan (processes, packages, reboot verdict, restart state).',
    health.durationMs / 1000,
  );
  const restart = health.restart;
  e.one(
    'afterpatch_restart_state_error',
    'gauge',
    '1 if the restart state file could not be read or parsed (the restart metrics are then absent), else 0.',
    restart.error === null ? 0 : 1,
  );
  if (restart.error === null) {
    e.family(
      'afterpatch_restart_results',
      'gauge',
      'Units by outcome of their latest afterpatch restart (restart state; units systemd no longer knows are left out).',
      OUTCOMES.map((outcome) => [{ outcome }, restart.outcomes[outcome]]),
    );
    e.family(
      'afterpatch_restart_last_outcome_timestamp_seconds',
      'gauge',
      'Unix time of the newest restart with this outcome among afterpatch_restart_results (absent when none).',
      OUTCOMES.flatMap((outcome) => {
        const t = restart.latest[outcome];
        return t === null ? [] : [[{ outcome }, t] as [Record<string, string>, number]];
      }),
    );
    e.one(
      'afterpatch_restart_records_aged_out',
      'gauge',
      'Restart state records left out of afterpatch_restart_results because their unit no longer exists.',
      restart.agedOut,
    );
  }
  e.one(
    'afterpatch_unreadable_processes',
    'gauge',
    'Processes whose memory maps could not be read (without root or CAP_SYS_PTRACE the scan is partial: afterpatch_scan_partial).',
    s.unreadable,
  );
  // Its own 0/1, as scan's exit 3 and check's UNKNOWN: without it a partial scan's zeros read as
  // "clean" to every alert (as root with CAP_SYS_PTRACE, a process even root is denied is not;
  // one that failed to read, EMFILE or EIO, is).
  e.one(
    'afterpatch_scan_partial',
    'gauge',
    '1 if the scan could not read some processes for lack of root or CAP_SYS_PTRACE, or for a read error (EMFILE, EIO, ...; root too), or read none (the other values are then a lower bound), else 0.',
    isPartialScan(health.scan) ? 1 : 0,
  );
  const adv = advisorySeries(health.scan.advisories);
  if (adv !== null) {
    e.family(
      'afterpatch_advisory_verdict',
      'gauge',
      "One series per advisory and verdict: 1 for the advisory's verdict on this host, 0 for the others (docs/advisories.md).",
      adv.verdicts,
    );
    e.family(
      'afterpatch_advisory_vulnerable_processes',
      'gauge',
      'Stale processes running a version below the advisory\'s fix (vulnerable="true") or one that cannot be told ("unknown").',
      adv.processes,
    );
  }
  return e.text();
}
