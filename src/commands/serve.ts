// `afterpatch serve`: Prometheus metrics over HTTP until SIGTERM/SIGINT.
import type { AddressInfo } from 'node:net';
import { type HealthOptions, healthOptions } from '../check/health.ts';
import type { CliIo } from '../cli/io.ts';
import { UserError } from '../errors.ts';
import { EXIT } from '../exit.ts';
import { ChildGatherer } from '../serve/child.ts';
import { expositionSource } from '../serve/exposition.ts';
import { parseListen, urlHost } from '../serve/listen.ts';
import { createMetricsServer } from '../serve/server.ts';
import type { ExpositionCliOptions } from './metrics.ts';

export interface ServeCliOptions extends ExpositionCliOptions {
  listen: string;
  interval: number;
  timeout: number;
  scanTimeout?: number;
}

export async function runServe(o: ServeCliOptions, io: CliIo): Promise<number> {
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
  const log = (line: string) => io.stderr.write(`${line}\n`);
  // Health is gathered in a child process, killed past --scan-timeout: a read of /proc that
  // blocks in the kernel cannot freeze the HTTP side or keep SIGTERM from ending serve. A scan
  // slower than --timeout but within it goes on, and a later scrape gets its result. At equal
  // values the waiting scrape gets its 503 first (the kill comes a moment later).
  const scanTimeout = Math.max(o.scanTimeout ?? o.timeout * 10, o.timeout);
  const gatherer = new ChildGatherer({ health: hopts, timeoutMs: scanTimeout * 1000 + 100 });
  const source = expositionSource({
    gather: () => gatherer.gather(),
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
    server.listen({ port: addr.port, host: addr.host }, () => resolve());
  });
  const bound = server.address() as AddressInfo;
  log(`afterpatch: serving http://${urlHost(addr.host ?? bound.address)}:${bound.port}/metrics`);
  const signal = await stopped;
  log(`afterpatch: ${signal}, stopping`);
  gatherer.kill();
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
  // The killed child's pipes close at once; bounded all the same.
  await Promise.race([source.idle(), new Promise((r) => setTimeout(r, 2000).unref())]);
  return EXIT.ok;
}
