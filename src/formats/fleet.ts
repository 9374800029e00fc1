// `afterpatch report --json` (format afterpatch-fleet, docs/fleet.md): many hosts' results merged.
import * as v from 'valibot';
import { VERDICTS, VerdictSchema } from './advisory.ts';
import { Count, envelope, IsoTime } from './common.ts';

/** One advisory's verdict on one host, as its latest scan says (docs/advisories.md). */
export const HostAdvisorySchema = v.object({
  id: v.string(),
  verdict: VerdictSchema,
  reasons: v.array(v.string()),
});

const perVerdict = <S extends v.GenericSchema>(s: S) =>
  v.object(Object.fromEntries(VERDICTS.map((k) => [k, s])) as Record<(typeof VERDICTS)[number], S>);

/** One row of the fleet-wide CVE table. */
export const FleetAdvisorySchema = v.object({
  id: v.string(),
  /** The worst verdict over the hosts that assessed it. */
  verdict: VerdictSchema,
  /** Hosts per verdict (every verdict present, worst first). */
  hosts: perVerdict(v.array(v.string())),
  counts: perVerdict(Count),
  /** Hosts whose latest scan did not assess this advisory: not clean, not vulnerable — unknown. */
  notAssessed: v.array(v.string()),
});

export const FleetHostSchema = v.object({
  host: v.string(),
  /** Latest time among the parts used (null when none carried a time). */
  time: v.nullable(IsoTime),
  needsRestart: v.boolean(),
  needsReboot: v.boolean(),
  /** The module (or the run) failed on this host; `msg` says why. */
  failed: v.boolean(),
  msg: v.nullable(v.string()),
  /** No scan evidence for the host (only a reboot verdict, say), or only a partial scan (`msg`
   *  says so): neither clean nor stale. */
  unknown: v.boolean(),
  clean: v.boolean(),
  /** Units (or entry keys without a unit) that still run outdated code. */
  units: v.array(v.string()),
  /** Packages owning the outdated files. */
  packages: v.array(v.string()),
  /** Units a restart verified. */
  restarted: v.array(v.string()),
  /** Units whose restart failed, timed out or left stale processes. */
  restartFailed: v.array(v.string()),
  rebootReasons: v.array(v.string()),
  /** Which kinds of results the view was built from. */
  sources: v.array(v.picklist(['scan', 'restart', 'reboot', 'status'])),
  /** The advisories of the latest scan; absent when it assessed none. */
  advisories: v.optional(v.array(HostAdvisorySchema)),
});

export const FleetCountSchema = v.object({
  name: v.string(),
  hosts: Count,
  hostnames: v.array(v.string()),
});

export const FleetViewSchema = v.object({
  summary: v.object({
    hosts: Count,
    needRestart: Count,
    needReboot: Count,
    failed: Count,
    unknown: Count,
    clean: Count,
  }),
  hosts: v.array(FleetHostSchema),
  units: v.array(FleetCountSchema),
  packages: v.array(FleetCountSchema),
  /** The fleet-wide CVE table; absent when no scan assessed an advisory. */
  advisories: v.optional(v.array(FleetAdvisorySchema)),
});

export const FleetDocumentSchema = v.object({
  ...envelope('afterpatch-fleet'),
  time: IsoTime,
  ...FleetViewSchema.entries,
});

export type FleetHost = v.InferOutput<typeof FleetHostSchema>;
export type HostAdvisory = v.InferOutput<typeof HostAdvisorySchema>;
export type FleetAdvisory = v.InferOutput<typeof FleetAdvisorySchema>;
export type FleetCount = v.InferOutput<typeof FleetCountSchema>;
export type FleetView = v.InferOutput<typeof FleetViewSchema>;
export type FleetDocument = v.InferOutput<typeof FleetDocumentSchema>;
