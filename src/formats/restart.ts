// `afterpatch restart --json` (format afterpatch-restart, docs/json.md and docs/restart.md).
import * as v from 'valibot';
import { Count, counts, envelope, Integer, IsoTime, KindSchema, Pid } from './common.ts';
import { ScanDocumentSchema, ScanSummarySchema } from './scan.ts';

/** What a restart of a unit ended as; only `verified` means done. */
export const OUTCOMES = ['verified', 'unverified', 'still-stale', 'failed', 'timeout'] as const;
export const OutcomeSchema = v.picklist(OUTCOMES);
export type Outcome = (typeof OUTCOMES)[number];

/** The plan's actions that act on the host (the others leave the entry to a human). */
export const RESTART_ACTIONS = [
  'restart',
  'reload',
  'daemon-reexec',
  'reexec-user-manager',
] as const;
export const PlanActionSchema = v.picklist([...RESTART_ACTIONS, 'skip', 'advise']);

export const PlanEntryDocSchema = v.object({
  key: v.string(),
  type: v.string(),
  unit: v.nullable(v.string()),
  /** The user of a user unit's manager; null for the system manager and for other entries. */
  uid: v.nullable(Integer),
  action: PlanActionSchema,
  reason: v.string(),
  needsHuman: v.boolean(),
  pids: v.array(Pid),
  files: v.array(v.object({ path: v.string(), kind: KindSchema })),
});

export const UnitResultDocSchema = v.object({
  key: v.string(),
  unit: v.nullable(v.string()),
  action: PlanActionSchema,
  outcome: OutcomeSchema,
  durationMs: Count,
  /** still-stale: the PIDs (and files) that kept old code. */
  stalePids: v.array(v.object({ pid: Pid, files: v.array(v.string()) })),
  activeState: v.nullable(v.string()),
  message: v.nullable(v.string()),
  journal: v.array(v.string()),
});

export const RestartSummarySchema = counts(
  'planned',
  'verified',
  'unverified',
  'stillStale',
  'failed',
  'timeout',
  'needsHuman',
);

/** The restart as the Ansible module's per-host object carries it (its rescan is the object's scan). */
export const RestartCoreSchema = v.object({
  ...envelope('afterpatch-restart'),
  hostname: v.string(),
  time: IsoTime,
  dryRun: v.boolean(),
  /** The summary of the scan the plan was made from. */
  scan: ScanSummarySchema,
  partial: v.optional(
    v.pipe(
      v.boolean(),
      v.description(
        'true when the plan\'s scan could not read some processes for lack of root or CAP_SYS_PTRACE: the plan may miss stale code, nothing in it says "clean" (absent from documents of earlier versions)',
      ),
    ),
  ),
  plan: v.array(PlanEntryDocSchema),
  results: v.array(UnitResultDocSchema),
  summary: RestartSummarySchema,
  /** "SIGTERM"/"SIGINT" when a signal stopped the run after the jobs in flight. */
  interrupted: v.nullable(v.string()),
  /** Why the outcomes could not be saved (the units were acted on). */
  stateError: v.nullable(v.string()),
  advisoryLeftAlone: v.optional(
    v.pipe(
      v.array(v.string()),
      v.description(
        'with --fixed/--advisory: the stale entries not planned because they run fixed versions (docs/advisories.md)',
      ),
    ),
  ),
});

export const RestartDocumentSchema = v.object({
  ...RestartCoreSchema.entries,
  rescan: v.optional(
    v.pipe(
      v.nullable(ScanDocumentSchema),
      v.description(
        'with --rescan: the host after the restart, a scan --json --reboot document (null when that scan failed: rescanError says why)',
      ),
    ),
  ),
  rescanError: v.optional(v.string()),
});

export type RestartDocument = v.InferOutput<typeof RestartDocumentSchema>;
export type UnitResultDoc = v.InferOutput<typeof UnitResultDocSchema>;
