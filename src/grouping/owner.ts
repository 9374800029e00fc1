// What a stale process belongs to, in one place: for each owner kind (system unit, user unit,
// user manager, session, PID 1, container, virtual machine, no unit) its key, its label, where
// its entries sort, the `check` bucket its stale code counts in and the scan summary count it
// adds to. Outputs, the planner and the fleet report read these; none spells them out again.

import { RESTART_ACTIONS } from '../formats/restart.ts';
import type { Owner, OwnerType } from '../scan/model.ts';
import { acceptSocketByName } from '../systemd/accept-instance.ts';

/**
 * `check`'s buckets (docs/monitoring.md) and the Prometheus gauges beside them. `units` is every
 * owner afterpatch restarts or re-executes itself: system units, user units, user managers and
 * PID 1 — entries with stale code only.
 */
export const CHECK_BUCKETS = ['units', 'unmanaged', 'sessions', 'containers', 'vms'] as const;
export type CheckBucket = (typeof CHECK_BUCKETS)[number];

/**
 * The scan summary's counts (docs/json.md), a different cut from the buckets: they count entries
 * with code or only data, and split units by manager — `units` there is system units and PID 1,
 * `userUnits` user units and user managers (together: check's `units`). Named apart here so that
 * nobody reads one for the other.
 */
export type SummaryCount = 'units' | 'userUnits' | 'sessions' | 'containers' | 'vms';

export interface OwnerKind {
  /** Where its entries sort in a listing: PID 1 first, processes outside any unit last. */
  order: number;
  bucket: CheckBucket;
  /** The scan summary count its entries add to; null: none (processes are counted instead). */
  summary: SummaryCount | null;
}

export const OWNER_KINDS: Readonly<Record<OwnerType, OwnerKind>> = {
  // PID 1 needs an action (daemon-reexec) like a unit does, not a reboot.
  init: { order: 0, bucket: 'units', summary: 'units' },
  'system-unit': { order: 1, bucket: 'units', summary: 'units' },
  'user-manager': { order: 2, bucket: 'units', summary: 'userUnits' },
  'user-unit': { order: 3, bucket: 'units', summary: 'userUnits' },
  session: { order: 4, bucket: 'sessions', summary: 'sessions' },
  container: { order: 5, bucket: 'containers', summary: 'containers' },
  vm: { order: 6, bucket: 'vms', summary: 'vms' },
  unmanaged: { order: 7, bucket: 'unmanaged', summary: null },
};

/** The bucket of an entry: a per-connection instance (Accept=yes) ends by itself like a session. */
export function bucketOf(o: Owner): CheckBucket {
  if ((o.type === 'system-unit' || o.type === 'user-unit') && acceptSocketByName(o.unit) !== null)
    return 'sessions';
  return OWNER_KINDS[o.type].bucket;
}

/** Stable identity of an entry, e.g. "system-unit:nginx.service" (the state file's keys). */
export function ownerKey(o: Owner): string {
  switch (o.type) {
    case 'system-unit':
      return `system-unit:${o.unit}`;
    case 'user-unit':
      return `user-unit:${o.uid}:${o.unit}`;
    case 'user-manager':
      return `user-manager:${o.uid}`;
    case 'session':
      return `session:${o.session}`;
    case 'init':
      return 'init';
    case 'container':
      return `container:${o.runtime}:${o.id}`;
    case 'vm':
      return `vm:${o.hypervisor}:${o.name}`;
    case 'unmanaged':
      return 'unmanaged';
  }
}

/** The unit `--unit` globs match (PID 1: init.scope); null for owners that are not units. */
export function ownerUnit(o: Owner): string | null {
  switch (o.type) {
    case 'system-unit':
    case 'user-unit':
    case 'user-manager':
    case 'session':
      return o.unit;
    case 'init':
      return 'init.scope';
    default:
      return null;
  }
}

export interface OwnerLabel {
  /** The unit, container id or guest name; raw, from the system: escape before printing. */
  name: string;
  /** What it is: "unit", "scope", "user unit", "session", "PID 1", "docker container", … */
  kind: string;
  /** The user the unit, manager or session belongs to, when known. */
  uid: number | null;
}

/** Name and kind of an owner; each output adds the uid its own way. */
export function ownerLabel(o: Owner): OwnerLabel {
  switch (o.type) {
    case 'system-unit':
      return { name: o.unit, kind: o.unit.endsWith('.scope') ? 'scope' : 'unit', uid: null };
    case 'user-unit':
      return { name: o.unit, kind: 'user unit', uid: o.uid };
    case 'user-manager':
      return { name: o.unit, kind: 'user manager', uid: o.uid };
    case 'session':
      return { name: o.unit, kind: 'session', uid: o.uid };
    case 'init':
      return { name: 'systemd', kind: 'PID 1', uid: null };
    case 'container':
      return { name: o.id, kind: `${o.runtime} container`, uid: null };
    case 'vm':
      return {
        name: o.name,
        kind: o.hypervisor === 'libvirt' ? 'libvirt guest' : 'virtual machine',
        uid: null,
      };
    case 'unmanaged':
      return { name: 'processes outside any unit', kind: 'no unit', uid: null };
  }
}

/**
 * Whether a plan action is one afterpatch carries out itself (RESTART_ACTIONS, the restart
 * document's list): what counts as planned, "changed" and "restarted" in the restart summary,
 * the fleet report and the Ansible module (whose own copy a test pins to the list). Every other
 * action leaves the work to a human.
 */
export function isActing(action: string): boolean {
  return (RESTART_ACTIONS as readonly string[]).includes(action);
}
