// `scan --reboot`: reboot-required's verdict in the same run (one process where the Ansible module
// ran two). The scan is reused only when it saw what reboot-required's own scan sees: --pid,
// --all, --include or switched-off lookups would change the stale code and with it the answer,
// which docs/cli.md promises they never do — then the verdict gets its own scan. --lib, --unit
// and --package narrow only what the scan reports, after reading the host: the verdict reads the
// processes from before them.
import type { Config } from '../config/schema.ts';
import type { ScanFlags } from '../scan/options.ts';
import type { ScanReport } from '../scan/scan.ts';
import { rebootSettingsFromConfig } from './detect.ts';
import { type RebootReport, rebootRequired } from './reboot.ts';

/** True when a scan made with these flags is the scan reboot-required would make itself. */
export function scanServesReboot(f: ScanFlags): boolean {
  const none = (l: readonly unknown[] | undefined) => l === undefined || l.length === 0;
  return (
    f.lib === undefined &&
    none(f.unit) &&
    none(f.pid) &&
    none(f.package) &&
    none(f.include) &&
    f.all !== true &&
    f.packages !== false &&
    f.interpreted !== false
  );
}

/**
 * The scan reboot-required would make itself, out of a scan made with these flags: the scan, or
 * what it read before --lib, --unit or --package narrowed it (ScanReport.unfiltered); undefined
 * when neither is (the verdict then scans on its own).
 */
export function rebootScanOf(report: ScanReport, f: ScanFlags): ScanReport | undefined {
  if (scanServesReboot(f)) return report;
  const unnarrowed = { ...f, lib: undefined, unit: undefined, package: undefined };
  return report.unfiltered !== undefined && scanServesReboot(unnarrowed)
    ? { ...report, processes: report.unfiltered }
    : undefined;
}

export async function rebootForScan(
  report: ScanReport,
  flags: ScanFlags,
  config: Config,
  sentinel: boolean,
): Promise<RebootReport> {
  return rebootRequired({
    procRoot: flags.procRoot,
    root: flags.root,
    sentinel,
    config,
    settings: rebootSettingsFromConfig(config.reboot),
    scan: rebootScanOf(report, flags),
  });
}
