// `restart --rescan`: after acting, the scan again (the plan's filters) and the reboot verdict, in
// the restart's own run and document: the Ansible module's restart batch is one CLI process
// instead of two (restart, then `scan --reboot`). Loaded only with --rescan.
import type { Config } from '../config/schema.ts';
import { scanToJson } from '../output/json.ts';
import { formatRebootText } from '../output/reboot.ts';
import { restartToJson } from '../output/restart.ts';
import type { Style } from '../output/style.ts';
import { formatText } from '../output/text.ts';
import { rebootForScan } from '../reboot/for-scan.ts';
import type { RebootReport } from '../reboot/reboot.ts';
import type { RestartReport } from '../restart/restart.ts';
import type { ScanFlags } from '../scan/options.ts';
import { scanOptionsFrom } from '../scan/options.ts';
import { type ScanReport, scan } from '../scan/scan.ts';

export type Rescan =
  | { scan: ScanReport; reboot: RebootReport; error?: undefined }
  /** The restart is reported all the same: what was done is never lost to a failed rescan. */
  | { error: string; scan?: undefined; reboot?: undefined };

/**
 * The host after the restart. `unchanged`: the plan's scan when nothing was acted on (it is the
 * host as it is). Never throws: a failure is the `error` of the result.
 */
export async function rescan(
  flags: ScanFlags,
  config: Config,
  sentinel: boolean,
  unchanged?: ScanReport,
): Promise<Rescan> {
  try {
    const report = unchanged ?? (await scan(scanOptionsFrom(config, flags)));
    return { scan: report, reboot: await rebootForScan(report, flags, config, sentinel) };
  } catch (e) {
    return { error: e instanceof Error ? e.message : String(e) };
  }
}

/** The restart's output with the rescan: in the document as `rescan` (or `rescanError`), in text after it. */
export function withRescan(
  report: RestartReport,
  format: 'text' | 'json',
  style: Style,
  text: string,
  r: Rescan,
): { stdout: string; stderr: string } {
  const stderr =
    r.error === undefined
      ? ''
      : `afterpatch: the scan after the restart (--rescan) failed: ${r.error}\n`;
  if (format === 'json') {
    const doc = {
      ...restartToJson(report),
      ...(r.error === undefined
        ? { rescan: scanToJson(r.scan, r.reboot) }
        : { rescan: null, rescanError: r.error }),
    };
    return { stdout: `${JSON.stringify(doc, null, 2)}\n`, stderr };
  }
  if (r.error !== undefined) return { stdout: text, stderr };
  const after = `\nAfter the restart:\n${formatText(r.scan, style, { all: false })}\n${formatRebootText(r.reboot)}`;
  return { stdout: text + after, stderr };
}
