// The HTTP side of `afterpatch serve`: GET /metrics from the scan cache, 404 elsewhere, 405 for
// other methods, 503 when a scrape waits longer than the timeout (the scan goes on, up to
// --scan-timeout: src/serve/child.ts).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { PROMETHEUS_CONTENT_TYPE } from '../output/prometheus.ts';

export interface MetricsSource {
  get(): Promise<string>;
}

export interface MetricsServerOptions {
  source: MetricsSource;
  /** A scrape waiting longer than this for a scan gets 503. */
  timeoutMs: number;
}

export function createMetricsServer(o: MetricsServerOptions): Server {
  return createServer((req, res) => {
    handle(o, req, res).catch((e: unknown) => {
      // get() does not reject by contract; answer anyway rather than hang the scraper.
      text(res, 500, `afterpatch: ${(e as Error)?.message ?? String(e)}\n`);
    });
  });
}

async function handle(o: MetricsServerOptions, req: IncomingMessage, res: ServerResponse) {
  const path = (req.url ?? '/').split('?')[0];
  if (path !== '/metrics')
    return text(res, 404, 'afterpatch: not found; metrics are at /metrics\n');
  if (req.method !== 'GET') {
    res.setHeader('Allow', 'GET');
    return text(res, 405, 'afterpatch: method not allowed; use GET\n');
  }
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), o.timeoutMs);
  });
  const body = await Promise.race([o.source.get(), timedOut]);
  clearTimeout(timer);
  if (body === null) {
    return text(
      res,
      503,
      `afterpatch: scan still running after ${o.timeoutMs / 1000} s; a later scrape gets its result\n`,
    );
  }
  res.writeHead(200, {
    'Content-Type': PROMETHEUS_CONTENT_TYPE,
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
}

function text(res: ServerResponse, status: number, body: string): void {
  if (res.headersSent) return;
  res.writeHead(status, {
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
}
