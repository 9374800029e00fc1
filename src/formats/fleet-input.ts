// What `report` reads of each document (docs/fleet.md, "Validation"): the fields its verdict
// needs, typed with the same building blocks as the documents. Everything else may be absent
// (the Ansible module's slim scan, an older afterpatch) or newer (ignored, as docs/json.md
// promises); what is read must have its type, else the input is refused, never counted clean.
import * as v from 'valibot';
import { VerdictSchema } from './advisory.ts';
import { Count, KindSchema } from './common.ts';
import { RebootReasonSchema } from './reboot.ts';
import { OutcomeSchema } from './restart.ts';

/**
 * A time `report` orders results by: ISO 8601 with a zone (what the CLI and the Ansible modules
 * write). Anything else is refused: an unreadable time must not win as "the newest". An empty
 * string counts as no time (input order decides).
 */
export const ReadTime = v.pipe(
  v.string(),
  v.check(
    (s) =>
      s === '' ||
      (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/.test(s) &&
        !Number.isNaN(Date.parse(s))),
    'not an ISO 8601 time',
  ),
);

/** `format` and `formatVersion`, checked before the rest (a newer version says "upgrade"). */
export const EnvelopeReadSchema = v.looseObject({
  format: v.string(),
  formatVersion: v.optional(v.unknown()),
  hostname: v.optional(v.string()),
  time: v.optional(ReadTime),
});

const where = { unit: v.optional(v.nullable(v.string())), key: v.optional(v.string()) };

export const ScanPartSchema = v.looseObject({
  time: v.optional(ReadTime),
  /**
   * Whether the host's scan could not read some processes (see scanIsPartial). Absent from
   * documents of earlier versions, which are judged by `asRoot` and `summary.unreadable`: those
   * two are required (every version writes them), so a scan that does not say how much it read
   * is refused, never counted clean.
   */
  partial: v.optional(v.boolean()),
  asRoot: v.boolean(),
  summary: v.looseObject({
    unreadable: Count,
    // Read by the partial rule when present (src/scan/coverage.ts): checked, never coerced.
    failed: v.optional(Count),
    scanned: v.optional(Count),
  }),
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
  time: v.optional(ReadTime),
  /** Required: a document that does not say whether it acted is not read as a real run. */
  dryRun: v.boolean(),
  /** The plan's scan: how many processes it could not read (the document has no `asRoot`). */
  scan: v.looseObject({ unreadable: Count }),
  /** Whether that scan was partial; absent from earlier versions (then: any unreadable process). */
  partial: v.optional(v.boolean()),
  interrupted: v.optional(v.nullable(v.string())),
  plan: v.array(v.looseObject({ ...where, action: v.optional(v.string()) })),
  results: v.array(v.looseObject({ ...where, outcome: OutcomeSchema })),
});

export const RebootPartSchema = v.looseObject({
  time: v.optional(ReadTime),
  required: v.boolean(),
  // A reason of a newer afterpatch is shown by its type.
  reasons: v.array(v.union([RebootReasonSchema, v.looseObject({ type: v.string() })])),
  /** Evidence that could not be read (afterpatch-reboot `unknown`); absent in older documents. */
  unknown: v.optional(v.array(v.string())),
});

/** The combined per-host object (src/formats/host.ts) as `report` reads it. */
export const HostReadSchema = v.looseObject({
  host: v.string(),
  time: v.optional(v.nullable(ReadTime)),
  failed: v.optional(v.boolean()),
  msg: v.optional(v.string()),
  /** The module's own verdicts: a `true` counts even when the parts say otherwise. */
  needs_restart: v.optional(v.boolean()),
  needs_reboot: v.optional(v.boolean()),
  /** The module's health_command: any `rc` but 0 (null: it could not start) fails the host. */
  health: v.optional(v.looseObject({ rc: v.nullable(v.number()) })),
});

export const PART_SCHEMAS = {
  scan: ScanPartSchema,
  restart: RestartPartSchema,
  reboot: RebootPartSchema,
} as const;

export type ScanPart = v.InferOutput<typeof ScanPartSchema>;
export type RestartPart = v.InferOutput<typeof RestartPartSchema>;
export type RebootPart = v.InferOutput<typeof RebootPartSchema>;
