// --lib, --unit, --pid, --package: narrow a scan to what the operator asked about.

import { ownerUnit } from '../grouping/owner.ts';
import { globToRegExp } from '../match/glob.ts';
import { userRegExp } from '../match/regexp.ts';
import type { StaleProcess } from './model.ts';

export interface ScanFilters {
  /** Regular expression matched against stale file paths (e.g. "libssl"). */
  lib?: string | undefined;
  /** Unit name globs (system or user units, scopes, session scopes). */
  units?: readonly string[] | undefined;
  pids?: readonly number[] | undefined;
  /** Package names owning the stale files. */
  packages?: readonly string[] | undefined;
}

export function applyFilters(processes: StaleProcess[], f: ScanFilters): StaleProcess[] {
  const lib = f.lib === undefined ? null : userRegExp(f.lib);
  const units = f.units?.map(globToRegExp) ?? null;
  const pkgs = f.packages ? new Set(f.packages) : null;
  // No filter (the usual scan): every process, without a loop over 10,000 of them.
  if (!units && !lib && !pkgs) return processes.slice();
  const out: StaleProcess[] = [];
  for (const p of processes) {
    if (units) {
      const u = ownerUnit(p.owner);
      if (u === null || !units.some((re) => re.test(u))) continue;
    }
    if (!lib && !pkgs) {
      out.push(p);
      continue;
    }
    const files = p.files.filter(
      (file) =>
        (!lib || lib.test(file.path)) &&
        (!pkgs || (file.package !== null && pkgs.has(file.package.name))),
    );
    if (files.length > 0) out.push({ ...p, files });
  }
  return out;
}
