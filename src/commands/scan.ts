import { loadConfig } from '../config/load.ts';
import { UserError } from '../errors.ts';
import { scanExitCode } from '../exit.ts';
import { NOISE_RULES, unknownRules } from '../noise.ts';
import { SCAN_FORMATS, type ScanFormat } from '../output/formats.ts';
import { styleFor } from '../output/style.ts';
import { patternProblem } from '../regexp.ts';
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
  include: string[];
  packages: boolean;
  interpreted: boolean;
  threads?: number;
  config?: string;
  procRoot: string;
}

export async function runScan(o: ScanCliOptions): Promise<number> {
  if (o.lib !== undefined) checkRegExp(o.lib);
  const config = loadConfig(o.config, o.config !== undefined);
  const disabled = [...config.scan.include_noise, ...o.include];
  const unknown = unknownRules(disabled);
  if (unknown.length > 0) {
    throw new UserError(
      `unknown noise rule "${unknown[0]}" for --include; the rules are: ${NOISE_RULES.map((r) => r.id).join(' ')}.`,
    );
  }
  const report = await scan({
    procRoot: o.procRoot,
    noise: { disabled, extra: config.scan.ignore_files },
    ignoreProcesses: config.scan.ignore_processes,
    includeIgnored: o.all === true,
    packages: o.packages,
    // The flag can only switch the detector off; the configuration's default is on.
    interpreted: o.interpreted && config.scan.interpreted,
    ...(o.threads === undefined ? {} : { threads: o.threads }),
    filters: {
      ...(o.lib === undefined ? {} : { lib: o.lib }),
      ...(o.unit.length ? { units: o.unit } : {}),
      ...(o.pid.length ? { pids: o.pid } : {}),
      ...(o.package.length ? { packages: o.package } : {}),
    },
  });
  // Known before the output, so a reader that closes the pipe early still sees the verdict.
  process.exitCode = scanExitCode(report);
  if (!o.quiet) {
    const format: ScanFormat = o.json ? 'json' : o.format;
    const ctx = { style: styleFor(process.stdout, process.env), all: o.all === true };
    for (const chunk of SCAN_FORMATS[format](report, ctx)) process.stdout.write(chunk);
  }
  return scanExitCode(report);
}

function checkRegExp(src: string): void {
  const problem = patternProblem(src);
  if (problem !== null) throw new UserError(`--lib ${JSON.stringify(src)} ${problem}.`);
}
