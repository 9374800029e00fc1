// What a human (or `afterpatch restart`) should do about each owner.
import type { Owner } from '../scan/model.ts';
import { acceptSocketByName, perConnectionAdvice } from '../systemd/accept-instance.ts';

export type SuggestedAction =
  | { kind: 'restart'; argv: string[] }
  | { kind: 'daemon-reexec'; argv: string[] }
  | { kind: 'reexec-user-manager'; argv: string[] }
  | { kind: 'logout'; advice: string }
  | { kind: 'container'; advice: string }
  | { kind: 'vm'; advice: string }
  | { kind: 'manual'; advice: string };

/** PIDs named in an advice; the rest are counted (10,000 PIDs made a 66 KB line). */
export const MAX_ADVICE_PIDS = 8;

/** "PID 1, 2, 3" or "PID 1, …, 8 and 9992 more". */
export function pidsForAdvice(pids: readonly number[]): string {
  const shown = pids.slice(0, MAX_ADVICE_PIDS).join(', ');
  const more = pids.length - MAX_ADVICE_PIDS;
  return `PID ${shown}${more > 0 ? ` and ${more} more` : ''}`;
}

export function suggestAction(owner: Owner, pids: readonly number[]): SuggestedAction {
  switch (owner.type) {
    case 'system-unit':
      if (owner.unit.endsWith('.scope')) {
        return {
          kind: 'manual',
          advice: `${owner.unit} is a scope: systemd cannot restart it; restart its programs (${pidsForAdvice(pids)}) by hand`,
        };
      }
      return restartOrAdvise(['systemctl', 'restart', owner.unit], owner.unit);
    case 'user-unit':
      return restartOrAdvise(
        ['systemctl', '--user', '-M', `${owner.uid}@`, 'restart', owner.unit],
        owner.unit,
      );
    case 'user-manager':
      return {
        kind: 'reexec-user-manager',
        argv: ['systemctl', '--user', '-M', `${owner.uid}@`, 'daemon-reexec'],
      };
    case 'session':
      return {
        kind: 'logout',
        advice: `session ${owner.session}${owner.uid === null ? '' : ` of uid ${owner.uid}`}: log out and back in`,
      };
    case 'init':
      return { kind: 'daemon-reexec', argv: ['systemctl', 'daemon-reexec'] };
    case 'container':
      return {
        kind: 'container',
        advice: `restart the ${owner.runtime} container ${owner.id}; rebuild its image if the file comes from it`,
      };
    case 'vm':
      return { kind: 'vm', advice: vmAdvice(owner, pids) };
    case 'unmanaged':
      return {
        kind: 'manual',
        advice: `not in a systemd unit: restart ${pidsForAdvice(pids)} by hand`,
      };
  }
}

/**
 * A guest keeps the qemu process it was started with: a reboot inside the guest does not renew
 * it, and restarting the process kills the guest. Only a new qemu process helps.
 */
export function vmAdvice(o: Extract<Owner, { type: 'vm' }>, pids: readonly number[]): string {
  const name = shellWord(o.name);
  const how =
    o.hypervisor === 'libvirt'
      ? `live-migrate it (virsh migrate), or shut it down and start it again (virsh shutdown ${name}, then virsh start ${name})`
      : `live-migrate it, or shut the guest down and start it again through what started it (qemu ${pidsForAdvice(pids)})`;
  return `virtual machine ${o.name}: ${how}; a reboot inside the guest keeps the same qemu process`;
}

/** The guest name comes from qemu's argv: quoted for a shell where people may paste the advice. */
function shellWord(text: string): string {
  return /^[A-Za-z0-9._+:@-]+$/.test(text) ? text : `'${text.replaceAll("'", "'\\''")}'`;
}

/** A restart, unless the unit serves one connection: restarting it would cut that connection. */
function restartOrAdvise(argv: string[], unit: string): SuggestedAction {
  const socket = acceptSocketByName(unit);
  if (socket === null) return { kind: 'restart', argv };
  return {
    kind: 'manual',
    advice: `${perConnectionAdvice(socket)}; restarting it would cut that connection`,
  };
}
