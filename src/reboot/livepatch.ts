// Kernel live patches loaded into the running kernel: evidence beside the kernel reasons
// ("running kernel live-patched by …"), and what `reboot.trust_livepatch` relies on.
// docs/reboot.md#kernel-livepatch.
//
// Every livepatch (upstream klp: kpatch-built modules, Canonical Livepatch's lkp_* modules,
// SUSE's kGraft successors) has a directory /sys/kernel/livepatch/<name> with `enabled` (1/0)
// and `transition` (1 while tasks still run the old code). The kpatch core module that predates
// klp (RHEL 7) has /sys/kernel/kpatch/patches/<name>/enabled instead, with no transition state.

import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { errorCode, isMissing, readSmallText } from './read.ts';

export interface Livepatch {
  /** The patch module's name, e.g. `livepatch_cve_2024_1086` or `kpatch_5_14_0_1`. */
  name: string;
  /** Which sysfs interface listed it: upstream `livepatch`, or the old `kpatch` core module. */
  source: 'livepatch' | 'kpatch';
  /** `enabled`: null when unreadable. */
  enabled: boolean | null;
  /** `transition`: true while some tasks still run unpatched code; null when absent/unreadable. */
  transition: boolean | null;
}

/** More entries than this is not a real system: the rest is ignored with a note. */
export const MAX_LIVEPATCHES = 256;

const SOURCES = [
  { source: 'livepatch', dir: 'sys/kernel/livepatch' },
  { source: 'kpatch', dir: 'sys/kernel/kpatch/patches' },
] as const;

function flag(path: string, notes: string[]): boolean | null {
  const text = readSmallText(path, 16, notes)?.trim();
  return text === '1' ? true : text === '0' ? false : null;
}

/** Lists the live patches under `<root>/sys`. Never throws; unreadable entries become notes. */
export function readLivepatches(root: string, notes: string[]): Livepatch[] {
  const out: Livepatch[] = [];
  for (const { source, dir } of SOURCES) {
    const base = join(root, dir);
    let names: string[];
    try {
      names = readdirSync(base).sort();
    } catch (err) {
      if (!isMissing(err)) notes.push(`cannot list ${base}: ${errorCode(err)}`);
      continue;
    }
    if (names.length > MAX_LIVEPATCHES) {
      notes.push(`${base}: ${names.length} entries, only the first ${MAX_LIVEPATCHES} read`);
      names = names.slice(0, MAX_LIVEPATCHES);
    }
    for (const name of names) {
      const enabled = flag(join(base, name, 'enabled'), notes);
      if (enabled === null) notes.push(`${join(base, name)}: no readable enabled state`);
      const transition =
        source === 'livepatch' ? flag(join(base, name, 'transition'), notes) : null;
      out.push({ name, source, enabled, transition });
    }
  }
  return out;
}

/** The patches that are in effect: enabled, with no task left on the old code. */
export function activeLivepatches(patches: readonly Livepatch[]): Livepatch[] {
  return patches.filter((p) => p.enabled === true && p.transition !== true);
}
