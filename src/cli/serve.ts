// `afterpatch serve` options and help; the work is in src/commands (loaded on use).
import { type Command, InvalidArgumentError } from '@commander-js/extra-typings';
import type { CliIo } from './io.ts';
import { addHealthOptions, maxUnitSeriesOption } from './options.ts';

const seconds = (v: string) => {
  if (!/^(\d+(\.\d+)?|\.\d+)$/.test(v) || Number(v) <= 0 || Number(v) > 86_400)
    throw new InvalidArgumentError('expected a number of seconds greater than 0 (at most 86400).');
  return Number(v);
};

export function register(program: Command, io: CliIo): void {
  addHealthOptions(
    program
      .command('serve')
      .description(
        'serve Prometheus metrics over HTTP (GET /metrics), scanning at most every --interval',
      )
      .requiredOption(
        '--listen <addr>',
        'address to listen on: HOST:PORT, [IPv6]:PORT or :PORT for all addresses (e.g. 127.0.0.1:9789)',
      )
      .option(
        '--interval <seconds>',
        'scan at most this often; scrapes in between get the last result',
        seconds,
        60,
      )
      .option(
        '--timeout <seconds>',
        'answer 503 when a scrape waits longer for a scan',
        seconds,
        30,
      )
      .option(
        '--scan-timeout <seconds>',
        'kill a scan still running after this long, at least --timeout (default: 10 times --timeout)',
        seconds,
      )
      .addOption(maxUnitSeriesOption())
      .option('--no-node-reboot-required', 'do not export node_reboot_required'),
    io.env,
  )
    .addHelpText(
      'after',
      '\nEach scan runs in a child process, so a stuck /proc read cannot freeze the server.\nRuns until SIGTERM or SIGINT (exit 0). Exit status 2: bad usage or the address cannot be bound.\nScan errors do not stop it: they are logged and exported (afterpatch_scan_errors_total). Metrics: docs/monitoring.md.',
    )
    .action(async (opts) => {
      const { runServe } = await import('../commands/serve.ts');
      io.exitCode = await runServe(opts, io);
    });
}
