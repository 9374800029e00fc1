// Exit codes, decided by pure functions so every command documents and tests them one way.
import type { ScanReport } from './scan/scan.ts';

export const EXIT = {
  /** scan: nothing stale. */
  ok: 0,
  /** scan: stale code found. */
  stale: 1,
  /** Any command: bad usage, bad configuration or a runtime failure. */
  error: 2,
} as const;

/** Only stale code counts; processes keeping deleted data files only are reported but exit 0. */
export function scanExitCode(r: ScanReport): number {
  return r.groups.some((g) => g.severity === 'code') ? EXIT.stale : EXIT.ok;
}
