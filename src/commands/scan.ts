import type { CliIo } from '../cli/io.ts';
import { loadConfig } from '../config/load.ts';
import { partialScanNote, scanExitCode } from '../exit.ts';
import { SCAN_FORMATS, type ScanFormat } from '../output/formats.ts';
import { styleFor } from '../output/style.ts';
import { scanOptionsFrom } from '../scan/options.ts';
import { scan } from '../scan/scan.ts';

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
  config?: string;
  procRoot: string;
  root?: string;
}

const OUTPUT_BATCH = 64 * 1024;

export async function runScan(o: ScanCliOptions, io: CliIo): Promise<number> {
  const config = loadConfig(o.config, o.config !== undefined);
  const report = await scan(scanOptionsFrom(config, o));
  // Known before the output, so a reader that closes the pipe early still sees the verdict.
  io.exitCode = scanExitCode(report);
  if (!o.quiet) {
    const format: ScanFormat = o.json ? 'json' : o.format;
    const ctx = { style: styleFor(io.stdout, io.env), all: o.all === true };
    // Chunks (one per process) gathered into writes of about 64 KiB: one write(2) per process
    // cost 10,000 system calls at 10,000 stale processes; memory stays bounded all the same.
    let pending = '';
    for (const chunk of SCAN_FORMATS[format](report, ctx)) {
      pending += chunk;
      if (pending.length >= OUTPUT_BATCH) {
        io.stdout.write(pending);
        pending = '';
      }
    }
    if (pending !== '') io.stdout.write(pending);
  }
  const partial = partialScanNote(report);
  if (partial !== null) io.stderr.write(`${partial}\n`);
  return scanExitCode(report);
}
