// Merges many hosts' JSON results (scan, restart, reboot-required or the Ansible module's combined
// per-host object) into one fleet view. Pure: no I/O, so the rules are tested table-driven.
import * as v from 'valibot';
import { printable } from '../output/style.ts';

/** Bad input; `source` is the file (or "-") and `line` the JSON Lines line when known. */
export class FleetInputError extends Error {
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

type Json = Record<string, unknown>;

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

const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

/** What a host's parts say, before merging. */
export interface HostPart {
  host: string;
  /** ISO time of the part (null when the document carries none: input order decides). */
  time: string | null;
  /** Input order, to break ties. */
  seq: number;
  kind: 'scan' | 'restart' | 'reboot' | 'status';
  data: Json;
}

const KNOWN = {
  'afterpatch-scan': 'scan',
  'afterpatch-restart': 'restart',
  'afterpatch-reboot': 'reboot',
} as const;

function checkVersion(d: Json, where: RawDocument): void {
  const v = d.formatVersion;
  if (typeof v !== 'number' || v < 1) {
    throw new FleetInputError(
      where.source,
      where.line,
      `"${String(d.format)}" without a valid formatVersion`,
    );
  }
  if (v > 1) {
    throw new FleetInputError(
      where.source,
      where.line,
      `${String(d.format)} format version ${v} is newer than this afterpatch reads (1): upgrade afterpatch`,
    );
  }
}

// What each kind of result must carry to be read as one (extra fields are allowed). A part
// without them is an input error, never a clean host (issue 11.5).
const named = v.looseObject({});
const PART_SCHEMAS = {
  scan: v.looseObject({ entries: v.array(named) }),
  restart: v.looseObject({
    plan: v.array(named),
    results: v.array(v.looseObject({ outcome: v.string() })),
  }),
  reboot: v.looseObject({ required: v.boolean(), reasons: v.array(v.unknown()) }),
} as const;

/** Null when `data` is a usable result of its kind, else what is wrong with it. */
export function partProblem(kind: keyof typeof PART_SCHEMAS, data: unknown): string | null {
  const r = v.safeParse(PART_SCHEMAS[kind], data);
  if (r.success) return null;
  const issue = r.issues[0];
  const path = v.getDotPath(issue);
  return `${path === null ? '' : `"${path}": `}${issue.message}`;
}

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
  const format = d.format;
  if (typeof format === 'string') {
    const kind = KNOWN[format as keyof typeof KNOWN] as
      | (typeof KNOWN)[keyof typeof KNOWN]
      | undefined;
    if (kind === undefined) throw bad(`unknown format "${format}"`);
    checkVersion(d, where);
    const host = str(d.hostname) ?? fallbackHost;
    if (host === null) {
      throw bad(
        `${format} document without a host name: give it in a file named after the host, or wrap it as {"host": ..., "${kind}": ...}`,
      );
    }
    const problem = partProblem(kind, d);
    if (problem !== null)
      throw bad(`${format} document of host ${host} is not usable (${problem})`);
    return [{ host, time: str(d.time), seq, kind, data: d }];
  }
  const host = str(d.host);
  if (host === null) {
    throw bad(
      'not an afterpatch document (expected scan, restart or reboot-required --json, or a per-host object with "host")',
    );
  }
  const time = str(d.time);
  const parts: HostPart[] = [];
  for (const kind of ['scan', 'restart', 'reboot'] as const) {
    const p = d[kind];
    if (p === undefined || p === null) continue;
    if (!isObj(p)) throw bad(`"${kind}" of host ${host} is not an object`);
    if (typeof p.formatVersion === 'number') checkVersion(p, where);
    const problem = partProblem(kind, p);
    if (problem !== null)
      throw bad(`"${kind}" of host ${host} is not a usable result (${problem})`);
    parts.push({ host, time: str(p.time) ?? time, seq, kind, data: p });
  }
  if (d.failed !== true && parts.length === 0) {
    throw bad(
      `host ${host} has no scan, restart or reboot result and did not fail: nothing to judge`,
    );
  }
  if (d.failed === true) {
    parts.push({
      host,
      time,
      seq,
      kind: 'status',
      data: { failed: d.failed === true, msg: typeof d.msg === 'string' ? d.msg : '' },
    });
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

export interface FleetHost {
  host: string;
  /** Latest time among the parts used (null when none carried a time). */
  time: string | null;
  needsRestart: boolean;
  needsReboot: boolean;
  /** The module (or the run) failed on this host; `msg` says why. */
  failed: boolean;
  msg: string | null;
  clean: boolean;
  /** Units (or entry keys without a unit) that still run outdated code. */
  units: string[];
  /** Packages owning the outdated files. */
  packages: string[];
  /** Units a restart verified. */
  restarted: string[];
  /** Units whose restart failed, timed out or left stale processes. */
  restartFailed: string[];
  rebootReasons: string[];
  /** Which kinds of results the view was built from. */
  sources: string[];
}

export interface FleetCount {
  name: string;
  hosts: number;
  hostnames: string[];
}

export interface FleetView {
  summary: {
    hosts: number;
    needRestart: number;
    needReboot: number;
    failed: number;
    clean: number;
  };
  hosts: FleetHost[];
  units: FleetCount[];
  packages: FleetCount[];
}

const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const ACTIONS = new Set(['restart', 'reload', 'daemon-reexec', 'reexec-user-manager']);
const entryName = (e: Json): string => str(e.unit) ?? str(e.key) ?? '?';

function scanFindings(s: Json): { units: string[]; packages: string[] } {
  const units: string[] = [];
  const packages = new Set<string>();
  for (const e of arr(s.entries)) {
    if (!isObj(e) || e.severity === 'data') continue;
    units.push(entryName(e));
    for (const p of arr(e.packages)) if (typeof p === 'string') packages.add(p);
    for (const f of arr(e.files)) {
      if (isObj(f) && f.kind !== 'data' && isObj(f.package)) {
        const n = str(f.package.name);
        if (n) packages.add(n);
      }
    }
  }
  return { units, packages: [...packages] };
}

function describeReason(r: unknown): string {
  if (!isObj(r)) return String(r);
  switch (r.type) {
    case 'kernel-newer':
      return `kernel ${String(r.newest)} installed, ${String(r.running)} running`;
    case 'kernel-rebuilt':
      return `kernel ${String(r.release)} rebuilt`;
    case 'sentinel':
      return `${String(r.file)}${arr(r.packages).length ? ` (${arr(r.packages).join(', ')})` : ''}`;
    case 'stale-package':
      return `stale ${String(r.package)} only a reboot replaces`;
    default:
      return String(r.type ?? 'unknown reason');
  }
}

/** One host's view from its latest part of each kind. */
export function hostView(host: string, parts: readonly HostPart[]): FleetHost {
  const latest = new Map<HostPart['kind'], HostPart>();
  for (const p of parts) {
    const cur = latest.get(p.kind);
    if (cur === undefined || newer(p, cur)) latest.set(p.kind, p);
  }
  const scan = latest.get('scan');
  const restart = latest.get('restart');
  const reboot = latest.get('reboot');
  const status = latest.get('status');
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
    const results = arr(r.results).filter(isObj);
    for (const x of results) {
      if (x.outcome === 'verified') restarted.push(entryName(x));
      else restartFailed.push(entryName(x));
    }
    if (restartIsLatest) {
      // What the restart leaves: failed results, entries it does not act on (a human must), and
      // for a dry run everything it plans.
      for (const u of restartFailed) units.add(u);
      for (const e of arr(r.plan).filter(isObj)) {
        if (r.dryRun === true || !ACTIONS.has(String(e.action))) units.add(entryName(e));
      }
      if (scan !== undefined) {
        for (const p of scanFindings(scan.data).packages) packages.add(p);
      }
    }
  }
  const rebootReasons: string[] = [];
  let needsReboot = false;
  if (reboot !== undefined) {
    needsReboot = reboot.data.required === true;
    for (const r of arr(reboot.data.reasons)) {
      rebootReasons.push(describeReason(r));
      if (isObj(r) && r.type === 'stale-package' && typeof r.package === 'string') {
        packages.add(r.package);
      }
    }
  }
  const used = [scan, restart, reboot, status].filter((p): p is HostPart => p !== undefined);
  // A failure counts only when it is the host's latest word.
  const lastData = used
    .filter((p) => p !== status)
    .reduce<HostPart | undefined>((a, p) => (a === undefined || newer(p, a) ? p : a), undefined);
  const failed =
    status !== undefined &&
    status.data.failed === true &&
    (lastData === undefined || !newer(lastData, status));
  const times = used.map((p) => p.time).filter((t): t is string => t !== null);
  const time = times.sort((a, b) => Date.parse(a) - Date.parse(b)).at(-1) ?? null;
  const needsRestart = units.size > 0;
  return {
    host,
    time,
    needsRestart,
    needsReboot,
    failed,
    msg: failed && status ? String(status.data.msg || '') || null : null,
    clean: !needsRestart && !needsReboot && !failed,
    units: [...units].sort(),
    packages: [...packages].sort(),
    restarted: restarted.sort(),
    restartFailed: restartFailed.sort(),
    rebootReasons,
    sources: used.map((p) => p.kind),
  };
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
      clean: hosts.filter((h) => h.clean).length,
    },
    hosts,
    units: counts(hosts, (h) => h.units),
    packages: counts(hosts, (h) => h.packages),
  };
}

/** 0 all clean, 1 some host needs a restart or a reboot (or failed). */
export function fleetExitCode(v: FleetView): number {
  return v.hosts.every((h) => h.clean) ? 0 : 1;
}
