// Merges many hosts' JSON results (scan, restart, reboot-required or the Ansible module's combined
// per-host object) into one fleet view. Pure: no I/O, so the rules are tested table-driven.

import * as v from 'valibot';
import { UserError } from '../errors.ts';
import { rebootUnknown } from '../exit.ts';
import type { FleetCount, FleetHost, FleetView } from '../formats/fleet.ts';
import {
  EnvelopeReadSchema,
  HostReadSchema,
  PART_SCHEMAS,
  type RebootPart,
  type RestartPart,
  type ScanPart,
} from '../formats/fleet-input.ts';
import { RebootReasonSchema } from '../formats/reboot.ts';
import { isActing } from '../grouping/owner.ts';
import { printable } from '../output/style.ts';
import { describeReason } from '../reboot/reboot.ts';
import { isPartialScan } from '../scan/coverage.ts';
import { fleetAdvisoryTable, scanAdvisories } from './advisories.ts';

/** Bad input; `source` is the file (or "-") and `line` the JSON Lines line when known. */
export class FleetInputError extends UserError {
  constructor(
    readonly source: string,
    readonly line: number | null,
    detail: string,
  ) {
    // One line, escaped: the detail can quote the input (a host name, JSON.parse's excerpt).
    super(printable(`${source}${line === null ? '' : `:${line}`}: ${detail}`));
    this.name = 'FleetInputError';
  }
}

/** One document found in an input, with where it came from. */
export interface RawDocument {
  doc: unknown;
  source: string;
  line: number | null;
}

/**
 * Splits an input into documents: one JSON object, a JSON array of them, or JSON Lines (one per
 * line; recognised when the first non-blank line is a complete JSON value on its own).
 */
export function parseInput(text: string, source: string): RawDocument[] {
  const lines = text.split('\n');
  const first = lines.findIndex((l) => l.trim() !== '');
  if (first === -1) throw new FleetInputError(source, null, 'no JSON document (empty input)');
  const firstLine = (lines[first] ?? '').trim();
  const nonBlank = lines.filter((l) => l.trim() !== '').length;
  if (nonBlank > 1 && parses(firstLine)) {
    const out: RawDocument[] = [];
    lines.forEach((l, i) => {
      if (l.trim() === '') return;
      try {
        out.push({ doc: JSON.parse(l), source, line: i + 1 });
      } catch (e) {
        throw new FleetInputError(source, i + 1, `not valid JSON (${(e as Error).message})`);
      }
    });
    return out;
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new FleetInputError(source, null, `not valid JSON (${(e as Error).message})`);
  }
  if (Array.isArray(doc)) return doc.map((d) => ({ doc: d, source, line: null }));
  return [{ doc, source, line: null }];
}

function parses(s: string): boolean {
  try {
    JSON.parse(s);
    return true;
  } catch {
    return false;
  }
}

const nonEmpty = (s: string | null | undefined): string | null => (s ? s : null);

/** What a host's parts say, before merging. */
export type HostPart = {
  host: string;
  /** ISO time of the part (null when the document carries none: input order decides). */
  time: string | null;
  /** Input order, to break ties. */
  seq: number;
} & (
  | { kind: 'scan'; data: ScanPart }
  | { kind: 'restart'; data: RestartPart }
  | { kind: 'reboot'; data: RebootPart }
  | { kind: 'status'; data: HostStatus }
);

/**
 * What a combined per-host object says beside its parts: the module's failure and verdicts, its
 * health command, and the parts it carries as `null` (tried, nothing read). Pushed only when one
 * of them says something; it counts while the object is the host's latest word.
 */
export interface HostStatus {
  failed: boolean;
  msg: string;
  /** The health command's status when it was not 0 (null: it could not be started). */
  healthFailed?: { rc: number | null } | undefined;
  needsRestart?: boolean | undefined;
  needsReboot?: boolean | undefined;
  /** `scan: null`: no scan was read by this object. */
  noScan?: boolean | undefined;
  /** `reboot: null`: no reboot verdict was read (never "no reboot"). */
  noReboot?: boolean | undefined;
}
type Kind = keyof typeof PART_SCHEMAS;
type PartOf<K extends HostPart['kind']> = Extract<HostPart, { kind: K }>;

const KNOWN: Record<string, Kind> = {
  'afterpatch-scan': 'scan',
  'afterpatch-restart': 'restart',
  'afterpatch-reboot': 'reboot',
};

function checkVersion(format: string, version: unknown, where: RawDocument): void {
  if (typeof version !== 'number' || version < 1) {
    throw new FleetInputError(
      where.source,
      where.line,
      `"${format}" without a valid formatVersion`,
    );
  }
  if (version > 1) {
    throw new FleetInputError(
      where.source,
      where.line,
      `${format} format version ${version} is newer than this afterpatch reads (1): upgrade afterpatch`,
    );
  }
}

/** Where the first problem is ("results.0.outcome") and what it is. */
function problemOf(issues: readonly v.BaseIssue<unknown>[]): string {
  const issue = issues[0] as v.BaseIssue<unknown>;
  const path = v.getDotPath(issue);
  // A required field left out: say so plainly (valibot words it "Invalid key").
  if (path !== null && issue.kind === 'schema' && issue.received === 'undefined')
    return `"${path}" is missing`;
  return `${path === null ? '' : `"${path}": `}${issue.message}`;
}

/** Null when `data` is a usable result of its kind, else what is wrong with it. */
export function partProblem(kind: Kind, data: unknown): string | null {
  const r = v.safeParse(PART_SCHEMAS[kind], data);
  return r.success ? null : problemOf(r.issues);
}

/** The part of one kind, parsed by its schema (src/formats/fleet-input.ts); `bad` words the refusal. */
function readPart(
  kind: Kind,
  data: unknown,
  base: { host: string; seq: number; time: string | null },
  bad: (problem: string) => FleetInputError,
): HostPart {
  const r = v.safeParse(PART_SCHEMAS[kind], data);
  if (!r.success) throw bad(problemOf(r.issues));
  const time = nonEmpty(r.output.time) ?? base.time;
  return { ...base, time, kind, data: r.output } as HostPart;
}

const isObj = (x: unknown): x is Record<string, unknown> =>
  typeof x === 'object' && x !== null && !Array.isArray(x);

/**
 * The parts of one document. `fallbackHost` names documents that carry no host name
 * (`reboot-required --json`): the file's base name, as `ansible --tree DIR` names its files.
 */
export function documentParts(
  where: RawDocument,
  seq: number,
  fallbackHost: string | null,
): HostPart[] {
  const d = where.doc;
  const bad = (detail: string) => new FleetInputError(where.source, where.line, detail);
  if (!isObj(d)) throw bad('not a JSON object');
  if (typeof d.format === 'string') {
    const env = v.safeParse(EnvelopeReadSchema, d);
    if (!env.success) throw bad(`${d.format} document is not usable (${problemOf(env.issues)})`);
    const { format, formatVersion } = env.output;
    const kind = KNOWN[format];
    if (kind === undefined) throw bad(`unknown format "${format}"`);
    checkVersion(format, formatVersion, where);
    const host = nonEmpty(env.output.hostname) ?? fallbackHost;
    if (host === null) {
      throw bad(
        `${format} document without a host name: give it in a file named after the host, or wrap it as {"host": ..., "${kind}": ...}`,
      );
    }
    const parts = [
      readPart(kind, d, { host, seq, time: null }, (p) =>
        bad(`${format} document of host ${host} is not usable (${p})`),
      ),
    ];
    // `scan --reboot` carries reboot-required's document: read as if it came alone.
    if (kind === 'scan' && d.reboot !== undefined) {
      if (!isObj(d.reboot)) throw bad(`"reboot" of host ${host}'s scan is not an object`);
      if (d.reboot.formatVersion !== undefined)
        checkVersion('afterpatch-reboot', d.reboot.formatVersion, where);
      parts.push(
        readPart('reboot', d.reboot, { host, seq, time: null }, (p) =>
          bad(`"reboot" of host ${host}'s scan is not a usable result (${p})`),
        ),
      );
    }
    return parts;
  }
  const obj = v.safeParse(HostReadSchema, d);
  const host = obj.success ? nonEmpty(obj.output.host) : null;
  if (!obj.success || host === null) {
    throw bad(
      !obj.success && typeof d.host === 'string' && d.host !== ''
        ? `host ${d.host} is not a usable per-host object (${problemOf(obj.issues)})`
        : 'not an afterpatch document (expected scan, restart or reboot-required --json, or a per-host object with "host")',
    );
  }
  const { failed, msg, health } = obj.output;
  const time = nonEmpty(obj.output.time);
  const parts: HostPart[] = [];
  for (const kind of ['scan', 'restart', 'reboot'] as const) {
    const p = d[kind];
    if (p === undefined || p === null) continue;
    if (!isObj(p)) throw bad(`"${kind}" of host ${host} is not an object`);
    const format = typeof p.format === 'string' ? p.format : kind;
    if (p.formatVersion !== undefined) checkVersion(format, p.formatVersion, where);
    parts.push(
      readPart(kind, p, { host, seq, time }, (problem) =>
        bad(`"${kind}" of host ${host} is not a usable result (${problem})`),
      ),
    );
  }
  if (failed !== true && parts.length === 0) {
    throw bad(
      `host ${host} has no scan, restart or reboot result and did not fail: nothing to judge`,
    );
  }
  const status: HostStatus = {
    failed: failed === true,
    msg: msg ?? '',
    healthFailed: health !== undefined && health.rc !== 0 ? { rc: health.rc } : undefined,
    needsRestart: obj.output.needs_restart === true || undefined,
    needsReboot: obj.output.needs_reboot === true || undefined,
    noScan: d.scan === null || undefined,
    noReboot: d.reboot === null || undefined,
  };
  if (Object.values(status).some((x) => x === true || (typeof x === 'object' && x !== null))) {
    parts.push({ host, time, seq, kind: 'status', data: status });
  }
  return parts;
}

/** Later wins: by time when both have one, otherwise by input order. */
function newer(a: HostPart, b: HostPart): boolean {
  if (a.time !== null && b.time !== null) {
    const ta = Date.parse(a.time);
    const tb = Date.parse(b.time);
    if (!Number.isNaN(ta) && !Number.isNaN(tb) && ta !== tb) return ta > tb;
  }
  return a.seq > b.seq;
}

const entryName = (e: { unit?: string | null | undefined; key?: string | undefined }): string =>
  nonEmpty(e.unit) ?? nonEmpty(e.key) ?? '?';

/**
 * Whether a scan read only part of its host, by the CLI's own rule: its `partial` field, or for
 * a document of an older afterpatch without one, processes unreadable without root.
 */
function scanIsPartial(s: ScanPart): boolean {
  return isPartialScan({ asRoot: s.asRoot, partial: s.partial, summary: s.summary });
}

/**
 * Whether a restart's plan was made from a partial scan: its `partial` field, or for a document
 * of an older afterpatch without one, any process it could not read (a restart document does not
 * say whether it ran as root, so the exception for processes even root cannot read is not made).
 */
function restartIsPartial(r: RestartPart): boolean {
  return r.partial ?? r.scan.unreadable > 0;
}

function scanFindings(s: ScanPart): { units: string[]; packages: string[] } {
  const units: string[] = [];
  const packages = new Set<string>();
  for (const e of s.entries) {
    if (e.severity === 'data') continue;
    units.push(entryName(e));
    for (const p of e.packages ?? []) packages.add(p);
    for (const f of e.files ?? []) {
      const n = f.kind === 'data' ? null : nonEmpty(f.package?.name);
      if (n) packages.add(n);
    }
  }
  return { units, packages: [...packages] };
}

/** reboot-required's own sentence for a reason it knows; a newer afterpatch's reason by its type. */
function reasonText(r: RebootPart['reasons'][number]): string {
  return v.is(RebootReasonSchema, r) ? describeReason(r) : r.type;
}

function latestOf<K extends HostPart['kind']>(
  parts: readonly HostPart[],
  kind: K,
): PartOf<K> | undefined {
  let best: PartOf<K> | undefined;
  for (const p of parts) {
    if (p.kind === kind && (best === undefined || newer(p, best))) best = p as PartOf<K>;
  }
  return best;
}

/** One host's view from its latest part of each kind. */
export function hostView(host: string, parts: readonly HostPart[]): FleetHost {
  const scan = latestOf(parts, 'scan');
  const restart = latestOf(parts, 'restart');
  const reboot = latestOf(parts, 'reboot');
  const status = latestOf(parts, 'status');
  const units = new Set<string>();
  const packages = new Set<string>();
  const restarted: string[] = [];
  const restartFailed: string[] = [];
  const restartIsLatest = restart !== undefined && (scan === undefined || newer(restart, scan));
  if (scan !== undefined && !restartIsLatest) {
    const f = scanFindings(scan.data);
    for (const u of f.units) units.add(u);
    for (const p of f.packages) packages.add(p);
  }
  if (restart !== undefined) {
    const r = restart.data;
    for (const x of r.results) {
      if (x.outcome === 'verified') restarted.push(entryName(x));
      else restartFailed.push(entryName(x));
    }
    if (restartIsLatest) {
      // What the restart leaves: failed results, entries it does not act on (a human must), for
      // a dry run everything it plans, and for a real run what it planned to act on but has no
      // result for (stopped by a signal or an error before that batch).
      for (const u of restartFailed) units.add(u);
      const doneKeys = new Set(r.results.map((x) => x.key).filter((k) => k !== undefined));
      const doneNames = new Set(r.results.map(entryName));
      const done = (e: (typeof r.plan)[number]) =>
        e.key !== undefined ? doneKeys.has(e.key) : doneNames.has(entryName(e));
      for (const e of r.plan) {
        if (r.dryRun || !isActing(String(e.action)) || !done(e)) units.add(entryName(e));
      }
      if (scan !== undefined) {
        for (const p of scanFindings(scan.data).packages) packages.add(p);
      }
    }
  }
  const rebootReasons: string[] = [];
  let needsReboot = false;
  // required: false beside reasons is a verdict that contradicts itself: not "no reboot".
  const rebootContradicts =
    reboot !== undefined && !reboot.data.required && reboot.data.reasons.length > 0;
  if (reboot !== undefined) {
    needsReboot = reboot.data.required;
    for (const r of reboot.data.reasons) {
      rebootReasons.push(reasonText(r));
      if (r.type === 'stale-package' && 'package' in r && typeof r.package === 'string') {
        packages.add(r.package);
      }
    }
  }
  const used = [scan, restart, reboot, status].filter((p): p is HostPart => p !== undefined);
  // A failure counts only when it is the host's latest word: a later *document* clears it, but
  // the results inside the failed object itself (which carry their own, later times) do not.
  const lastData = used
    .filter((p) => p !== status && p.seq !== status?.seq)
    .reduce<HostPart | undefined>((a, p) => (a === undefined || newer(p, a) ? p : a), undefined);
  const said = status !== undefined && (lastData === undefined || !newer(lastData, status));
  const st = said ? status.data : undefined;
  const failed = st !== undefined && (st.failed || st.healthFailed !== undefined);
  if (st?.needsReboot) needsReboot = true;
  // A part the object carried as null counts unless a later document of that kind replaced it.
  const replaced = (p: HostPart | undefined) => p !== undefined && status && newer(p, status);
  const noReboot = status?.data.noReboot === true && !replaced(reboot);
  const noScan = status?.data.noScan === true && !replaced(scan) && !replaced(restart);
  const times = used.map((p) => p.time).filter((t): t is string => t !== null);
  const time = times.sort((a, b) => Date.parse(a) - Date.parse(b)).at(-1) ?? null;
  const needsRestart = units.size > 0 || st?.needsRestart === true;
  const advisories = scan === undefined ? null : scanAdvisories(scan.data);
  // Fail closed: without a scan or a restart nobody read the host's processes, so it is not
  // clean (a reboot verdict alone says nothing about outdated code still running); nor when the
  // scan in use could read only part of them (no root, or no CAP_SYS_PTRACE).
  const partial = scan !== undefined && !restartIsLatest && scanIsPartial(scan.data);
  const restartPartial = restartIsLatest && restartIsPartial(restart.data);
  // A reboot verdict that could not be had (evidence unreadable) is no "no reboot" either.
  const unknownReboot = reboot !== undefined && !needsReboot && rebootUnknown(reboot.data);
  // The first cause that holds is the host's `msg`.
  const why =
    [
      partial &&
        'partial scan: some processes could not be read (no root, no CAP_SYS_PTRACE, or read errors)',
      restartPartial &&
        "partial restart: its plan's scan could not read some processes (no root, no CAP_SYS_PTRACE, or read errors)",
      noScan && 'no scan result (scan: null)',
      noReboot && 'no reboot verdict (reboot: null)',
      rebootContradicts && 'reboot verdict contradicts itself: required false with reasons',
      unknownReboot && `reboot verdict unknown: ${reboot?.data.unknown?.join('; ')}`,
    ].find((x) => typeof x === 'string') ?? null;
  const unknown = !failed && ((scan === undefined && restart === undefined) || why !== null);
  return {
    host,
    time,
    needsRestart,
    needsReboot,
    failed,
    // Not failed here (failed needs a status), so a partial scan is what made the host unknown.
    msg: st !== undefined && failed ? failureMsg(st) : why,
    unknown,
    clean: !needsRestart && !needsReboot && !failed && !unknown,
    units: [...units].sort(),
    packages: [...packages].sort(),
    restarted: restarted.sort(),
    restartFailed: restartFailed.sort(),
    rebootReasons,
    sources: used.filter((p) => p !== status || said).map((p) => p.kind),
    ...(advisories === null ? {} : { advisories }),
  };
}

function failureMsg(st: HostStatus): string | null {
  if (st.msg) return st.msg;
  if (st.healthFailed === undefined) return null;
  const rc = st.healthFailed.rc;
  return rc === null ? 'health command could not be started' : `health command exited ${rc}`;
}

function counts(hosts: readonly FleetHost[], pick: (h: FleetHost) => string[]): FleetCount[] {
  const m = new Map<string, string[]>();
  for (const h of hosts) for (const n of pick(h)) m.set(n, [...(m.get(n) ?? []), h.host]);
  return [...m]
    .map(([name, hostnames]) => ({ name, hosts: hostnames.length, hostnames }))
    .sort((a, b) => b.hosts - a.hosts || a.name.localeCompare(b.name));
}

/** Merges documents (in input order) into the fleet view; hosts are sorted by name. */
export function mergeFleet(
  docs: readonly (RawDocument & { fallbackHost?: string | null })[],
): FleetView {
  // No host at all is no verdict, never an all-clear (docs/fleet.md).
  if (docs.length === 0) throw new UserError('no host in the input: nothing to report');
  const byHost = new Map<string, HostPart[]>();
  docs.forEach((d, seq) => {
    for (const p of documentParts(d, seq, d.fallbackHost ?? null)) {
      byHost.set(p.host, [...(byHost.get(p.host) ?? []), p]);
    }
  });
  const hosts = [...byHost]
    .map(([host, parts]) => hostView(host, parts))
    .sort((a, b) => a.host.localeCompare(b.host));
  return {
    summary: {
      hosts: hosts.length,
      needRestart: hosts.filter((h) => h.needsRestart).length,
      needReboot: hosts.filter((h) => h.needsReboot).length,
      failed: hosts.filter((h) => h.failed).length,
      unknown: hosts.filter((h) => h.unknown).length,
      clean: hosts.filter((h) => h.clean).length,
    },
    hosts,
    units: counts(hosts, (h) => h.units),
    packages: counts(hosts, (h) => h.packages),
    ...(hosts.some((h) => h.advisories) ? { advisories: fleetAdvisoryTable(hosts) } : {}),
  };
}

/** 0 all clean, 1 some host needs a restart or a reboot, failed, or has no scan (unknown). */
export function fleetExitCode(v: FleetView): number {
  // An advisory not clean on some host (or not assessed there) is not a clean fleet either.
  const advisories = (v.advisories ?? []).every((a) => a.verdict === 'clean');
  return v.hosts.every((h) => h.clean) && advisories ? 0 : 1;
}
