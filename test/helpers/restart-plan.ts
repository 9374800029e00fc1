// Plan entries and a scan report for tests that drive apply/restart without a scan.

import type { PlanEntry } from '../../src/restart/plan.ts';
import type { Owner } from '../../src/scan/model.ts';
import type { ScanReport } from '../../src/scan/scan.ts';

/** A `restart` entry for a system unit (or `daemon-reexec` for PID 1 when unit is null). */
export function planEntry(unit: string | null, pids: number[] = [100]): PlanEntry {
  const owner: Owner = unit === null ? { type: 'init' } : { type: 'system-unit', unit };
  return {
    key: unit === null ? 'init' : `system-unit:${unit}`,
    owner,
    unit,
    manager: { type: 'system' },
    controlGroup: unit === null ? '/init.scope' : `/system.slice/${unit}`,
    action: unit === null ? 'daemon-reexec' : 'restart',
    reason: 'test',
    needsHuman: false,
    pids,
    files: [{ path: '/usr/lib/libtest.so.1', kind: 'code', ids: ['7:/usr/lib/libtest.so.1'] }],
  };
}

export function scanStub(over: Partial<ScanReport['summary']> = {}): ScanReport {
  return {
    hostname: 'test',
    asRoot: true,
    ptrace: true,
    time: new Date().toISOString(),
    durationMs: 0,
    packageManager: null,
    summary: {
      scanned: 10,
      unreadable: 0,
      processes: 1,
      units: 1,
      userUnits: 0,
      sessions: 0,
      containers: 0,
      vms: 0,
      dataOnly: 0,
      ...over,
    },
    groups: [],
    processes: [],
    warnings: [],
  };
}
