// The groups of stale code `check` alerts on (docs/monitoring.md, "Thresholds and states"): kept
// apart from the formatter so the command line can name them without loading it.
import type { Owner } from '../model.ts';
import type { Group } from '../report/group.ts';
import { acceptSocketByName } from '../systemd/accept-instance.ts';

/** units: system and user units, user managers, PID 1; unmanaged: processes outside any unit. */
export const CHECK_BUCKETS = ['units', 'unmanaged', 'sessions', 'containers'] as const;
export type CheckBucket = (typeof CHECK_BUCKETS)[number];
/** `any`: each bucket on its own; `processes`: the number of stale processes. */
export const CHECK_METRICS = ['any', 'processes', ...CHECK_BUCKETS] as const;
export type CheckMetric = (typeof CHECK_METRICS)[number];

/** Which bucket an entry's stale code counts in; exhaustive over the entry types. */
export const BUCKET_OF: Record<Owner['type'], CheckBucket> = {
  'system-unit': 'units',
  'user-unit': 'units',
  'user-manager': 'units',
  // PID 1 needs an action (daemon-reexec) like a unit does.
  init: 'units',
  unmanaged: 'unmanaged',
  session: 'sessions',
  container: 'containers',
};

/** The bucket of an entry: a per-connection instance (Accept=yes) ends by itself like a session. */
export function bucketOf(o: Owner): CheckBucket {
  if ((o.type === 'system-unit' || o.type === 'user-unit') && acceptSocketByName(o.unit) !== null)
    return 'sessions';
  return BUCKET_OF[o.type];
}

/** Entries with stale code per bucket; `unmanaged` counts processes (its one entry holds them all). */
export function countBuckets(groups: readonly Group[]): Record<CheckBucket, number> {
  const n: Record<CheckBucket, number> = { units: 0, unmanaged: 0, sessions: 0, containers: 0 };
  for (const g of groups) {
    if (g.severity !== 'code') continue;
    const b = bucketOf(g.owner);
    n[b] += b === 'unmanaged' ? g.pids.length : 1;
  }
  return n;
}
