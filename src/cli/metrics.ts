// `afterpatch metrics` options and help; the work is in src/commands (loaded on use).
import type { Command } from '@commander-js/extra-typings';
import type { CliIo } from './io.ts';
import { addHealthOptions, maxUnitSeriesOption, quietOption } from './options.ts';

export function register(program: Command, io: CliIo): void {
  const cmd = addHealthOptions(
    program
      .command('metrics')
      .description('print Prometheus metrics, or write them for node_exporter (--textfile)')
      .option(
        '--textfile <dir>',
        'write DIR/afterpatch.prom atomically (node_exporter textfile collector; Debian: /var/lib/prometheus/node-exporter)',
      )
      .addOption(maxUnitSeriesOption())
      .addOption(quietOption())
      .option('--no-node-reboot-required', 'do not export node_reboot_required'),
    io.env,
  ).addHelpText(
    'after',
    '\nExit status: 0 metrics written, 2 error (bad usage, unwritable directory, failed scan;\na failed scan still writes afterpatch_scan_errors_total 1). Metrics: docs/monitoring.md.',
  );
  cmd.action(async (opts) => {
    const { runMetrics } = await import('../commands/metrics.ts');
    io.exitCode = await runMetrics(opts, io);
  });
}
