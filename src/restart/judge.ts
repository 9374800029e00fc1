// The outcome of each unit of a batch, decided from what was read — systemd's answer, the units'
// properties after it, the rescans of their processes — without reading anything (apply.ts reads).
import type { ActionResult } from '../systemd/client.ts';
import type { UnitProperties } from '../systemd/properties.ts';
import type { PlanEntry } from './plan.ts';
import type { Outcome } from './state.ts';

export type StalePids = { pid: number; files: string[] }[];
/** One rescan of a unit's processes: the stale PIDs (none: clean), or why there is no evidence. */
export type Verdict = { stale: StalePids } | { unverified: string };
/** The rescans of a batch in order; a later one replaces what an earlier one said of a unit. */
export type Rescans = readonly ReadonlyMap<PlanEntry, Verdict>[];

/** What systemctl's answer and the properties say before any rescan. */
export type FirstLook =
  | { outcome: 'timeout' | 'failed'; message: string | null; activeState: string | null }
  | { outcome: 'rescan'; controlGroup: string | null; activeState: string | null };

export interface Judged {
  outcome: Outcome;
  message: string | null;
  activeState: string | null;
  stalePids: StalePids;
  /** A failure of a unit systemd knows: its journal lines belong in the report. */
  wantsJournal: boolean;
}

/**
 * What of a batch's answer belongs to one unit: its success and timeout, and the messages that
 * name it (with one unit in the batch, every message is its own). A unit acted on alone (one job
 * over the bus) has its own answer already.
 */
export function shareOf(
  batch: readonly PlanEntry[],
  action: ActionResult,
): (e: PlanEntry) => ActionResult {
  return (e) => ({
    ...action,
    messages: action.messages.filter(
      (m) => batch.length === 1 || (e.unit !== null && m.includes(e.unit)),
    ),
  });
}

/**
 * Timed out while the unit was still (de)activating or unknown; failed when the unit's own answer
 * is a failure with a message or the unit is not active afterwards; otherwise its processes are
 * rescanned, in the cgroup systemd names now or the one planned.
 */
export function firstLook(
  e: PlanEntry,
  own: ActionResult,
  props: ReadonlyMap<string, UnitProperties>,
  timeoutMs: number,
): FirstLook {
  const p = e.unit === null ? undefined : props.get(e.unit);
  const activeState = p?.ActiveState ?? null;
  if (
    own.timedOut &&
    (activeState === null || activeState === 'activating' || activeState === 'deactivating')
  ) {
    return { outcome: 'timeout', message: `no answer within ${timeoutMs / 1000} s`, activeState };
  }
  if (
    (!own.ok && own.messages.length > 0) ||
    (p && activeState !== 'active' && activeState !== 'reloading')
  ) {
    return { outcome: 'failed', message: own.messages.join(' ') || null, activeState };
  }
  return { outcome: 'rescan', controlGroup: p?.ControlGroup || e.controlGroup, activeState };
}

/** The last word of the rescans on a unit; none (never rescanned) counts as no evidence. */
export function lastVerdict(e: PlanEntry, rescans: Rescans): Verdict {
  for (let i = rescans.length - 1; i >= 0; i--) {
    const v = rescans[i]?.get(e);
    if (v !== undefined) return v;
  }
  return { unverified: 'its processes were not rescanned' };
}

/** The units whose last rescan still found old code: worth another look (a child may not have exec'd yet). */
export function toRescan(rescans: Rescans): PlanEntry[] {
  const units = new Set(rescans.flatMap((r) => [...r.keys()]));
  return [...units].filter((e) => {
    const v = lastVerdict(e, rescans);
    return 'stale' in v && v.stale.length > 0;
  });
}

/** The outcome of every unit of a batch. */
export function judgeBatch(
  batch: readonly PlanEntry[],
  own: (e: PlanEntry) => ActionResult,
  props: ReadonlyMap<string, UnitProperties>,
  rescans: Rescans,
  timeoutMs: number,
): Map<PlanEntry, Judged> {
  const out = new Map<PlanEntry, Judged>();
  for (const e of batch) {
    const first = firstLook(e, own(e), props, timeoutMs);
    if (first.outcome !== 'rescan') {
      const known = e.unit !== null && props.has(e.unit);
      out.set(e, {
        outcome: first.outcome,
        message: first.message,
        activeState: first.activeState,
        stalePids: [],
        wantsJournal: first.outcome === 'failed' && known,
      });
      continue;
    }
    const v = lastVerdict(e, rescans);
    const stale = 'stale' in v ? v.stale : [];
    out.set(e, {
      outcome: 'unverified' in v ? 'unverified' : stale.length > 0 ? 'still-stale' : 'verified',
      message: 'unverified' in v ? v.unverified : null,
      activeState: first.activeState,
      stalePids: stale,
      wantsJournal: false,
    });
  }
  return out;
}
