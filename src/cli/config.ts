// `afterpatch config` options and help; the work is in src/commands (loaded on use).
import { type Command, Option } from '@commander-js/extra-typings';
import type { CliIo } from './io.ts';
import { formatOption, jsonOption } from './options.ts';
import { privilegedPath } from './privileged.ts';

export function register(program: Command, io: CliIo): void {
  program
    .command('config')
    .description(
      'check a configuration file and print the effective settings (defaults filled in); scans nothing',
    )
    .argument(
      '[file]',
      'configuration file to check (default: /etc/afterpatch/afterpatch.toml)',
      privilegedPath('the file argument', io.env),
    )
    .addOption(formatOption())
    .addOption(jsonOption())
    .option('-q, --quiet', 'print nothing; only the exit status tells (0 valid, 2 invalid)')
    .addOption(
      new Option(
        '--config <file>',
        'the file to check, as the other commands take it (with a file argument too, both must name the same file)',
      ).argParser(privilegedPath('--config', io.env)),
    )
    .addHelpText(
      'after',
      '\nReads only the file: no scan, no /proc, no systemctl. A missing default file means all defaults\n(exit 0); a missing file that was named is an error. For Ansible: validate: "afterpatch config %s".\nExit status: 0 valid, 2 invalid or unreadable file, or bad usage (one line on stderr, nothing on stdout).',
    )
    .action(async (file, opts) => {
      const { runConfig } = await import('../commands/config.ts');
      io.exitCode = runConfig(file, opts, io);
    });
}
