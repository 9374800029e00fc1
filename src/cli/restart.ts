// `afterpatch restart` options and help; the work is in src/commands (loaded on use).
import { type Command, Option } from '@commander-js/extra-typings';
import type { CliIo } from './io.ts';
import {
  advisoryOption,
  configOption,
  fixedOption,
  jsonOption,
  libOption,
  packageOption,
  procRootOption,
  quietOption,
  rootOption,
  stateDirOption,
  unitOption,
} from './options.ts';
import { positiveInt } from './parse.ts';

export function register(program: Command, io: CliIo): void {
  program
    .command('restart')
    .description('restart exactly the units running outdated code, verify them, and never loop')
    .option('-n, --dry-run', 'print the plan and change nothing')
    .addOption(
      new Option('--format <format>', 'output format')
        .choices(['text', 'json'] as const)
        .default('text' as const),
    )
    .addOption(jsonOption())
    .addOption(quietOption())
    .option('-y, --yes', 'do not ask (required when not on a terminal)')
    .addOption(libOption())
    .addOption(unitOption())
    .addOption(packageOption())
    .addOption(fixedOption())
    .addOption(advisoryOption(io.env))
    .option('--force', 'restart units again even if an earlier restart left them stale or failed')
    .option('--include-data', 'also restart units whose only stale files are data (no code)')
    .option('--jobs <n>', 'units restarted at once (default: restart.jobs, 64)', positiveInt)
    .option(
      '--timeout <seconds>',
      "wait at most this long for a unit's job, or a systemctl batch (default: restart.timeout, 90)",
      positiveInt,
    )
    .option(
      '--rescan',
      'then scan again (the same filters) and tell whether only a reboot helps: in --json as "rescan", a scan --json --reboot document',
    )
    .option('--sentinel', 'with --rescan: as reboot-required --sentinel (not with --dry-run)')
    .addOption(configOption(io.env))
    .addOption(stateDirOption(io.env))
    .addOption(procRootOption(io.env))
    .addOption(rootOption(io.env))
    .addHelpText(
      'after',
      '\nExit status: 0 all verified or nothing to do, 1 something skipped that needs a human (also:\nprocesses it could not read without root or CAP_SYS_PTRACE, or for a read error), 2 a restart failed, timed out, was not verified\nor left stale processes, 3 usage or runtime error (nothing done), 4 units were acted on\n(reported) but their outcomes could not be saved, 5 stopped by SIGTERM/SIGINT after the jobs\nin flight (reported and saved).',
    )
    .action(async (opts) => {
      const { runRestart } = await import('../commands/restart.ts');
      io.exitCode = await runRestart(opts, io);
    });
}
