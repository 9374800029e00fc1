// The Nagios / Icinga / Sensu plugin output of `check` (docs/monitoring.md): a pure function from a
// health snapshot and the thresholds to a state and the text to print.
//
//   AFTERPATCH STATE - summary | 'processes'=N;w;c;0 'units'=N;w;c;0 …
//   one line per entry needing action, then the reboot reasons
//
// Plugin output rules (Nagios plugin API): the first `|` starts performance data, so `|` never
// appears in names or paths we print; control characters are escaped.
import { alerts, type ThresholdRange } from '../check/range.ts';
import type { Health } from '../health.ts';
import type { Owner } from '../model.ts';
import { describeReason } from '../reboot/reboot.ts';
import type { Group } from '../report/group.ts';
import { printable } from './style.ts';
import { actionText } from './text.ts';

export type NagiosState = 'OK' | 'WARNING' | 'CRITICAL' | 'UNKNOWN';

export const NAGIOS_EXIT: Record<NagiosState, number> = {
  OK: 0,
  WARNING: 1,
  CRITICAL: 2,
  UNKNOWN: 3,
};

export type CheckMetric = 'units' | 'processes';
export type RebootState = 'ok' | 'warning' | 'critical';

export interface CheckThresholds {
  /** The perfdata metric that warning and critical apply to. */
  metric: CheckMetric;
  warning: ThresholdRange | null;
  critical: ThresholdRange | null;
  /** State when a reboot is required. */
  rebootState: RebootState;
}

export interface NagiosResult {
  state: NagiosState;
  exitCode: number;
  /** Everything to print on stdout, ending with a newline. */
  text: string;
}

export const PLUGIN_NAME = 'AFTERPATCH';
const MAX_NAMES_IN_SUMMARY = 3;
const MAX_PIDS = 8;
const MAX_FILES = 4;
/** Nagios core keeps only the first 8 KiB of a plugin's output: list this many entries at most. */
const MAX_ENTRY_LINES = 30;

/**
 * Which count an entry adds to: `unit` (system units, user units, user managers: what the
 * Prometheus metric afterpatch_units_needing_restart counts too), `session`, `container`, or
 * neither (PID 1, processes outside any unit: they count in `processes` only).
 */
export type Bucket = 'unit' | 'session' | 'container' | 'init' | 'unmanaged';

/** Name, kind and bucket of each entry type; the switch is exhaustive over `Owner['type']`. */
export function entryLabel(o: Owner): { name: string; kind: string; bucket: Bucket } {
  switch (o.type) {
    case 'system-unit':
      return {
        name: o.unit,
        kind: o.unit.endsWith('.scope') ? 'scope' : 'unit',
        bucket: 'unit',
      };
    case 'user-unit':
      return { name: o.unit, kind: `user unit of uid ${o.uid}`, bucket: 'unit' };
    case 'user-manager':
      return { name: o.unit, kind: `user manager of uid ${o.uid}`, bucket: 'unit' };
    case 'init':
      return { name: 'systemd', kind: 'PID 1', bucket: 'init' };
    case 'session':
      return {
        name: o.unit,
        kind: o.uid === null ? 'session' : `session of uid ${o.uid}`,
        bucket: 'session',
      };
    case 'container':
      return { name: o.id, kind: `${o.runtime} container`, bucket: 'container' };
    case 'unmanaged':
      return { name: 'processes outside any unit', kind: 'no unit', bucket: 'unmanaged' };
    default:
      return assertNever(o);
  }
}

function assertNever(x: never): never {
  throw new Error(`unhandled entry type ${JSON.stringify(x)}`);
}

/** Printable on one line and free of the perfdata separator. */
export function safe(s: string): string {
  return printable(s).replaceAll('|', '\\x7c');
}

export interface CheckCounts {
  /** System units, user units, user managers and PID 1 running stale code. */
  units: number;
  /** Processes running stale code (processes keeping only deleted data files do not count). */
  processes: number;
  sessions: number;
  containers: number;
  reboot: 0 | 1;
  unreadable: number;
}

export function countHealth(h: Health): CheckCounts {
  const code = h.scan.groups.filter((g) => g.severity === 'code');
  const bucket = (b: Bucket) => code.filter((g) => entryLabel(g.owner).bucket === b).length;
  return {
    // PID 1 needs an action (daemon-reexec) like a unit does, so it counts as one.
    units: bucket('unit') + bucket('init'),
    processes: h.scan.processes.filter((p) => p.files.some((f) => f.kind === 'code')).length,
    sessions: bucket('session'),
    containers: bucket('container'),
    reboot: h.reboot.required ? 1 : 0,
    unreadable: h.scan.summary.unreadable,
  };
}

function thresholdField(r: ThresholdRange | null): string {
  return r === null ? '' : r.text;
}

/** `'label'=value;warn;crit;min[;max]` per the plugin guidelines, in a fixed order. */
export function perfdata(c: CheckCounts, t: CheckThresholds): string {
  const th = (m: CheckMetric) =>
    t.metric === m ? `${thresholdField(t.warning)};${thresholdField(t.critical)}` : ';';
  return [
    `'processes'=${c.processes};${th('processes')};0`,
    `'units'=${c.units};${th('units')};0`,
    `'sessions'=${c.sessions};;;0`,
    `'containers'=${c.containers};;;0`,
    `'reboot'=${c.reboot};;;0;1`,
    `'unreadable'=${c.unreadable};;;0`,
  ].join(' ');
}

const RANK: Record<NagiosState, number> = { OK: 0, WARNING: 1, CRITICAL: 2, UNKNOWN: 3 };
const worst = (a: NagiosState, b: NagiosState): NagiosState => (RANK[a] >= RANK[b] ? a : b);

const REBOOT_STATE: Record<RebootState, NagiosState> = {
  ok: 'OK',
  warning: 'WARNING',
  critical: 'CRITICAL',
};

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

function pidList(pids: readonly number[]): string {
  const shown = pids.slice(0, MAX_PIDS).join(',');
  return pids.length > MAX_PIDS ? `${shown} (+${pids.length - MAX_PIDS})` : shown;
}

function entryLine(g: Group): string {
  const { name, kind } = entryLabel(g.owner);
  const files = g.files
    .filter((f) => f.kind === 'code')
    .map(
      (f) => `${f.path} (${f.package ? `${f.package.name} ${f.package.version}` : 'not packaged'})`,
    );
  const shown = files.slice(0, MAX_FILES).join(', ');
  const more = files.length > MAX_FILES ? ` and ${files.length - MAX_FILES} more` : '';
  const names = g.names.length ? ` ${g.names.join(',')}` : '';
  return safe(
    `${name} (${kind}): PID ${pidList(g.pids)}${names}: ${shown}${more}; action: ${actionText(g.action)}`,
  );
}

/** "1 unit (ssh.service), 1 session, PID 1": where the stale processes are. */
function whereSummary(code: readonly Group[]): string {
  const of = (b: Bucket) => code.filter((g) => entryLabel(g.owner).bucket === b);
  const units = of('unit');
  const names = units.map((g) => entryLabel(g.owner).name);
  const shown = names.slice(0, MAX_NAMES_IN_SUMMARY).join(', ');
  const more =
    names.length > MAX_NAMES_IN_SUMMARY ? ` +${names.length - MAX_NAMES_IN_SUMMARY}` : '';
  const parts = [
    units.length ? `${plural(units.length, 'unit')} (${shown}${more})` : '',
    of('session').length ? plural(of('session').length, 'session') : '',
    of('container').length ? plural(of('container').length, 'container') : '',
    of('init').length ? 'PID 1' : '',
    of('unmanaged').length ? 'processes outside any unit' : '',
  ];
  return parts.filter(Boolean).join(', ');
}

export function formatNagios(h: Health, t: CheckThresholds): NagiosResult {
  const c = countHealth(h);
  const code = h.scan.groups.filter((g) => g.severity === 'code');
  const value = t.metric === 'units' ? c.units : c.processes;

  let state: NagiosState = 'OK';
  if (t.critical !== null && alerts(t.critical, value)) state = 'CRITICAL';
  else if (t.warning !== null && alerts(t.warning, value)) state = 'WARNING';
  if (h.reboot.required) state = worst(state, REBOOT_STATE[t.rebootState]);

  const parts: string[] = [];
  if (code.length === 0) {
    parts.push(`no process runs outdated code (${h.scan.summary.scanned} scanned)`);
  } else {
    parts.push(
      `outdated code in ${plural(c.processes, 'process', 'processes')}: ${whereSummary(code)}`,
    );
  }
  parts.push(h.reboot.required ? 'reboot required' : 'no reboot required');

  // Without root, other users' processes are invisible: a clean result would be a lie.
  const partial = h.scan.summary.unreadable > 0 && !h.scan.asRoot;
  const total = h.scan.summary.scanned + h.scan.summary.unreadable;
  let summary = parts.join('; ');
  if (partial) {
    state = 'UNKNOWN';
    summary = `cannot read ${h.scan.summary.unreadable} of ${total} processes: run as root to see all; found so far: ${summary}`;
  }

  // Reboot reasons first: they are few and must survive a truncation of long output.
  const long: string[] = h.reboot.reasons.map((r) => safe(`reboot required: ${describeReason(r)}`));
  long.push(...code.slice(0, MAX_ENTRY_LINES).map(entryLine));
  if (code.length > MAX_ENTRY_LINES)
    long.push(`and ${code.length - MAX_ENTRY_LINES} more (afterpatch scan lists them all)`);
  for (const n of h.reboot.notes) long.push(safe(`note: ${n}`));
  if (h.scan.summary.unreadable > 0 && h.scan.asRoot) {
    long.push(
      `note: ${h.scan.summary.unreadable} of ${total} processes could not be read (access denied even to root)`,
    );
  }
  const failed =
    h.restartOutcomes.failed + h.restartOutcomes['still-stale'] + h.restartOutcomes.timeout;
  if (failed > 0) {
    long.push(
      `note: last restarts: ${h.restartOutcomes.failed} failed, ${h.restartOutcomes['still-stale']} still stale, ${h.restartOutcomes.timeout} timed out (see afterpatch restart)`,
    );
  }
  for (const w of h.scan.warnings) long.push(safe(`warning: ${w}`));

  const first = `${PLUGIN_NAME} ${state} - ${safe(summary)} | ${perfdata(c, t)}`;
  return { state, exitCode: NAGIOS_EXIT[state], text: `${[first, ...long].join('\n')}\n` };
}

/** The output for an error: UNKNOWN, one line, no perfdata. */
export function formatNagiosError(message: string): NagiosResult {
  return {
    state: 'UNKNOWN',
    exitCode: NAGIOS_EXIT.UNKNOWN,
    text: `${PLUGIN_NAME} UNKNOWN - ${safe(message.split('\n')[0] ?? message)}\n`,
  };
}
