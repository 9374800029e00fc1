// `afterpatch metrics` options and help; the work is in src/commands (loaded on use).
import { type Command, InvalidArgumentError, Option } from '@commander-js/extra-typings';

export const DEFAULT_MAX_UNIT_SERIES = 100;

export const seriesLimit = (v: string) => {
  if (!/^\d+$/.test(v) || Number(v) > 100_000)
    throw new InvalidArgumentError('expected a whole number from 0 to 100000.');
  return Number(v);
};

export function register(program: Command): void {
  const cmd = program
    .command('metrics')
    .description('print Prometheus metrics, or write them for node_exporter (--textfile)')
    .option(
      '--textfile <dir>',
      'write DIR/afterpatch.prom atomically (node_exporter textfile collector; Debian: /var/lib/prometheus/node-exporter)',
    )
    .option(
      '--max-unit-series <n>',
      `at most this many afterpatch_unit_needs_restart series with a unit name; the rest are counted in one (default ${DEFAULT_MAX_UNIT_SERIES})`,
      seriesLimit,
      DEFAULT_MAX_UNIT_SERIES,
    )
    .option('--no-node-reboot-required', 'do not export node_reboot_required')
    .option('--config <file>', 'configuration file (default: /etc/afterpatch/afterpatch.toml)')
    .option('--state-dir <dir>', 'where restart outcomes are kept (default: /var/lib/afterpatch)')
    .addOption(new Option('--proc-root <dir>', 'procfs to read').default('/proc').hideHelp())
    .addOption(new Option('--root <dir>', 'file system root to inspect').default('/').hideHelp())
    .addHelpText(
      'after',
      '\nExit status: 0 metrics written, 2 error (bad usage, unwritable directory, failed scan;\na failed scan still writes afterpatch_scan_errors_total 1). Metrics: docs/monitoring.md.',
    );
  cmd.action(async (opts) => {
    const { runMetrics } = await import('../commands/metrics.ts');
    process.exitCode = await runMetrics(opts);
  });
}
