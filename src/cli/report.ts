// `afterpatch report` options and help; the work is in src/commands (loaded on use).
import type { Command } from '@commander-js/extra-typings';
import type { CliIo } from './io.ts';
import { formatOption, jsonOption, quietOption } from './options.ts';

export function register(program: Command, io: CliIo): void {
  program
    .command('report')
    .description(
      "merge many hosts' JSON results (scan, restart, reboot-required, the Ansible module) into one fleet view",
    )
    .argument('[files...]', 'JSON, JSON array or JSON Lines files (standard input when none or -)')
    .addOption(formatOption())
    .addOption(jsonOption())
    .addOption(quietOption())
    .addHelpText(
      'after',
      '\nExit status: 0 every host clean, 1 some host needs a restart or a reboot, failed or has no scan (unknown), 2 error (bad input, or no host in the input).\nSee docs/fleet.md.',
    )
    .action(async (files, opts) => {
      const { runReport } = await import('../commands/report.ts');
      io.exitCode = await runReport(files, opts, io);
    });
}
