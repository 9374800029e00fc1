// `afterpatch serve`: Prometheus metrics over HTTP until SIGTERM/SIGINT.
import type { AddressInfo } from 'node:net';
import { UserError } from '../errors.ts';
import { EXIT } from '../exit.ts';
import {
  gatherHealth,
  type Health,
  type HealthCliOptions,
  type HealthOptions,
  healthOptions,
} from '../health.ts';
import { formatPrometheus } from '../output/prometheus.ts';
import { ScanCache } from '../serve/cache.ts';
import { parseListen, urlHost } from '../serve/listen.ts';
import { createMetricsServer } from '../serve/server.ts';

export interface ServeCliOptions extends HealthCliOptions {
  listen: string;
  interval: number;
  timeout: number;
  maxUnitSeries: number;
  nodeRebootRequired: boolean;
  config?: string;
  stateDir?: string;
  procRoot: string;
  root: string;
}

export interface ExpositionSourceOptions {
  gather: () => Promise<Health>;
  intervalMs: number;
  maxUnitSeries: number;
  nodeRebootRequired: boolean;
  log: (line: string) => void;
}

/** Scans through the cache; a failed scan is counted, logged and exported, never thrown. */
export function expositionSource(o: ExpositionSourceOptions): ScanCache<string> {
  let errors = 0;
  let lastGood: Health | null = null;
  return new ScanCache<string>({
    intervalMs: o.intervalMs,
    produce: async () => {
      let ok = true;
      try {
        lastGood = await o.gather();
      } catch (e) {
        ok = false;
        errors++;
        o.log(
          `afterpatch: scan failed: ${String((e as Error)?.message ?? e).replace(/\s+/g, ' ')}`,
        );
      }
      return formatPrometheus(lastGood, {
        maxUnitSeries: o.maxUnitSeries,
        nodeRebootRequired: o.nodeRebootRequired,
        scanErrors: errors,
        lastScanSuccess: ok,
      });
    },
  });
}

export async function runServe(o: ServeCliOptions): Promise<number> {
  let addr: ReturnType<typeof parseListen>;
  try {
    addr = parseListen(o.listen);
  } catch (e) {
    throw new UserError((e as Error).message);
  }
  // Handlers first: a SIGTERM while starting still means a clean exit 0.
  const stopped = new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  const hopts: HealthOptions = healthOptions(o);
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const source = expositionSource({
    gather: () => gatherHealth(hopts),
    intervalMs: o.interval * 1000,
    maxUnitSeries: o.maxUnitSeries,
    nodeRebootRequired: o.nodeRebootRequired,
    log,
  });
  const server = createMetricsServer({ source, timeoutMs: o.timeout * 1000 });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(new UserError(`cannot listen on ${o.listen} (${e.code ?? e.message}).`)),
    );
    server.listen(
      { port: addr.port, ...(addr.host === undefined ? {} : { host: addr.host }) },
      () => resolve(),
    );
  });
  const bound = server.address() as AddressInfo;
  log(`afterpatch: serving http://${urlHost(addr.host ?? bound.address)}:${bound.port}/metrics`);
  const signal = await stopped;
  log(`afterpatch: ${signal}, stopping`);
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
  // A scan in flight (worker threads) would keep the process alive: let it finish, bounded.
  await Promise.race([source.idle(), new Promise((r) => setTimeout(r, 5000).unref())]);
  return EXIT.ok;
}
