// The `afterpatch` command line: a thin layer over the library API in index.ts.
import { Command, CommanderError } from '@commander-js/extra-typings';
import { register as registerCheck } from './cli/check.ts';
import { register as registerConfig } from './cli/config.ts';
import { register as registerMetrics } from './cli/metrics.ts';
import { usageErrorLine } from './cli/options.ts';
import { register as registerRebootRequired } from './cli/reboot-required.ts';
import { register as registerReport } from './cli/report.ts';
import { register as registerRestart } from './cli/restart.ts';
import { register as registerScan } from './cli/scan.ts';
import { register as registerServe } from './cli/serve.ts';
import { errnoCode, errnoOf, UserError } from './errors.ts';
import { EXIT, errorExitFor } from './exit.ts';
import { printable } from './output/style.ts';
import { VERSION } from './version.ts';

export function buildProgram(): Command {
  const program = new Command()
    .name('afterpatch')
    .description('Find and restart every process still running outdated code after a patch.')
    .version(VERSION, '-V, --version')
    .exitOverride()
    .configureOutput({ outputError: (s, write) => write(usageErrorLine(s)) })
    .hook('preSubcommand', (_cmd, sub) => {
      errorExit = errorExitFor(sub.name());
    });

  // One module per command (src/cli/NAME.ts); keep the list in the order of `--help`.
  registerScan(program);
  registerRestart(program);
  registerRebootRequired(program);
  registerMetrics(program);
  registerServe(program);
  registerCheck(program);
  registerReport(program);
  registerConfig(program);

  return program;
}

let errorExit: number = EXIT.error;

export async function main(argv: readonly string[]): Promise<void> {
  // `afterpatch scan --json | head`: a reader that stops early is not an error of ours.
  process.stdout.on('error', (e: Error) => {
    if (errnoCode(e) === 'EPIPE') process.exit(process.exitCode ?? 0);
    process.stderr.write(`afterpatch: cannot write the output (${errnoOf(e)}).\n`);
    process.exit(errorExit);
  });
  try {
    await buildProgram().parseAsync(argv as string[]);
  } catch (e) {
    if (e instanceof CommanderError) {
      // Commander already printed the message; usage errors exit 2 (1 means "stale found").
      process.exitCode = e.exitCode === 0 ? 0 : errorExit;
      return;
    }
    process.exitCode = reportError(e);
  }
}

/**
 * The one place where an error becomes an exit status. Library errors carry none: a UserError
 * (and its EnvironmentError, FleetInputError) is one line and the command's usage/runtime-error
 * status (errorExitFor in src/exit.ts); anything else is a bug of afterpatch.
 */
function reportError(e: unknown): number {
  if (e instanceof UserError) {
    process.stderr.write(`afterpatch: ${printable(e.message)}\n`);
    return errorExit;
  }
  const err = e as Error;
  // Messages may quote paths, names or input: escaped like every other text output.
  process.stderr.write(`afterpatch: ${printable(err?.message ?? String(e))}\n`);
  if (process.env.AFTERPATCH_DEBUG) process.stderr.write(`${err?.stack ?? ''}\n`);
  else
    process.stderr.write(
      'afterpatch: this is a bug; rerun with AFTERPATCH_DEBUG=1 and report the trace.\n',
    );
  return errorExit;
}
