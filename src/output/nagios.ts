// The Nagios / Icinga / Sensu plugin output of `check` (docs/monitoring.md): a pure function from a
// health snapshot and the thresholds to a state and the text to print.
//
//   AFTERPATCH STATE - summary | 'processes'=N;w;c;0 'units'=N;w;c;0 …
//   one line per entry needing action, then the reboot reasons
//
// Plugin output rules (Nagios plugin API): the first `|` starts performance data, so `|` never
// appears in names or paths we print; control characters are escaped.

import type { Verdict } from '../advisory/running.ts';
import { type AdvisoryCheckState, advisoryCheck } from '../check/advisory.ts';
import {
  bucketOf,
  CHECK_BUCKETS,
  type CheckBucket,
  type CheckMetric,
  countBuckets,
} from '../check/buckets.ts';
import type { Health } from '../check/health.ts';
import { alerts, parseRange, type ThresholdRange } from '../check/range.ts';
import { rebootUnknown } from '../exit.ts';
import type { Group } from '../grouping/group.ts';
import { ownerLabel } from '../grouping/owner.ts';
import { describeReason } from '../reboot/reboot.ts';
import { isPartialScan, missingPrivilege, readErrorText } from '../scan/coverage.ts';
import type { Owner } from '../scan/model.ts';
import { printable } from './style.ts';
import { actionText } from './text.ts';

export type NagiosState = 'OK' | 'WARNING' | 'CRITICAL' | 'UNKNOWN';

export const NAGIOS_EXIT: Record<NagiosState, number> = {
  OK: 0,
  WARNING: 1,
  CRITICAL: 2,
  UNKNOWN: 3,
};

export { CHECK_BUCKETS, type CheckBucket, type CheckMetric } from '../check/buckets.ts';
export type RebootState = 'ok' | 'warning' | 'critical';

export interface CheckThresholds {
  /** What warning and critical apply to; every other bucket not ignored warns above 0. */
  metric: CheckMetric;
  warning: ThresholdRange | null;
  critical: ThresholdRange | null;
  /** Buckets the operator chose to never alert on (--ignore); still listed and in perfdata. */
  ignore?: readonly CheckBucket[] | undefined;
  /** State when a reboot is required. */
  rebootState: RebootState;
  /** --advisory-state: the state of an advisory verdict, over DEFAULT_ADVISORY_STATES. */
  advisoryStates?: Partial<Record<Verdict, AdvisoryCheckState>> | undefined;
}

export interface NagiosResult {
  state: NagiosState;
  exitCode: number;
  /** Everything to print on stdout, ending with a newline. */
  text: string;
  /** The summary of the first line (without the state and the perfdata). */
  summary: string;
  /** The buckets that raised the state above OK. */
  alerting: CheckBucket[];
}

export const PLUGIN_NAME = 'AFTERPATCH';
const MAX_NAMES_IN_SUMMARY = 3;
const MAX_PIDS = 8;
const MAX_FILES = 4;
/** At most this many entry lines, whatever their length. */
const MAX_ENTRY_LINES = 30;
/** NRPE 2 keeps 1 KiB: the first line (state, summary, perfdata) never exceeds it. */
export const MAX_FIRST_LINE_BYTES = 1024;
/** Nagios core keeps 8 KiB of a plugin's output: the whole output never exceeds it. */
export const MAX_OUTPUT_BYTES = 8192;
/** One line of the long output (a unit name may have 255 characters, a path 4096). */
const MAX_LINE_BYTES = 512;
/** A name (unit, container) in the summary. */
const MAX_NAME_CHARS = 64;

/** An owner's name and kind on a plugin line: "pipewire.service (user unit of uid 1000)". */
export function entryLabel(o: Owner): { name: string; kind: string } {
  const l = ownerLabel(o);
  return { name: l.name, kind: l.uid === null ? l.kind : `${l.kind} of uid ${l.uid}` };
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
  /** Processes running stale code outside any unit, session or container. */
  unmanaged: number;
  sessions: number;
  containers: number;
  /** Virtual machine guests (qemu processes) running stale code. */
  vms: number;
  reboot: 0 | 1;
  unreadable: number;
}

function codeGroups(h: Health): Group[] {
  return h.scan.groups.filter((g) => g.severity === 'code');
}

export function countHealth(h: Health): CheckCounts {
  return {
    ...countBuckets(h.scan.groups),
    processes: h.scan.processes.filter((p) => p.files.some((f) => f.kind === 'code')).length,
    reboot: h.reboot.required ? 1 : 0,
    unreadable: h.scan.summary.unreadable,
  };
}

const DEFAULT_RANGE: ThresholdRange = parseRange('0');

/** The warning and critical ranges that apply to a count; null when it never alerts. */
function rangesFor(
  t: CheckThresholds,
  m: CheckBucket | 'processes',
): { warning: ThresholdRange | null; critical: ThresholdRange | null } | null {
  if (m !== 'processes' && t.ignore?.includes(m)) return null;
  if (t.metric === m || (t.metric === 'any' && m !== 'processes')) {
    return { warning: t.warning, critical: t.critical };
  }
  // --metric processes counts every bucket already; otherwise a bucket that -w/-c do not apply
  // to still warns above 0, so an explicit `--metric units` never hides sessions or containers.
  if (t.metric === 'processes' || m === 'processes') return null;
  return { warning: DEFAULT_RANGE, critical: null };
}

function thresholdField(r: ThresholdRange | null): string {
  return r === null ? '' : r.text;
}

/** `'label'=value;warn;crit;min[;max]` per the plugin guidelines, in a fixed order. */
export function perfdata(c: CheckCounts, t: CheckThresholds): string {
  const item = (m: CheckBucket | 'processes') => {
    const r = rangesFor(t, m);
    const th = r === null ? ';' : `${thresholdField(r.warning)};${thresholdField(r.critical)}`;
    return `'${m}'=${c[m]};${th};0`;
  };
  return [
    item('processes'),
    item('units'),
    item('sessions'),
    item('containers'),
    item('vms'),
    item('unmanaged'),
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

function stateOf(
  value: number,
  r: { warning: ThresholdRange | null; critical: ThresholdRange | null },
): NagiosState {
  if (r.critical !== null && alerts(r.critical, value)) return 'CRITICAL';
  if (r.warning !== null && alerts(r.warning, value)) return 'WARNING';
  return 'OK';
}

/** The state from the stale code, and the buckets that raised it. */
export function evaluate(
  c: CheckCounts,
  t: CheckThresholds,
): { state: NagiosState; alerting: CheckBucket[] } {
  let state: NagiosState = 'OK';
  const alerting: CheckBucket[] = [];
  const total = rangesFor(t, 'processes');
  if (total !== null) {
    state = stateOf(c.processes, total);
    if (state !== 'OK') alerting.push(...CHECK_BUCKETS.filter((b) => c[b] > 0));
  }
  for (const b of CHECK_BUCKETS) {
    const r = rangesFor(t, b);
    if (r === null) continue;
    const s = stateOf(c[b], r);
    if (s !== 'OK') alerting.push(b);
    state = worst(state, s);
  }
  return { state, alerting };
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

function pidList(pids: readonly number[]): string {
  const shown = pids.slice(0, MAX_PIDS).join(',');
  return pids.length > MAX_PIDS ? `${shown} (+${pids.length - MAX_PIDS})` : shown;
}

/** At most `max` UTF-8 bytes, cut on a character boundary and marked with "…". */
export function clipBytes(s: string, max: number): string {
  if (Buffer.byteLength(s) <= max) return s;
  let out = '';
  let bytes = 0;
  const budget = max - 3; // "…" is 3 bytes
  for (const ch of s) {
    const n = Buffer.byteLength(ch);
    if (bytes + n > budget) break;
    out += ch;
    bytes += n;
  }
  return `${out}…`;
}

function clipName(s: string): string {
  const chars = [...s];
  return chars.length > MAX_NAME_CHARS ? `${chars.slice(0, MAX_NAME_CHARS - 1).join('')}…` : s;
}

function entryLine(g: Group, lookupFailed: boolean): string {
  const { name, kind } = entryLabel(g.owner);
  const files = g.files
    .filter((f) => f.kind === 'code')
    .map(
      (f) =>
        `${f.path} (${f.package ? `${f.package.name} ${f.package.version}` : lookupFailed ? 'package unknown' : 'not packaged'})`,
    );
  const shown = files.slice(0, MAX_FILES).join(', ');
  const more = files.length > MAX_FILES ? ` and ${files.length - MAX_FILES} more` : '';
  const names = g.names.length ? ` ${g.names.slice(0, MAX_PIDS).join(',')}` : '';
  return safe(
    `${name} (${kind}): PID ${pidList(g.pids)}${names}: ${shown}${more}; action: ${actionText(g.action)}`,
  );
}

const bucketNote = (t: CheckThresholds, b: CheckBucket, alerting: readonly CheckBucket[]) =>
  t.ignore?.includes(b)
    ? ' (ignored)'
    : alerting.includes(b) || t.metric === 'processes'
      ? ''
      : ' (within thresholds)';

/** "2 units (ssh.service, …), 1 session": where the stale processes are and which counted. */
function whereSummary(
  code: readonly Group[],
  c: CheckCounts,
  t: CheckThresholds,
  alerting: readonly CheckBucket[],
): string {
  const of = (b: CheckBucket) => code.filter((g) => bucketOf(g.owner) === b);
  const units = of('units');
  const names = units.map((g) =>
    g.owner.type === 'init' ? 'PID 1' : clipName(entryLabel(g.owner).name),
  );
  const shown = names.slice(0, MAX_NAMES_IN_SUMMARY).join(', ');
  const more =
    names.length > MAX_NAMES_IN_SUMMARY ? ` +${names.length - MAX_NAMES_IN_SUMMARY}` : '';
  const text: Record<CheckBucket, string> = {
    units: `${plural(c.units, 'unit')} (${shown}${more})`,
    sessions: plural(c.sessions, 'session'),
    containers: plural(c.containers, 'container'),
    vms: plural(c.vms, 'virtual machine'),
    unmanaged: `${plural(c.unmanaged, 'process', 'processes')} outside any unit`,
  };
  return CHECK_BUCKETS.filter((b) => c[b] > 0)
    .map((b) => `${text[b]}${bucketNote(t, b, alerting)}`)
    .join(', ');
}

export function formatNagios(h: Health, t: CheckThresholds): NagiosResult {
  const c = countHealth(h);
  const code = codeGroups(h);
  const verdict = evaluate(c, t);
  let state = verdict.state;
  if (h.reboot.required) state = worst(state, REBOOT_STATE[t.rebootState]);

  const parts: string[] = [];
  if (code.length === 0) {
    parts.push(`no process runs outdated code (${h.scan.summary.scanned} scanned)`);
  } else {
    parts.push(
      `outdated code in ${plural(c.processes, 'process', 'processes')}: ${whereSummary(code, c, t, verdict.alerting)}`,
    );
  }
  // Evidence that could not be read and no reason found: UNKNOWN, never "no reboot required".
  const unknownReboot = rebootUnknown(h.reboot);
  if (unknownReboot) state = worst(state, 'UNKNOWN');
  parts.push(
    h.reboot.required
      ? 'reboot required'
      : unknownReboot
        ? 'reboot unknown (evidence unreadable)'
        : 'no reboot required',
  );
  const advisories = advisoryCheck(h.scan.advisories, t.advisoryStates);
  state = worst(state, advisories.state);
  if (advisories.summary !== null) parts.push(advisories.summary);

  // Without root (or CAP_SYS_PTRACE), other users' processes are invisible: a clean result
  // would be a lie.
  const partial = isPartialScan(h.scan);
  const total = h.scan.summary.scanned + h.scan.summary.unreadable;
  let summary = parts.join('; ');
  if (h.restart.error !== null) {
    state = 'UNKNOWN';
    summary = `cannot read the restart state (${h.restart.error}); found so far: ${summary}`;
  }
  if (partial) {
    state = 'UNKNOWN';
    const failed = h.scan.summary.failed ?? 0;
    const lacking = missingPrivilege(h.scan);
    const remedy =
      failed > 0
        ? `${failed} failed (${readErrorText(h.scan)})`
        : lacking === 'root'
          ? 'run as root to see all'
          : lacking === 'CAP_SYS_PTRACE'
            ? 'give afterpatch CAP_SYS_PTRACE'
            : 'access denied even to root';
    summary = `cannot read ${h.scan.summary.unreadable} of ${total} processes: ${remedy}; found so far: ${summary}`;
  }

  // Reboot reasons first: they are few and must survive a truncation of long output.
  const long: string[] = h.reboot.reasons.map((r) => safe(`reboot required: ${describeReason(r)}`));
  for (const u of h.reboot.unknown ?? [])
    long.push(safe(`${unknownReboot ? 'reboot unknown' : 'note: not checked'}: ${u}`));
  long.push(...advisories.long.map(safe));
  const lookupFailed = h.scan.packageLookupError !== undefined;
  long.push(...code.slice(0, MAX_ENTRY_LINES).map((g) => entryLine(g, lookupFailed)));
  if (code.length > MAX_ENTRY_LINES)
    long.push(`and ${code.length - MAX_ENTRY_LINES} more (afterpatch scan lists them all)`);
  for (const n of h.reboot.notes) long.push(safe(`note: ${n}`));
  if (h.scan.summary.unreadable > 0 && !partial) {
    long.push(
      `note: ${h.scan.summary.unreadable} of ${total} processes could not be read (access denied even to root)`,
    );
  }
  const notDone = Object.entries(h.restart.outcomes).filter(([o, n]) => o !== 'verified' && n > 0);
  if (notDone.length > 0) {
    long.push(
      `note: last restarts not verified: ${notDone.map(([o, n]) => `${n} ${o}`).join(', ')} (see afterpatch restart --dry-run)`,
    );
  }
  for (const w of h.scan.warnings) long.push(safe(`warning: ${w}`));

  const perf = ` | ${perfdata(c, t)}`;
  const head = `${PLUGIN_NAME} ${state} - `;
  const text = safe(summary);
  const first = `${head}${clipBytes(text, MAX_FIRST_LINE_BYTES - Buffer.byteLength(head + perf))}${perf}`;
  return {
    state,
    exitCode: NAGIOS_EXIT[state],
    text: boundOutput(first, long),
    summary: text,
    alerting: verdict.alerting,
  };
}

/** The first line, then as many long-output lines as fit in MAX_OUTPUT_BYTES, then "… and N more". */
function boundOutput(first: string, long: readonly string[]): string {
  const RESERVE = 80; // room for the "… and N more" line
  const out = [first];
  let bytes = Buffer.byteLength(first) + 1;
  for (let i = 0; i < long.length; i++) {
    const line = clipBytes(long[i] ?? '', MAX_LINE_BYTES);
    const n = Buffer.byteLength(line) + 1;
    const last = i === long.length - 1;
    if (bytes + n + (last ? 0 : RESERVE) > MAX_OUTPUT_BYTES) {
      out.push(`… and ${long.length - i} more lines (afterpatch scan lists them all)`);
      break;
    }
    out.push(line);
    bytes += n;
  }
  return `${out.join('\n')}\n`;
}

/** The output for an error: UNKNOWN, one line, no perfdata. */
export function formatNagiosError(message: string): NagiosResult {
  const line = clipBytes(
    `${PLUGIN_NAME} UNKNOWN - ${safe(message.split('\n')[0] ?? message)}`,
    MAX_FIRST_LINE_BYTES,
  );
  return {
    state: 'UNKNOWN',
    exitCode: NAGIOS_EXIT.UNKNOWN,
    text: `${line}\n`,
    summary: line.slice(`${PLUGIN_NAME} UNKNOWN - `.length),
    alerting: [],
  };
}
