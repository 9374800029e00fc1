import { createInterface } from 'node:readline/promises';
import type { CliIo } from '../cli/io.ts';
import { loadConfig } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import { UserError } from '../errors.ts';
import { restartExitCode } from '../exit.ts';
import { formatPlan, RESTART_FORMATS, type RestartFormat } from '../output/restart.ts';
import { type Style, styleFor } from '../output/style.ts';
import { openActionLog } from '../restart/log.ts';
import { isActionable } from '../restart/plan.ts';
import {
  applyRestart,
  planRestart,
  type RestartOptions,
  type RestartReport,
} from '../restart/restart.ts';
import { phase } from '../restart/timing.ts';
import type { ScanReport } from '../scan/scan.ts';

export interface RestartCliOptions {
  dryRun?: true;
  format: RestartFormat;
  json?: true;
  quiet?: true;
  yes?: true;
  force?: true;
  includeData?: true;
  lib?: string;
  unit: string[];
  package: string[];
  fixed?: string[];
  advisory?: string[];
  jobs?: number;
  timeout?: number;
  /** Then scan again and answer the reboot question (src/commands/rescan.ts); sentinel: its --sentinel. */
  rescan?: true;
  sentinel?: true;
  config?: string;
  stateDir?: string;
  procRoot: string;
  root?: string;
}

export async function runRestart(o: RestartCliOptions, io: CliIo): Promise<number> {
  const config = loadConfig(o.config, o.config !== undefined);
  if (o.sentinel && !o.rescan) throw new UserError('--sentinel needs --rescan.');
  if (o.sentinel && o.dryRun)
    throw new UserError('--sentinel writes to the host; not with --dry-run.');
  const format: RestartFormat = o.json ? 'json' : o.format;
  const style = styleFor(io.stdout, io.env);
  // -q: the report is not printed (the exit status tells); prompts and errors still are.
  const print = (text: string) => {
    if (!o.quiet) io.stdout.write(text);
  };
  const opts: RestartOptions = {
    config,
    // --lib is checked by the scan-options builder (a UserError, exit 3 here).
    filters: { lib: o.lib, units: o.unit, packages: o.package },
    fixed: o.fixed,
    advisory: o.advisory,
    force: o.force === true,
    includeData: o.includeData === true,
    procRoot: o.procRoot,
    root: o.root,
    jobs: o.jobs,
    timeoutSeconds: o.timeout,
    stateDir: o.stateDir,
    // --rescan reuses the plan's scan when nothing is acted on: its document shows packages.
    fileOwners: o.rescan === true,
  };
  const planned = await planRestart(opts);
  const actionable = planned.plan.filter(isActionable).length;
  if (o.dryRun || actionable === 0) {
    const report = { ...planned, dryRun: o.dryRun === true, results: [] };
    // Nothing was acted on: the plan's scan is the host as it is, the rescan's scan.
    const out = { stdout: RESTART_FORMATS[format](report, style), stderr: '' };
    const { stdout, stderr } = await rescanned(o, config, report, format, style, out, planned.scan);
    print(stdout);
    io.stderr.write(stderr);
    return restartExitCode(report);
  }
  if (!o.yes) {
    if (!io.stdin.isTTY || !io.stdout.isTTY || format === 'json') {
      throw new UserError(
        'refusing to restart without --yes when not asked on a terminal; review the plan with --dry-run.',
      );
    }
    io.stdout.write(formatPlan(planned.plan, style, planned.scan));
    // Both are terminals here: the real process's streams.
    const rl = createInterface({
      input: io.stdin,
      output: io.stdout as NodeJS.WritableStream,
    });
    const answer = await rl.question(
      `\nRestart ${actionable} unit${actionable === 1 ? '' : 's'} as planned? [y/N] `,
    );
    rl.close();
    if (!/^y(es)?$/i.test(answer.trim())) {
      io.stdout.write('Nothing was changed.\n');
      return 0;
    }
  }
  const log = openActionLog({ stderr: io.stderr });
  try {
    const report = await applyRestart(planned, { ...opts, log });
    const out = restartOutput(report, format, style);
    const { stdout, stderr } = await rescanned(o, config, report, format, style, out);
    print(stdout);
    io.stderr.write(stderr);
    phase('output');
    return restartExitCode(report);
  } finally {
    await log.close();
    phase('journal');
  }
}

/** With --rescan (not after a signal: it asks to stop): the output with the host after the restart. */
async function rescanned(
  o: RestartCliOptions,
  config: Config,
  report: RestartReport,
  format: RestartFormat,
  style: Style,
  out: { stdout: string; stderr: string },
  unchanged?: ScanReport,
): Promise<{ stdout: string; stderr: string }> {
  if (!o.rescan || report.interrupted) return out;
  const { rescan, withRescan } = await import('./rescan.ts');
  // The plan's scan flags: the rescan sees what the plan saw (src/restart/restart.ts).
  const flags = {
    procRoot: o.procRoot,
    root: o.root,
    lib: o.lib,
    unit: o.unit,
    package: o.package,
    fixed: o.fixed,
    advisory: o.advisory,
  };
  const after = await rescan(flags, config, o.sentinel === true, unchanged);
  const w = withRescan(report, format, style, out.stdout, after);
  return { stdout: w.stdout, stderr: out.stderr + w.stderr };
}

/** What was done goes to stdout first; a lost state or a signal then on stderr, one line each. */
export function restartOutput(
  report: RestartReport,
  format: RestartFormat,
  style: Style,
): { stdout: string; stderr: string } {
  const err: string[] = [];
  if (report.stateError) {
    err.push(
      `afterpatch: the units above were acted on, but their outcomes were not saved: ${report.stateError} Fix it before the next restart, or it may act on them again.`,
    );
  }
  if (report.interrupted) {
    err.push(
      `afterpatch: interrupted by ${report.interrupted} after the jobs in flight; run afterpatch restart again for the rest.`,
    );
  }
  return {
    stdout: RESTART_FORMATS[format](report, style),
    stderr: err.map((l) => `${l}\n`).join(''),
  };
}
