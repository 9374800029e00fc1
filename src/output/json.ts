// The versioned JSON format of `scan --json`, documented in docs/json.md and docs/scan.schema.json.

import { ownerKey } from '../report/group.ts';
import type { ScanReport } from '../scan/scan.ts';
import { VERSION } from '../version.ts';

/** Bumped on any incompatible change; additions of fields keep the version. */
export const SCAN_FORMAT_VERSION = 1;

export function scanToJson(r: ScanReport): object {
  return {
    format: 'afterpatch-scan',
    formatVersion: SCAN_FORMAT_VERSION,
    afterpatch: VERSION,
    hostname: r.hostname,
    asRoot: r.asRoot,
    time: r.time,
    durationMs: r.durationMs,
    packageManager: r.packageManager,
    summary: r.summary,
    entries: r.groups.map((g) => ({
      ...g.owner,
      key: g.key,
      severity: g.severity,
      pids: g.pids,
      names: g.names,
      files: g.files,
      action: g.action,
    })),
    processes: r.processes.map((p) => ({
      type: 'process',
      pid: p.pid,
      ppid: p.ppid,
      uid: p.uid,
      name: p.name,
      cmdline: p.cmdline,
      root: p.root,
      foreignPidNs: p.foreignPidNs,
      cgroup: p.cgroup,
      owner: ownerKey(p.owner),
      files: p.files,
      ignored: p.ignored,
    })),
    warnings: r.warnings,
  };
}

export function formatJson(r: ScanReport): string {
  return `${JSON.stringify(scanToJson(r), null, 2)}\n`;
}
