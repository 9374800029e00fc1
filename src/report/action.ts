// What a human (or `afterpatch restart`) should do about each owner.
import type { Owner } from '../model.ts';

export type SuggestedAction =
  | { kind: 'restart'; argv: string[] }
  | { kind: 'daemon-reexec'; argv: string[] }
  | { kind: 'reexec-user-manager'; argv: string[] }
  | { kind: 'logout'; advice: string }
  | { kind: 'container'; advice: string }
  | { kind: 'manual'; advice: string };

export function suggestAction(owner: Owner, pids: readonly number[]): SuggestedAction {
  switch (owner.type) {
    case 'system-unit':
      if (owner.unit.endsWith('.scope')) {
        return {
          kind: 'manual',
          advice: `${owner.unit} is a scope: systemd cannot restart it; restart its programs (PID ${pids.join(', ')}) by hand`,
        };
      }
      return { kind: 'restart', argv: ['systemctl', 'restart', owner.unit] };
    case 'user-unit':
      return {
        kind: 'restart',
        argv: ['systemctl', '--user', '-M', `${owner.uid}@`, 'restart', owner.unit],
      };
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
    case 'unmanaged':
      return {
        kind: 'manual',
        advice: `not in a systemd unit: restart PID ${pids.join(', ')} by hand`,
      };
  }
}
