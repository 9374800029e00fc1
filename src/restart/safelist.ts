// Units never restarted by default, each with the reason shown in the plan (docs/restart.md).
import { globToRegExp } from '../match/glob.ts';
import { BUS_UNITS } from '../systemd/bus.ts';

const RULES: readonly [readonly string[], string][] = [
  [BUS_UNITS, 'the message bus: restarting it breaks logind, NetworkManager and logins'],
  [['systemd-logind.service'], 'restarting logind can end every login session'],
  [
    [
      'display-manager.service',
      'gdm.service',
      'gdm3.service',
      'sddm.service',
      'lightdm.service',
      'lxdm.service',
      'xdm.service',
      'slim.service',
    ],
    'a display manager: restarting it ends the graphical sessions',
  ],
  [
    [
      'getty@*.service',
      'serial-getty@*.service',
      'console-getty.service',
      'container-getty@*.service',
      'autovt@*.service',
    ],
    'a login console: restarting it ends the login on it',
  ],
  [
    ['user@*.service', 'user-runtime-dir@*.service'],
    'a user manager: restarting it kills everything the user runs',
  ],
  [
    [
      'NetworkManager.service',
      'systemd-networkd.service',
      'networking.service',
      'ifup@*.service',
      'wpa_supplicant*.service',
      'openvpn*.service',
      'strongswan*.service',
      'ipsec.service',
      'frr.service',
      'bird*.service',
      'wicked*.service',
    ],
    'networking: it may carry the connection you are using',
  ],
  [
    [
      'libvirtd.service',
      'virtqemud.service',
      'virtlogd.service',
      'virtlockd.service',
      'lxc*.service',
      'lxd*.service',
      'lxcfs.service',
      'docker.service',
      'containerd.service',
      'crio.service',
      'kubelet.service',
      'xendomains.service',
      'incus*.service',
    ],
    'a hypervisor or container runtime: restarting it can stop its guests',
  ],
  [['emergency.service', 'rescue.service'], 'the emergency/rescue shell'],
];

/** Compiled at the first question, not when the module loads (a scan never asks). */
let compiled: { re: RegExp; reason: string }[] | null = null;

/** Why a unit must not be restarted automatically, or null. */
export function builtinDenyReason(unit: string): string | null {
  compiled ??= RULES.flatMap(([globs, reason]) =>
    globs.map((g) => ({ re: globToRegExp(g), reason })),
  );
  return compiled.find((r) => r.re.test(unit))?.reason ?? null;
}
