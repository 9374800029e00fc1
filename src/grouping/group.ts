// Groups stale processes by what has to be restarted, in a stable order.
import type { Owner, PackageRef, StaleProcess } from '../scan/model.ts';
import type { SuggestedAction } from './action.ts';
import { suggestAction } from './action.ts';
import { OWNER_KINDS, ownerKey } from './owner.ts';

export interface GroupFile {
  path: string;
  kind: 'code' | 'data';
  package: PackageRef | null;
}

export interface Group {
  owner: Owner;
  /** Stable identity, e.g. "system-unit:nginx.service". */
  key: string;
  /** `code` when any process runs stale code, `data` when only data files are stale. */
  severity: 'code' | 'data';
  pids: number[];
  /** Distinct command names, in PID order. */
  names: string[];
  files: GroupFile[];
  action: SuggestedAction;
}

/** Only processes with at least one stale file form groups (ignored-only ones are shown apart). */
export function groupProcesses(processes: readonly StaleProcess[]): Group[] {
  const byKey = new Map<string, { owner: Owner; procs: StaleProcess[] }>();
  // Indexed loops: once per stale process while the code is still cold, where for…of costs
  // ~3 times as much.
  for (let i = 0; i < processes.length; i++) {
    const p = processes[i] as StaleProcess;
    if (p.files.length === 0) continue;
    const key = ownerKey(p.owner);
    const g = byKey.get(key);
    if (g) g.procs.push(p);
    else byKey.set(key, { owner: p.owner, procs: [p] });
  }
  const groups: Group[] = [];
  for (const [key, { owner, procs }] of byKey) {
    const files = new Map<string, GroupFile>();
    const names = new Set<string>();
    for (let i = 0; i < procs.length; i++) {
      const p = procs[i] as StaleProcess;
      if (p.name !== null) names.add(p.name);
      for (let j = 0; j < p.files.length; j++) {
        const f = p.files[j] as StaleProcess['files'][number];
        const prev = files.get(f.path);
        if (!prev) files.set(f.path, { path: f.path, kind: f.kind, package: f.package });
        else if (f.kind === 'code') prev.kind = 'code';
      }
    }
    const pids = procs.map((p) => p.pid).sort((a, b) => a - b);
    groups.push({
      owner,
      key,
      severity: [...files.values()].some((f) => f.kind === 'code') ? 'code' : 'data',
      pids,
      names: [...names],
      files: [...files.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)),
      action: suggestAction(owner, pids),
    });
  }
  return groups.sort(
    (a, b) =>
      (a.severity === b.severity ? 0 : a.severity === 'code' ? -1 : 1) ||
      OWNER_KINDS[a.owner.type].order - OWNER_KINDS[b.owner.type].order ||
      (a.key < b.key ? -1 : a.key > b.key ? 1 : 0),
  );
}

export { ownerKey };
