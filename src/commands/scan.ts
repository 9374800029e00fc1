import type { CliIo } from '../cli/io.ts';
import { loadConfig } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import { UserError } from '../errors.ts';
import { EXIT, partialScanNote, rebootUnknown, scanExitCode } from '../exit.ts';
import { writeBatched } from '../output/batches.ts';
import { SCAN_FORMATS, type ScanFormat } from '../output/formats.ts';
import { styleFor } from '../output/style.ts';
import { scanOptionsFrom } from '../scan/options.ts';
import { type ScanReport, scan } from '../scan/scan.ts';

export interface ScanCliOptions {
  format: ScanFormat;
  json?: true;
  quiet?: true;
  all?: true;
  lib?: string;
  unit: string[];
  pid: number[];
  package: string[];
  fixed?: string[];
  advisory?: string[];
  include: string[];
  packages: boolean;
  interpreted: boolean;
  threads?: number;
  /** Also reboot-required's verdict (and, with sentinel, its --sentinel): src/reboot/for-scan.ts. */
  reboot?: true;
  sentinel?: true;
  config?: string;
  procRoot: string;
  root?: string;
}

export async function runScan(o: ScanCliOptions, io: CliIo): Promise<number> {
  const config = loadConfig(o.config, o.config !== undefined);
  if (o.sentinel && !o.reboot) throw new UserError('--sentinel needs --reboot.');
  const report = await scan(scanOptionsFrom(config, o));
  // Before any output: a verdict that cannot be had is an error, never a scan without it.
  const reboot = o.reboot ? await scanReboot(report, o, config) : undefined;
  const code = scanWithRebootExitCode(report, reboot?.report);
  // Known before the output, so a reader that closes the pipe early still sees the verdict.
  io.exitCode = code;
  if (!o.quiet) {
    const format: ScanFormat = o.json ? 'json' : o.format;
    const ctx = { style: styleFor(io.stdout, io.env), all: o.all === true, reboot };
    writeBatched(io.stdout, SCAN_FORMATS[format](report, ctx));
  }
  const partial = code === EXIT.partial ? partialScanNote(report) : null;
  if (partial !== null) io.stderr.write(`${partial}\n`);
  return code;
}

async function scanReboot(report: ScanReport, o: ScanCliOptions, config: Config) {
  const [{ rebootForScan }, { formatRebootText }] = await Promise.all([
    import('../reboot/for-scan.ts'),
    import('../output/reboot.ts'),
  ]);
  const r = await rebootForScan(report, o, config, o.sentinel === true);
  return { report: r, text: formatRebootText(r) };
}

/** With --reboot, a required reboot is something to do: exit 1 (docs/cli.md). */
export function scanWithRebootExitCode(
  report: ScanReport,
  reboot: { required: boolean; unknown?: readonly string[] } | undefined,
): number {
  const code = scanExitCode(report);
  if (reboot?.required && code !== EXIT.stale) return EXIT.stale;
  // A reboot verdict that could not be had is not clean either.
  return reboot !== undefined && rebootUnknown(reboot) && code === EXIT.ok ? EXIT.partial : code;
}
