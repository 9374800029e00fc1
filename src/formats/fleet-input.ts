// What `report` reads of each document (docs/fleet.md, "Validation"): the fields its verdict
// needs, typed with the same building blocks as the documents. Everything else may be absent
// (the Ansible module's slim scan, an older afterpatch) or newer (ignored, as docs/json.md
// promises); what is read must have its type, else the input is refused, never counted clean.
import * as v from 'valibot';
import { VerdictSchema } from './advisory.ts';
import { KindSchema } from './common.ts';
import { RebootReasonSchema } from './reboot.ts';
import { OutcomeSchema } from './restart.ts';

/** `format` and `formatVersion`, checked before the rest (a newer version says "upgrade"). */
export const EnvelopeReadSchema = v.looseObject({
  format: v.string(),
  formatVersion: v.optional(v.unknown()),
  hostname: v.optional(v.string()),
  time: v.optional(v.string()),
});

const where = { unit: v.optional(v.nullable(v.string())), key: v.optional(v.string()) };

export const ScanPartSchema = v.looseObject({
  time: v.optional(v.string()),
  /** Whether the host's scan could not read some processes (see scanIsPartial). */
  partial: v.optional(v.boolean()),
  asRoot: v.optional(v.boolean()),
  summary: v.optional(v.looseObject({ unreadable: v.optional(v.number()) })),
  entries: v.array(
    v.looseObject({
      ...where,
      severity: v.optional(KindSchema),
      files: v.optional(
        v.array(
          v.looseObject({
            kind: v.optional(KindSchema),
            package: v.optional(v.nullable(v.looseObject({ name: v.string() }))),
          }),
        ),
      ),
      /** The slim scan names the packages instead of listing files. */
      packages: v.optional(v.array(v.string())),
    }),
  ),
});

/**
 * A scan's `advisories`, read apart from the scan part: a list this cannot read makes the host's
 * advisories `unknown` (src/fleet/advisories.ts), never clean, and the rest of the scan still counts.
 */
export const ScanAdvisoriesReadSchema = v.array(
  v.looseObject({
    id: v.pipe(v.string(), v.maxLength(64)),
    verdict: VerdictSchema,
    reasons: v.array(v.looseObject({ verdict: VerdictSchema, why: v.string() })),
  }),
);

export const RestartPartSchema = v.looseObject({
  time: v.optional(v.string()),
  dryRun: v.optional(v.boolean()),
  plan: v.array(v.looseObject({ ...where, action: v.optional(v.string()) })),
  results: v.array(v.looseObject({ ...where, outcome: OutcomeSchema })),
});

export const RebootPartSchema = v.looseObject({
  time: v.optional(v.string()),
  required: v.boolean(),
  // A reason of a newer afterpatch is shown by its type.
  reasons: v.array(v.union([RebootReasonSchema, v.looseObject({ type: v.string() })])),
  /** Evidence that could not be read (afterpatch-reboot `unknown`); absent in older documents. */
  unknown: v.optional(v.array(v.string())),
});

/** The combined per-host object (src/formats/host.ts) as `report` reads it. */
export const HostReadSchema = v.looseObject({
  host: v.string(),
  time: v.optional(v.nullable(v.string())),
  failed: v.optional(v.boolean()),
  msg: v.optional(v.string()),
});

export const PART_SCHEMAS = {
  scan: ScanPartSchema,
  restart: RestartPartSchema,
  reboot: RebootPartSchema,
} as const;

export type ScanPart = v.InferOutput<typeof ScanPartSchema>;
export type RestartPart = v.InferOutput<typeof RestartPartSchema>;
export type RebootPart = v.InferOutput<typeof RebootPartSchema>;
