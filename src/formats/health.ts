// `afterpatch check --json` (format afterpatch-health, docs/json.md): the health snapshot that
// `check`, `metrics` and `serve` all render (src/health.ts), as one document.
import * as v from 'valibot';
import { CHECK_BUCKETS } from '../check/buckets.ts';
import { Count, envelope, IsoTime } from './common.ts';
import { rebootVerdictFields } from './reboot.ts';
import { OUTCOMES } from './restart.ts';
import { ScanSnapshotSchema } from './scan.ts';

const perOutcome = <T extends v.GenericSchema>(value: T) =>
  v.object(
    Object.fromEntries(OUTCOMES.map((o) => [o, value])) as Record<(typeof OUTCOMES)[number], T>,
  );

export const HealthDocumentSchema = v.object({
  ...envelope('afterpatch-health'),
  hostname: v.string(),
  time: IsoTime,
  /** The plugin's verdict and its exit status. */
  state: v.picklist(['OK', 'WARNING', 'CRITICAL', 'UNKNOWN']),
  exitCode: v.pipe(Count, v.maxValue(3)),
  summary: v.string(),
  alerting: v.array(v.picklist(CHECK_BUCKETS)),
  /** The perfdata values. */
  counts: v.object({
    units: Count,
    processes: Count,
    unmanaged: Count,
    sessions: Count,
    containers: Count,
    vms: Count,
    reboot: v.pipe(Count, v.maxValue(1)),
    unreadable: Count,
  }),
  scan: ScanSnapshotSchema,
  reboot: v.object(rebootVerdictFields),
  /** The restart state as monitoring sees it. */
  restart: v.object({
    /** Why the state file could not be read (then the state is UNKNOWN), else null. */
    error: v.nullable(v.string()),
    outcomes: perOutcome(Count),
    latest: perOutcome(v.nullable(IsoTime)),
    agedOut: Count,
  }),
  durationMs: Count,
});

export type HealthDocument = v.InferOutput<typeof HealthDocumentSchema>;
