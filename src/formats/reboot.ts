// `afterpatch reboot-required --json` (format afterpatch-reboot, docs/reboot.md).
import * as v from 'valibot';
import type { RebootReport } from '../reboot/reboot.ts';
import { VERSION } from '../version.ts';
import { envelope, IsoTime, Pid } from './common.ts';

const livepatches = v.optional(v.array(v.string()));

/** Why a reboot is needed (docs/reboot.md); `type` says which fields follow. */
export const RebootReasonSchema = v.variant('type', [
  v.object({
    type: v.literal('kernel-newer'),
    running: v.string(),
    newest: v.string(),
    livepatches,
  }),
  v.object({
    type: v.literal('kernel-rebuilt'),
    release: v.string(),
    running: v.string(),
    installed: v.string(),
    livepatches,
  }),
  v.object({
    type: v.literal('microcode'),
    cpu: v.string(),
    running: v.string(),
    available: v.string(),
    file: v.string(),
    date: v.string(),
    mixed: v.optional(v.array(v.string())),
  }),
  v.object({ type: v.literal('sentinel'), file: v.string(), packages: v.array(v.string()) }),
  v.object({
    type: v.literal('stale-package'),
    package: v.string(),
    files: v.array(v.string()),
    pids: v.array(Pid),
  }),
]);

export const MicrocodeCheckSchema = v.variant('status', [
  v.object({ status: v.literal('not-applicable'), why: v.string() }),
  v.object({ status: v.literal('unknown'), why: v.string() }),
  v.object({
    status: v.picklist(['current', 'pending']),
    cpu: v.string(),
    running: v.string(),
    mixed: v.nullable(v.array(v.string())),
    available: v.nullable(v.object({ revision: v.string(), file: v.string(), date: v.string() })),
  }),
]);

export const LivepatchSchema = v.object({
  name: v.string(),
  source: v.picklist(['livepatch', 'kpatch']),
  enabled: v.nullable(v.boolean()),
  transition: v.nullable(v.boolean()),
});

/** The verdict without the envelope, as `check --json` embeds it too. */
export const rebootVerdictFields = {
  required: v.boolean(),
  /** False inside a container: the kernel belongs to the host. */
  applicable: v.boolean(),
  reasons: v.array(RebootReasonSchema),
  notes: v.array(v.string()),
  /**
   * Evidence that could not be read and could have been a reason; `required` false with a
   * non-empty `unknown` means the verdict is unknown (reboot-required exits 3). Absent in
   * documents of older versions.
   */
  unknown: v.optional(v.array(v.string())),
};

export const RebootDocumentSchema = v.object({
  ...envelope('afterpatch-reboot'),
  hostname: v.string(),
  time: IsoTime,
  ...rebootVerdictFields,
  microcode: v.optional(MicrocodeCheckSchema),
  livepatches: v.optional(v.array(LivepatchSchema)),
  /** Reasons the configuration says not to count (`by` names the key). */
  waived: v.optional(v.array(v.object({ reason: RebootReasonSchema, by: v.string() }))),
  /** Packages appended to reboot-required.pkgs by --sentinel; null without --sentinel. */
  sentinelWritten: v.nullable(v.array(v.string())),
  /** The sentinel file written by --sentinel. */
  sentinelFile: v.optional(v.nullable(v.string())),
});

export type RebootDocument = v.InferOutput<typeof RebootDocumentSchema>;
export type RebootReasonDoc = v.InferOutput<typeof RebootReasonSchema>;

/**
 * The verdict as the published document, field by field (hostname and time as in the other
 * documents, so `report` can merge it). Optional fields left undefined are not written.
 */
export function rebootDocument(r: RebootReport, hostname: string, time: string): RebootDocument {
  return {
    format: 'afterpatch-reboot',
    formatVersion: 1,
    afterpatch: VERSION,
    hostname,
    time,
    required: r.required,
    applicable: r.applicable,
    reasons: r.reasons,
    notes: r.notes,
    unknown: r.unknown ?? [],
    microcode: r.microcode,
    livepatches: r.livepatches,
    waived: r.waived,
    sentinelWritten: r.sentinelWritten,
    sentinelFile: r.sentinelFile,
  };
}
