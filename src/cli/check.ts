// `afterpatch check` options and help; the work is in src/commands (loaded on use).
import { type Command, InvalidArgumentError, Option } from '@commander-js/extra-typings';
import { parseRange } from '../check/range.ts';
import { configOption, procRootOption, rootOption, stateDirOption } from './options.ts';

/** Validates a threshold range at parse time, so a typo is a usage error (UNKNOWN). */
const range = (v: string) => {
  try {
    parseRange(v);
  } catch (e) {
    throw new InvalidArgumentError(`${(e as Error).message} (ranges: N, N:, ~:N, N:M, @N:M).`);
  }
  return v;
};

export function register(program: Command): void {
  program
    .command('check')
    .description(
      'Nagios / Icinga / Sensu plugin: state, perfdata and what needs a restart or reboot',
    )
    .option(
      '-w, --warning <range>',
      'WARNING when the metric is outside this range (default 0: any unit needing action)',
      range,
    )
    .option('-c, --critical <range>', 'CRITICAL when the metric is outside this range', range)
    .addOption(
      new Option('--metric <metric>', 'what --warning and --critical apply to')
        .choices(['units', 'processes'] as const)
        .default('units' as const),
    )
    .addOption(
      new Option('--reboot-state <state>', 'state when a reboot is required')
        .choices(['ok', 'warning', 'critical'] as const)
        .default('warning' as const),
    )
    .addOption(configOption())
    .addOption(stateDirOption())
    .addOption(procRootOption())
    .addOption(rootOption())
    .configureOutput({
      // A usage error must still give the monitoring system a plugin line on stdout.
      // Icinga and Sensu read stdout and stderr as one stream, in write order: the plugin line
      // goes first so it stays the first line of what they record.
      outputError: (s, write) => {
        const first = s.split('\n')[0]?.replace(/^error: /, '') ?? 'usage error';
        process.stdout.write(
          `AFTERPATCH UNKNOWN - usage error: ${first.replaceAll('|', '\\x7c')}\n`,
        );
        write(s);
      },
    })
    .addHelpText(
      'after',
      '\nRanges (Nagios plugin guidelines): N alerts outside 0..N, N: below N, ~:N above N, N:M outside N..M, @N:M inside.\nUNKNOWN when not root and some processes are unreadable. docs/monitoring.md has examples.\nExit status: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (any error).',
    )
    .action(async (opts) => {
      const { runCheck } = await import('../commands/check.ts');
      process.exitCode = await runCheck(opts);
    });
}
