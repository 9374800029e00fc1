// `afterpatch check` options and help; the work is in src/commands (loaded on use).
import { type Command, InvalidArgumentError, Option } from '@commander-js/extra-typings';
import { parseAdvisoryState } from '../check/advisory.ts';
import { CHECK_BUCKETS, CHECK_METRICS, type CheckBucket } from '../check/buckets.ts';
import { parseRange } from '../check/range.ts';
import type { CliIo } from './io.ts';
import { addHealthOptions, jsonOption, usageErrorLine } from './options.ts';

/** Validates a threshold range at parse time, so a typo is a usage error (UNKNOWN). */
const range = (v: string) => {
  try {
    parseRange(v);
  } catch (e) {
    throw new InvalidArgumentError(`${(e as Error).message} (ranges: N, N:, ~:N, N:M, @N:M).`);
  }
  return v;
};

const bucket = (v: string): CheckBucket => {
  if (!(CHECK_BUCKETS as readonly string[]).includes(v)) {
    throw new InvalidArgumentError(`Allowed choices are ${CHECK_BUCKETS.join(', ')}.`);
  }
  return v as CheckBucket;
};

export function register(program: Command, io: CliIo): void {
  addHealthOptions(
    program
      .command('check')
      .description(
        'Nagios / Icinga / Sensu plugin: state, perfdata and what needs a restart or reboot',
      )
      .option(
        '-w, --warning <range>',
        'WARNING when the metric is outside this range (default 0: anything needing action)',
        range,
      )
      .option('-c, --critical <range>', 'CRITICAL when the metric is outside this range', range)
      .addOption(
        new Option(
          '--metric <metric>',
          'what --warning and --critical apply to: any (each bucket), processes, or one bucket; the other buckets still warn above 0',
        )
          .choices(CHECK_METRICS)
          .default('any' as const),
      )
      .addOption(
        new Option('--ignore <bucket>', 'never alert on this bucket (repeatable; still listed)')
          .choices(CHECK_BUCKETS)
          .argParser((v, prev: CheckBucket[]) => [...prev, bucket(v)])
          .default([] as CheckBucket[]),
      )
      .addOption(
        new Option('--reboot-state <state>', 'state when a reboot is required')
          .choices(['ok', 'warning', 'critical'] as const)
          .default('warning' as const),
      )
      .addOption(
        new Option(
          '--advisory-state <verdict=state>',
          'state for an advisory verdict (repeatable; default: unpatched, reboot-needed, restart-needed critical; image-vulnerable, unknown warning)',
        )
          .argParser((v, prev: string[]) => {
            try {
              parseAdvisoryState(v);
            } catch (e) {
              throw new InvalidArgumentError(`${(e as Error).message}.`);
            }
            return [...prev, v];
          })
          .default([] as string[]),
      )
      .addOption(
        new Option(
          '--format <format>',
          'output format: plugin text, or the health snapshot as JSON',
        )
          .choices(['nagios', 'json'] as const)
          .default('nagios' as const),
      )
      .addOption(jsonOption()),
    io.env,
  )
    .configureOutput({
      // A usage error must still give the monitoring system a plugin line on stdout.
      // Icinga and Sensu read stdout and stderr as one stream, in write order: the plugin line
      // goes first so it stays the first line of what they record.
      outputError: (s, write) => {
        // Bounded (an option value may be long) to stay within NRPE 2's 1 KiB.
        const first = (s.split('\n')[0]?.replace(/^error: /, '') ?? 'usage error').slice(0, 900);
        io.stdout.write(`AFTERPATCH UNKNOWN - usage error: ${first.replaceAll('|', '\\x7c')}\n`);
        write(usageErrorLine(s));
      },
    })
    .addHelpText(
      'after',
      '\nBuckets: units (system and user units, PID 1), unmanaged (processes outside any unit),\nsessions, containers, vms (qemu guests). Ranges (Nagios plugin guidelines): N alerts outside 0..N, N: below N,\n~:N above N, N:M outside N..M, @N:M inside. UNKNOWN when some processes are unreadable\nwithout root or CAP_SYS_PTRACE or for a read error (EMFILE, EIO), the restart state is unreadable, or the reboot verdict is unknown. docs/monitoring.md has examples.\nExit status: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (any error, usage errors included).',
    )
    .action(async (opts) => {
      const { runCheck } = await import('../commands/check.ts');
      io.exitCode = await runCheck(opts, io);
    });
}
