// `reboot-required`: scan, then decide whether only a reboot helps, with the evidence.
import { defaultConfig } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import type { RebootReasonDoc } from '../formats/reboot.ts';
import { scanOptionsFrom } from '../scan/options.ts';
import { type ScanReport, scan } from '../scan/scan.ts';
import {
  assessReboot,
  NO_PACKAGE,
  type RebootReason,
  type RebootResult,
  type RebootSettings,
  type StaleCode,
} from './detect.ts';
import { gatherRebootInput } from './gather.ts';
import { writeSentinelOrExplain } from './sentinel.ts';

export interface RebootOptions {
  /** Root of the file system to inspect ("/"). */
  root?: string | undefined;
  procRoot?: string | undefined;
  /** Where the sentinel files live ("/run"). */
  runDir?: string | undefined;
  /** Write /run/reboot-required (+ .pkgs) when a reboot is required. */
  sentinel?: boolean | undefined;
  /** A scan already made (with package lookups), so callers that report both scan only once. */
  scan?: ScanReport | undefined;
  /** The configuration the scan honours (ignore lists, noise, scan.interpreted); default: none. */
  config?: Config | undefined;
  /** The `[reboot]` configuration (default DEFAULT_REBOOT_SETTINGS). */
  settings?: RebootSettings | undefined;
}

export interface RebootReport extends RebootResult {
  /** Packages appended to reboot-required.pkgs by --sentinel. */
  sentinelWritten: string[] | null;
  /** The sentinel file written by --sentinel (absent or null when none was written). */
  sentinelFile?: string | null;
}

export async function rebootRequired(o: RebootOptions = {}): Promise<RebootReport> {
  const procRoot = o.procRoot ?? '/proc';
  const report =
    o.scan ??
    (await scan(scanOptionsFrom(o.config ?? defaultConfig(), { procRoot, root: o.root })));
  const stale: StaleCode[] = report.processes.flatMap((p) =>
    p.files
      .filter((f) => f.kind === 'code')
      .map((f) => ({
        package: f.package?.name ?? null,
        path: f.path,
        pid: p.pid,
        pidIsInit: p.owner.type === 'init',
        unit: p.owner.type === 'system-unit' ? p.owner.unit : null,
      })),
  );
  const gathered = gatherRebootInput({
    root: o.root ?? '/',
    procRoot,
    stale,
    settings: o.settings,
  });
  // Stale code only a reboot replaces (PID 1's, the message bus's) may be in what the scan could
  // not read, or in files whose package it could not tell: no reason found is then not "no reboot".
  const unread = scanGaps(report);
  const input = unread.length
    ? { ...gathered, unknown: [...(gathered.unknown ?? []), ...unread] }
    : gathered;
  const result = assessReboot(input);
  for (const w of result.waived ?? [])
    result.notes.push(`not counted (${w.by}): ${describeReason(w.reason)}`);
  let written: string[] | null = null;
  let file: string | null = null;
  if (o.sentinel && result.required) {
    const pkgs = sentinelPackages(result.reasons, input.packaging);
    const runDir = o.runDir ?? `${o.root && o.root !== '/' ? o.root : ''}/run`;
    writeSentinelOrExplain(runDir, pkgs);
    written = pkgs;
    file = `${runDir}/reboot-required`;
  }
  return { ...result, sentinelWritten: written, sentinelFile: file };
}

/** What the scan could not read or tell that a stale-package reason would need. */
function scanGaps(report: ScanReport): { why: string }[] {
  const out: { why: string }[] = [];
  const failed = report.summary.failed ?? 0;
  if (failed > 0) {
    const cause = report.readErrors?.length ? ` (${report.readErrors.join('; ')})` : '';
    out.push({
      why: `${failed} process${failed === 1 ? '' : 'es'} could not be read${cause}: stale code only a reboot replaces may be among them`,
    });
  }
  if (report.packageLookupError !== undefined) {
    out.push({
      why: `the stale files' packages could not be looked up (${report.packageLookupError}): packages only a reboot replaces cannot be told`,
    });
  }
  return out;
}

/** Package names for reboot-required.pkgs: what our own reasons point at (sentinels name theirs). */
export function sentinelPackages(reasons: readonly RebootReason[], packaging: string): string[] {
  const out = new Set<string>();
  for (const r of reasons) {
    // Files of no package name none for reboot-required.pkgs (the sentinel itself still says it).
    if (r.type === 'stale-package') {
      if (r.package !== NO_PACKAGE) out.add(r.package);
    } else if (r.type === 'kernel-newer')
      out.add(packaging === 'rpm' ? 'kernel' : `linux-image-${r.newest}`);
    else if (r.type === 'kernel-rebuilt')
      out.add(packaging === 'rpm' ? 'kernel' : `linux-image-${r.release}`);
  }
  return [...out];
}

/** One sentence per reason, for reboot-required's text, check's output and the fleet report. */
export function describeReason(r: RebootReason | RebootReasonDoc): string {
  switch (r.type) {
    case 'kernel-newer':
      return `kernel ${r.newest} is installed, ${r.running} is running${livepatched(r.livepatches)}`;
    case 'kernel-rebuilt':
      return `kernel ${r.release} was rebuilt: the image says "${r.installed}", the running kernel "${r.running}"${livepatched(r.livepatches)}`;
    case 'microcode':
      return `microcode update pending: running ${r.running}, available ${r.available} (${r.file}, ${r.date})${r.mixed ? `; CPUs disagree: ${r.mixed.join(', ')}` : ''}`;
    case 'sentinel':
      return `${r.file} exists${r.packages.length ? ` (packages: ${r.packages.join(', ')})` : ''}`;
    case 'stale-package':
      return `PID ${r.pids.join(', ')} run stale code from ${r.package} (${r.files.join(', ')}) that only a reboot replaces`;
  }
}

function livepatched(names: readonly string[] | undefined): string {
  return names?.length ? `; running kernel live-patched by ${names.join(', ')}` : '';
}
