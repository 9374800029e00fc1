// Directories created on the machine only so that sandboxes can bind a per-host directory over
// them (/etc/afterpatch, /var/lib/afterpatch, …): made when missing, removed again only when this
// process made them, they are empty, and no other sandbox that binds such paths is running —
// removing a directory detaches the mounts on it in every other mount namespace too.
// Used by the fleet rig (rig.ts) and the Puppet tests.
import { existsSync, mkdirSync, readdirSync, rmdirSync } from 'node:fs';

/** Name prefixes (cgroup directories) of the sandboxes that bind over these mount points. */
export const MOUNT_POINT_SANDBOXES = ['afterpatch-rig-', 'afterpatch-puppet-'] as const;

/** Directories this process created on the machine as bind-mount points. */
const createdMountPoints = new Set<string>();

export function ensureMountPoint(path: string): void {
  if (existsSync(path)) return;
  mkdirSync(path, { recursive: true, mode: 0o755 });
  createdMountPoints.add(path);
}

/**
 * Removes the mount points this process created, unless a sandbox using them still runs below
 * `cgroupParent` (the directory holding the sandboxes' cgroups).
 */
export function removeMountPoints(cgroupParent: string | undefined): void {
  if (cgroupParent !== undefined) {
    try {
      const names = readdirSync(cgroupParent);
      if (names.some((n) => MOUNT_POINT_SANDBOXES.some((p) => n.startsWith(p)))) return;
    } catch {}
  }
  for (const p of createdMountPoints) {
    try {
      rmdirSync(p); // only when empty: never removes anything but the directory we made
      createdMountPoints.delete(p);
    } catch {}
  }
}
