// The groups of stale code `check` alerts on (docs/monitoring.md, "Thresholds and states"): kept
// apart from the formatter so the command line can name them without loading it. Which owner
// counts in which bucket is src/grouping/owner.ts's (bucketOf).
import type { Group } from '../grouping/group.ts';
import { bucketOf, CHECK_BUCKETS, type CheckBucket } from '../grouping/owner.ts';

export { bucketOf, CHECK_BUCKETS, type CheckBucket };
/** `any`: each bucket on its own; `processes`: the number of stale processes. */
export const CHECK_METRICS = ['any', 'processes', ...CHECK_BUCKETS] as const;
export type CheckMetric = (typeof CHECK_METRICS)[number];

/** Entries with stale code per bucket; `unmanaged` counts processes (its one entry holds them all). */
export function countBuckets(groups: readonly Group[]): Record<CheckBucket, number> {
  const n = Object.fromEntries(CHECK_BUCKETS.map((b) => [b, 0])) as Record<CheckBucket, number>;
  for (const g of groups) {
    if (g.severity !== 'code') continue;
    const b = bucketOf(g.owner);
    n[b] += b === 'unmanaged' ? g.pids.length : 1;
  }
  return n;
}
