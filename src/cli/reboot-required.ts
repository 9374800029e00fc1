// `afterpatch reboot-required` options and help; the work is in src/commands (loaded on use).
import type { Command } from '@commander-js/extra-typings';
import type { CliIo } from './io.ts';
import {
  configOption,
  formatOption,
  jsonOption,
  procRootOption,
  quietOption,
  rootOption,
} from './options.ts';

export function register(program: Command, io: CliIo): void {
  program
    .command('reboot-required')
    .description(
      'tell whether only a reboot helps (newer or rebuilt kernel, sentinel files, pending CPU microcode, stale code nothing else can replace)',
    )
    .addOption(quietOption())
    .addOption(formatOption())
    .addOption(jsonOption())
    .option(
      '--sentinel',
      'when a reboot is required, write /run/reboot-required and append to /run/reboot-required.pkgs',
    )
    .addOption(configOption(io.env))
    .addOption(procRootOption(io.env))
    .addOption(rootOption(io.env))
    .addHelpText(
      'after',
      '\nExit status: 0 no reboot needed, 1 reboot needed, 2 error, 3 unknown (no reason found, but evidence\nthat could be one could not be read: the running kernel, /boot, /lib/modules, /run, processes\nor packages the scan could not read); never 0 on an error or a doubt: see docs/reboot.md for kured.',
    )
    .action(async (opts) => {
      const { runRebootRequired } = await import('../commands/reboot.ts');
      io.exitCode = await runRebootRequired(opts, io);
    });
}
