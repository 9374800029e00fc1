// `afterpatch metrics` options and help; the work is in src/commands (loaded on use).
import type { Command } from '@commander-js/extra-typings';
import {
  configOption,
  libOption,
  maxUnitSeriesOption,
  packageOption,
  procRootOption,
  quietOption,
  rootOption,
  stateDirOption,
  unitOption,
} from './options.ts';

export function register(program: Command): void {
  const cmd = program
    .command('metrics')
    .description('print Prometheus metrics, or write them for node_exporter (--textfile)')
    .option(
      '--textfile <dir>',
      'write DIR/afterpatch.prom atomically (node_exporter textfile collector; Debian: /var/lib/prometheus/node-exporter)',
    )
    .addOption(maxUnitSeriesOption())
    .addOption(quietOption())
    .option('--no-node-reboot-required', 'do not export node_reboot_required')
    .addOption(libOption())
    .addOption(unitOption())
    .addOption(packageOption())
    .addOption(configOption())
    .addOption(stateDirOption())
    .addOption(procRootOption())
    .addOption(rootOption())
    .addHelpText(
      'after',
      '\nExit status: 0 metrics written, 2 error (bad usage, unwritable directory, failed scan;\na failed scan still writes afterpatch_scan_errors_total 1). Metrics: docs/monitoring.md.',
    );
  cmd.action(async (opts) => {
    const { runMetrics } = await import('../commands/metrics.ts');
    process.exitCode = await runMetrics(opts);
  });
}
