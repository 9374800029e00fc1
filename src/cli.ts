// The `afterpatch` command line: a thin layer over the library API in index.ts.
import { Command, CommanderError } from '@commander-js/extra-typings';
import { register as registerCheck } from './cli/check.ts';
import { register as registerConfig } from './cli/config.ts';
import { type CliIo, processIo } from './cli/io.ts';
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

export type { CliIo, CliOutput } from './cli/io.ts';

/**
 * The program for one run. `onCommand` learns which subcommand runs (its error exit status
 * depends on it); help, version and usage errors go to io's streams.
 */
export function buildProgram(
  io: CliIo = processIo(),
  onCommand: (name: string) => void = () => {},
): Command {
  const program = new Command()
    .name('afterpatch')
    .description('Find and restart every process still running outdated code after a patch.')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      getOutHelpWidth: () => (io.stdout.isTTY && io.stdout.columns) || 80,
      getErrHelpWidth: () => (io.stderr.isTTY && io.stderr.columns) || 80,
      outputError: (s, write) => write(usageErrorLine(s)),
    })
    // After configureOutput: subcommands copy the output settings when they are made.
    .version(VERSION, '-V, --version')
    .hook('preSubcommand', (_cmd, sub) => onCommand(sub.name()));

  // One module per command (src/cli/NAME.ts); keep the list in the order of `--help`.
  registerScan(program, io);
  registerRestart(program, io);
  registerRebootRequired(program, io);
  registerMetrics(program, io);
  registerServe(program, io);
  registerCheck(program, io);
  registerReport(program, io);
  registerConfig(program, io);

  return program;
}

/**
 * One run of the command line: `argv` as process.argv ([node, script, …args]); resolves to the
 * exit status. Nothing here touches the process (exit status, streams, signals): main() does.
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let errorExit: number = EXIT.error;
  try {
    await buildProgram(io, (name) => {
      io.command = name;
      errorExit = errorExitFor(name);
    }).parseAsync(argv as string[]);
    return io.exitCode ?? 0;
  } catch (e) {
    // Commander already printed the message; usage errors exit 2 (1 means "stale found").
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : errorExit;
    reportError(e, io);
    return errorExit;
  }
}

/** The real process: its streams, environment and exit status. */
export async function main(argv: readonly string[]): Promise<void> {
  const io = processIo();
  // `afterpatch scan --json | head`: a reader that stops early is not an error of ours.
  process.stdout.on('error', (e: Error) => {
    if (errnoCode(e) === 'EPIPE') process.exit(io.exitCode ?? 0);
    process.stderr.write(`afterpatch: cannot write the output (${errnoOf(e)}).\n`);
    process.exit(errorExitFor(io.command ?? ''));
  });
  process.exitCode = await runCli(argv, io);
}

/**
 * The one place where an error becomes a message. Library errors carry no exit status: a
 * UserError (and its EnvironmentError, FleetInputError) is one line and the command's
 * usage/runtime-error status (errorExitFor in src/exit.ts); anything else is a bug of afterpatch.
 */
function reportError(e: unknown, io: CliIo): void {
  if (e instanceof UserError) {
    io.stderr.write(`afterpatch: ${printable(e.message)}\n`);
    return;
  }
  const err = e as Error;
  // Messages may quote paths, names or input: escaped like every other text output.
  io.stderr.write(`afterpatch: ${printable(err?.message ?? String(e))}\n`);
  if (io.env.AFTERPATCH_DEBUG) io.stderr.write(`${err?.stack ?? ''}\n`);
  else
    io.stderr.write(
      'afterpatch: this is a bug; rerun with AFTERPATCH_DEBUG=1 and report the trace.\n',
    );
}
