// The `afterpatch` command line: a thin layer over the library API in index.ts.
import { Command, CommanderError, InvalidArgumentError, Option } from '@commander-js/extra-typings';
import { UserError } from './errors.ts';
import { EXIT } from './exit.ts';
import { NOISE_RULES } from './noise.ts';
import { VERSION } from './version.ts';

const collectList = (v: string, prev: string[]) => [...prev, v];
const collectPid = (v: string, prev: number[]) => {
  if (!/^[1-9]\d*$/.test(v))
    throw new InvalidArgumentError('expected a process ID (a positive integer).');
  return [...prev, Number(v)];
};
const positiveInt = (v: string) => {
  if (!/^[1-9]\d*$/.test(v)) throw new InvalidArgumentError('expected a positive integer.');
  return Number(v);
};

export function buildProgram(): Command {
  const program = new Command()
    .name('afterpatch')
    .description('Find and restart every process still running outdated code after a patch.')
    .version(VERSION, '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({ outputError: (s, write) => write(s) })
    .hook('preSubcommand', (_cmd, sub) => {
      errorExit = ERROR_EXIT[sub.name()] ?? EXIT.error;
    });

  program
    .command('scan')
    .description(
      'list processes running deleted or replaced libraries and executables, grouped by what to restart',
    )
    .addOption(
      new Option('--format <format>', 'output format')
        .choices(['text', 'json'] as const)
        .default('text' as const),
    )
    .option('--json', 'same as --format json')
    .option('-q, --quiet', 'print nothing; only the exit code tells (0 clean, 1 stale)')
    .option('-a, --all', 'also show deleted files filtered as noise, and why')
    .option(
      '--lib <regex>',
      'only stale files whose path matches this regular expression (e.g. libssl)',
    )
    .option(
      '--unit <glob>',
      'only processes of matching units (repeatable)',
      collectList,
      [] as string[],
    )
    .option('--pid <pid>', 'only this process (repeatable)', collectPid, [] as number[])
    .option(
      '--package <name>',
      'only files owned by this package (repeatable)',
      collectList,
      [] as string[],
    )
    .option(
      '--include <rule>',
      'report deleted files that this noise rule would filter (repeatable)',
      collectList,
      [] as string[],
    )
    .option('--no-packages', 'do not look up the packages owning stale files')
    .option('--config <file>', 'configuration file (default: /etc/afterpatch/afterpatch.toml)')
    .option('--threads <n>', 'threads reading /proc (default: CPUs, at most 4)', positiveInt)
    .addOption(new Option('--proc-root <dir>', 'procfs to read').default('/proc').hideHelp())
    .addHelpText(
      'after',
      `\nExit status: 0 nothing stale, 1 stale code found, 2 error.\nNoise rules: ${NOISE_RULES.map((r) => r.id).join(' ')} (see docs/noise.md).`,
    )
    .action(async (opts) => {
      const { runScan } = await import('./commands/scan.ts');
      process.exitCode = await runScan(opts);
    });

  program
    .command('restart')
    .description('restart exactly the units running outdated code, verify them, and never loop')
    .option('-n, --dry-run', 'print the plan and change nothing')
    .addOption(
      new Option('--format <format>', 'output format')
        .choices(['text', 'json'] as const)
        .default('text' as const),
    )
    .option('--json', 'same as --format json')
    .option('-y, --yes', 'do not ask (required when not on a terminal)')
    .option('--lib <regex>', 'only units mapping stale files whose path matches (e.g. libssl)')
    .option('--unit <glob>', 'only these units (repeatable)', collectList, [] as string[])
    .option('--force', 'restart units again even if an earlier restart left them stale or failed')
    .option('--include-data', 'also restart units whose only stale files are data (no code)')
    .option(
      '--jobs <n>',
      'units restarted at the same time (default: restart.jobs, 8)',
      positiveInt,
    )
    .option(
      '--timeout <seconds>',
      'wait at most this long for one unit (default: restart.timeout, 90)',
      positiveInt,
    )
    .option('--config <file>', 'configuration file (default: /etc/afterpatch/afterpatch.toml)')
    .option('--state-dir <dir>', 'where earlier outcomes are kept (default: /var/lib/afterpatch)')
    .addOption(new Option('--proc-root <dir>', 'procfs to read').default('/proc').hideHelp())
    .addHelpText(
      'after',
      '\nExit status: 0 all verified or nothing to do, 1 something skipped that needs a human,\n2 a restart failed, timed out or left stale processes, 3 usage or runtime error.',
    )
    .action(async (opts) => {
      const { runRestart } = await import('./commands/restart.ts');
      process.exitCode = await runRestart(opts);
    });

  program
    .command('reboot-required')
    .description(
      'tell whether only a reboot helps (newer or rebuilt kernel, sentinel files, stale code nothing else can replace)',
    )
    .option('-q, --quiet', 'print nothing; only the exit code tells')
    .option('--json', 'versioned JSON with every reason and its evidence')
    .option(
      '--sentinel',
      'when a reboot is required, write /run/reboot-required and append to /run/reboot-required.pkgs',
    )
    .addOption(new Option('--proc-root <dir>', 'procfs to read').default('/proc').hideHelp())
    .addOption(new Option('--root <dir>', 'file system root to inspect').default('/').hideHelp())
    .addHelpText(
      'after',
      '\nExit status: 0 no reboot needed, 1 reboot needed, 2 error (never 0 on an error: see docs/reboot.md for kured).',
    )
    .action(async (opts) => {
      const { runRebootRequired } = await import('./commands/reboot.ts');
      process.exitCode = await runRebootRequired(opts);
    });

  return program;
}

/** Exit status for usage and runtime errors, per command (1 and 2 mean findings for some). */
const ERROR_EXIT: Record<string, number> = { restart: 3 };
let errorExit: number = EXIT.error;

export async function main(argv: readonly string[]): Promise<void> {
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

function reportError(e: unknown): number {
  if (e instanceof UserError) {
    process.stderr.write(`afterpatch: ${e.message}\n`);
    return Math.max(e.exitCode, errorExit);
  }
  const err = e as Error;
  process.stderr.write(`afterpatch: ${err?.message ?? String(e)}\n`);
  if (process.env.AFTERPATCH_DEBUG) process.stderr.write(`${err?.stack ?? ''}\n`);
  else
    process.stderr.write(
      'afterpatch: this is a bug; rerun with AFTERPATCH_DEBUG=1 and report the trace.\n',
    );
  return errorExit;
}

// Run when executed (bundle or tsx), not when imported by tests.
const entry = process.argv[1] ?? '';
if (/afterpatch(\.cjs)?$|cli\.ts$/.test(entry)) void main(process.argv);
