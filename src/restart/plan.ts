// The pure planner: scan findings + unit properties + configuration + earlier outcomes → a plan.
import type { Config } from '../config/schema.ts';
import { pidsForAdvice, vmAdvice } from '../grouping/action.ts';
import type { Group } from '../grouping/group.ts';
import { isActing } from '../grouping/owner.ts';
import { globToRegExp } from '../match/glob.ts';
import type { Owner } from '../scan/model.ts';
import { perConnectionAdvice } from '../systemd/accept-instance.ts';
import type { Manager } from '../systemd/client.ts';
import type { UnitProperties } from '../systemd/properties.ts';
import { builtinDenyReason } from './safelist.ts';
import type { RestartState } from './state.ts';

export type PlanAction =
  | 'restart'
  | 'reload'
  | 'daemon-reexec'
  | 'reexec-user-manager'
  | 'skip'
  | 'advise';

export interface PlanFile {
  path: string;
  kind: 'code' | 'data';
  /** "inode:path" of every process's stale mapping of this path. */
  ids: string[];
}

export interface PlanEntry {
  key: string;
  owner: Owner;
  /** The unit acted on (null for sessions without action, containers, VMs, unmanaged processes). */
  unit: string | null;
  manager: Manager | null;
  /** The unit's cgroup as systemd reported it when planning (stays the same across a restart). */
  controlGroup: string | null;
  action: PlanAction;
  reason: string;
  /** A skip or advice that leaves stale code running: somebody has to act. */
  needsHuman: boolean;
  pids: number[];
  files: PlanFile[];
}

export interface PlanInput {
  groups: readonly Group[];
  /** Unit properties by group key (system and user units). */
  properties: ReadonlyMap<string, UnitProperties>;
  config: Config['restart'];
  state: RestartState;
  /** Inode identities of each group's stale files ("inode:path"), by group key. */
  fileIds: ReadonlyMap<string, readonly string[]>;
  force: boolean;
  /** Also act on units whose only stale files are data. */
  includeData: boolean;
  /**
   * Properties (`Accept`) of the sockets named in the candidate instances' `TriggeredBy`, by
   * socketKey(). A socket missing here counts as unreadable: its instance is not restarted.
   */
  sockets?: ReadonlyMap<string, UnitProperties>;
}

/** An entry afterpatch acts on itself (isActing, src/grouping/owner.ts). */
export function isActionable(e: PlanEntry): boolean {
  return isActing(e.action);
}

export function makePlan(input: PlanInput): PlanEntry[] {
  const never = input.config.never.map(globToRegExp);
  const only = input.config.only.map(globToRegExp);
  const reload = input.config.reload.map(globToRegExp);
  return input.groups.map((g) => {
    const ids = input.fileIds.get(g.key) ?? [];
    const base = {
      key: g.key,
      owner: g.owner,
      pids: g.pids,
      files: g.files.map((f) => ({
        path: f.path,
        kind: f.kind,
        ids: ids.filter((id) => id.slice(id.indexOf(':') + 1) === f.path),
      })),
    };
    const decided = decide(g, input, { never, only, reload }, ids);
    return { ...base, controlGroup: input.properties.get(g.key)?.ControlGroup || null, ...decided };
  });
}

type Decision = Pick<PlanEntry, 'unit' | 'manager' | 'action' | 'reason' | 'needsHuman'>;

const SYSTEM: Manager = { type: 'system' };

function decide(
  g: Group,
  input: PlanInput,
  globs: { never: RegExp[]; only: RegExp[]; reload: RegExp[] },
  ids: readonly string[],
): Decision {
  const o = g.owner;
  const skip = (
    unit: string | null,
    manager: Manager | null,
    reason: string,
    needsHuman = true,
  ): Decision => ({
    unit,
    manager,
    action: 'skip',
    reason,
    needsHuman,
  });
  const advise = (reason: string): Decision => ({
    unit: null,
    manager: null,
    action: 'advise',
    reason,
    needsHuman: true,
  });

  switch (o.type) {
    case 'session':
      return {
        ...advise(
          `login session ${o.session}: its programs keep the old code until the user logs out and back in`,
        ),
        unit: o.unit,
      };
    case 'container':
      return advise(
        `${o.runtime} container ${o.id}: restart the container (rebuild its image if the file comes from it); the host's units are not touched`,
      );
    case 'vm':
      // Never restarted: that would kill the guest; a human moves or cycles it.
      return advise(vmAdvice(o, g.pids));
    case 'unmanaged':
      return advise(`not in a systemd unit: restart ${pidsForAdvice(g.pids)} by hand`);
    default:
      break;
  }

  const unit = o.type === 'init' ? 'init.scope' : o.unit;
  const manager: Manager =
    o.type === 'user-unit' || o.type === 'user-manager' ? { type: 'user', uid: o.uid } : SYSTEM;
  if (g.severity === 'data' && !input.includeData) {
    return skip(
      unit,
      manager,
      'only deleted data files are mapped, no code (use --include-data to act anyway)',
      false,
    );
  }
  if (o.type === 'system-unit' || o.type === 'user-unit') {
    const conn = perConnection(unit, manager, input.properties.get(g.key), input.sockets);
    if (conn) return conn;
  }
  const previous = input.state.units[g.key];
  if (
    previous &&
    previous.outcome !== 'verified' &&
    !input.force &&
    ids.every((id) => previous.files.includes(id))
  ) {
    return skip(
      unit,
      manager,
      `already tried (${previous.action}) at ${previous.time} for the same files and it ended ${previous.outcome}: not again without --force`,
    );
  }
  if (o.type === 'init' && !g.pids.includes(1)) {
    // daemon-reexec renews PID 1 only: another process in init.scope keeps its old code.
    return {
      ...advise(
        `in init.scope but not PID 1, so daemon-reexec does not renew it: restart PID ${g.pids.join(', ')} by hand`,
      ),
      unit: 'init.scope',
    };
  }
  if (o.type === 'init') {
    return {
      unit: null,
      manager: SYSTEM,
      action: 'daemon-reexec',
      reason:
        g.pids.length === 1
          ? 'PID 1 re-executes itself: no reboot needed'
          : `PID 1 re-executes itself: no reboot needed; PID ${g.pids.filter((p) => p !== 1).join(', ')} in init.scope must be restarted by hand`,
      needsHuman: g.pids.length > 1,
    };
  }
  if (o.type === 'user-manager') {
    return {
      unit: o.unit,
      manager,
      action: 'reexec-user-manager',
      reason: `the user manager of uid ${o.uid} re-executes itself; the user's programs keep running`,
      needsHuman: false,
    };
  }
  if (o.type === 'system-unit' && o.unit.endsWith('.scope')) {
    return skip(
      unit,
      manager,
      'a scope: its programs were started by another program and systemd cannot restart them',
    );
  }
  if (globs.only.length > 0 && !globs.only.some((re) => re.test(unit))) {
    return skip(unit, manager, 'not listed in restart.only (allow-only mode)');
  }
  const denied = builtinDenyReason(unit);
  if (denied) return skip(unit, manager, `never restarted automatically: ${denied}`);
  if (globs.never.some((re) => re.test(unit)))
    return skip(unit, manager, 'listed in restart.never');

  const props = input.properties.get(g.key);
  if (!props) return skip(unit, manager, 'systemd did not answer for this unit');
  const fromProps = propertyObjection(props);
  if (fromProps) return skip(unit, manager, fromProps);

  if (globs.reload.some((re) => re.test(unit))) {
    if (props.CanReload === 'no')
      return skip(unit, manager, 'listed in restart.reload but the unit cannot reload');
    return {
      unit,
      manager,
      action: 'reload',
      reason: 'listed in restart.reload',
      needsHuman: false,
    };
  }
  return {
    unit,
    manager,
    action: 'restart',
    reason: `maps ${describeFiles(g)}`,
    needsHuman: false,
  };
}

/**
 * The sockets in a unit's `TriggeredBy`, for template instances only: an `Accept=yes` socket
 * spawns `PREFIX@N-LOCAL-PEER.service` instances, never a plain unit, so only those need asking.
 */
export function triggeringSockets(unit: string, p: UnitProperties | undefined): string[] {
  if (!unit.includes('@') || !p?.TriggeredBy) return [];
  return p.TriggeredBy.split(/\s+/).filter((u) => u.endsWith('.socket'));
}

/** Where PlanInput.sockets holds a socket of a manager (user managers have their own sockets). */
export function socketKey(manager: Manager, socket: string): string {
  return manager.type === 'system' ? socket : `${manager.uid}:${socket}`;
}

/**
 * An instance spawned by an `Accept=yes` socket serves one connection (sshd@3-…:22-…:5512): a
 * restart would cut it, possibly the admin's own SSH. It ends by itself, like a login session.
 */
function perConnection(
  unit: string,
  manager: Manager,
  props: UnitProperties | undefined,
  sockets: ReadonlyMap<string, UnitProperties> | undefined,
): Decision | null {
  const names = triggeringSockets(unit, props);
  const accept = names.map((n) => ({ n, v: sockets?.get(socketKey(manager, n))?.Accept }));
  const accepting = accept.find((a) => a.v === 'yes');
  if (accepting) {
    return {
      unit,
      manager,
      action: 'advise',
      reason: perConnectionAdvice(accepting.n),
      needsHuman: true,
    };
  }
  const unread = accept.filter((a) => a.v !== 'no').map((a) => a.n);
  if (unread.length === 0) return null;
  // Fail closed: without Accept= we cannot tell a one-connection instance from a daemon.
  return {
    unit,
    manager,
    action: 'skip',
    reason: `could not read Accept= of ${unread.join(', ')}: not restarted, it may serve one connection`,
    needsHuman: true,
  };
}

/** Reasons, read from the unit's properties, why a restart would be wrong or refused. */
export function propertyObjection(p: UnitProperties): string | null {
  if (p.LoadState !== undefined && p.LoadState !== 'loaded')
    return `unit is ${p.LoadState || 'unknown'} to systemd`;
  if (p.RefuseManualStop === 'yes') return 'RefuseManualStop=yes: systemd refuses a manual restart';
  if (p.Type === 'oneshot' && p.SubState === 'exited') {
    return 'a oneshot unit shown active (exited): restarting it would run it again';
  }
  if (p.Result === 'start-limit-hit')
    return "hit systemd's start limit: fix it, then systemctl reset-failed";
  if (p.ActiveState !== 'active' && p.ActiveState !== 'reloading') {
    return `unit is ${p.ActiveState ?? 'in an unknown state'}: its remaining processes are leftovers, stop them by hand`;
  }
  return null;
}

function describeFiles(g: Group): string {
  const code = g.files.filter((f) => f.kind === 'code');
  const first = (code[0] ?? g.files[0])?.path ?? '';
  const more = g.files.length - 1;
  return more > 0 ? `${first} and ${more} more stale file${more === 1 ? '' : 's'}` : first;
}
