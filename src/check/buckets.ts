// The groups of stale code `check` alerts on (docs/monitoring.md, "Thresholds and states"): kept
// apart from the formatter so the command line can name them without loading it.

/** units: system and user units, user managers, PID 1; unmanaged: processes outside any unit. */
export const CHECK_BUCKETS = ['units', 'unmanaged', 'sessions', 'containers'] as const;
export type CheckBucket = (typeof CHECK_BUCKETS)[number];
/** `any`: each bucket on its own; `processes`: the number of stale processes. */
export const CHECK_METRICS = ['any', 'processes', ...CHECK_BUCKETS] as const;
export type CheckMetric = (typeof CHECK_METRICS)[number];
