// `afterpatch scan` options and help; the work is in src/commands (loaded on use).
import { type Command, Option } from '@commander-js/extra-typings';
import { NOISE_RULES } from '../scan/noise.ts';
import type { CliIo } from './io.ts';
import {
  advisoryOption,
  configOption,
  fixedOption,
  jsonOption,
  libOption,
  packageOption,
  procRootOption,
  rootOption,
  unitOption,
} from './options.ts';
import { collectList, collectPid, threadCount } from './parse.ts';

export function register(program: Command, io: CliIo): void {
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
    .addOption(jsonOption())
    .option(
      '-q, --quiet',
      'print nothing; only the exit code tells (0 clean, 1 stale, 2 error, 3 partial or unknown)',
    )
    .option('-a, --all', 'also show deleted files filtered as noise, and why')
    .addOption(libOption())
    .addOption(unitOption())
    .option('--pid <pid>', 'only this process (repeatable)', collectPid, [] as number[])
    .addOption(packageOption())
    .addOption(fixedOption())
    .addOption(advisoryOption(io.env))
    .option(
      '--include <rule>',
      'report deleted files that this noise rule would filter (repeatable)',
      collectList,
      [] as string[],
    )
    .option('--no-packages', 'do not look up the packages owning stale files')
    .option(
      '--no-interpreted',
      'do not look for outdated Python/Perl/Ruby/Node.js/Java code (docs/interpreted.md)',
    )
    .option(
      '--reboot',
      'also tell whether only a reboot helps (the reboot-required verdict, unchanged by filters; in --json the "reboot" document)',
    )
    .option('--sentinel', 'with --reboot: as reboot-required --sentinel')
    .addOption(configOption(io.env))
    .option(
      '--threads <n>',
      'threads reading /proc (default: CPUs, at most 4, one when the load average and the other tasks runnable now are both twice the CPUs; at most 4 per CPU)',
      threadCount,
    )
    .addOption(procRootOption(io.env))
    .addOption(rootOption(io.env))
    .addHelpText(
      'after',
      `\nExit status: 0 nothing stale, 1 stale code found (or an advisory not clean, or with --reboot a reboot required), 2 error (also: no process to read, a --pid of no process), 3 nothing stale found but some processes could not be read: without root or CAP_SYS_PTRACE, or for a read error such as EMFILE (or an advisory, or with --reboot the reboot verdict, is unknown).\nNoise rules: ${NOISE_RULES.map((r) => r.id).join(' ')} (see docs/noise.md).`,
    )
    .action(async (opts) => {
      const { runScan } = await import('../commands/scan.ts');
      io.exitCode = await runScan(opts, io);
    });
}
