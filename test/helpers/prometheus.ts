// A real Prometheus for the tests: our own child on loopback, scraping one target (a port on
// 127.0.0.1) or several (HOST:PORT, each with its own labels) every second, with a copy of the
// shipped rules whose `for:` clauses are shortened to 1 s.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { RULES } from './serve.ts';

export const PROMETHEUS = '/usr/bin/prometheus';

export function havePrometheus(): boolean {
  return existsSync(PROMETHEUS);
}

/**
 * Why an end-to-end Prometheus test cannot run here (its harness's reason first, then a missing
 * prometheus or gcc for the fixture compiled at test time), or false.
 */
export function prometheusSkipReason(harness: string | false, fixture: string): string | false {
  if (harness) return harness;
  if (!havePrometheus()) {
    return 'prometheus not installed (apt-get install prometheus, under a policy-rc.d exiting 101)';
  }
  if (!['/usr/bin/gcc', '/usr/local/bin/gcc'].some((p) => existsSync(p))) {
    return `gcc not installed (${fixture} is compiled at test time)`;
  }
  return false;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** A scrape target: `HOST:PORT`, with target labels (e.g. `{ instance: 'h1' }`). */
export interface ScrapeTarget {
  address: string;
  labels?: Record<string, string>;
}

/** One series of an instant query's vector result. */
export interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

/** One entry of GET /api/v1/alerts. */
export interface Alert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: 'pending' | 'firing';
}

export interface Prometheus {
  /** Base URL of the HTTP API, e.g. http://127.0.0.1:PORT/api/v1. */
  readonly api: string;
  /** What Prometheus wrote to stderr so far (for failure messages). */
  log(): string;
  /** The `data` of a GET on the API, or null while it is not up or answers an error. */
  get<T>(path: string): Promise<T | null>;
  /** The vector of an instant query (PromQL), or null while it is not up or answers an error. */
  query(promql: string): Promise<Sample[] | null>;
  /** The active alerts (pending and firing), or null while it is not up. */
  alerts(): Promise<Alert[] | null>;
  /** SIGTERM, then SIGKILL after 10 s; our own child, so its PID cannot be reused before the reap. */
  stop(): Promise<void>;
}

/** One static_configs entry per target (JSON is YAML flow syntax, so values are quoted safely). */
function staticConfigs(targets: readonly ScrapeTarget[]): string[] {
  return targets.flatMap((t) => [
    `      - targets: [${JSON.stringify(t.address)}]`,
    ...(t.labels ? [`        labels: ${JSON.stringify(t.labels)}`] : []),
  ]);
}

/**
 * Starts Prometheus with its configuration and data in `work`. `targets`: a port on 127.0.0.1
 * (one target) or a list of targets, all in job `afterpatch`.
 */
export async function startPrometheus(
  work: string,
  targets: number | readonly ScrapeTarget[],
): Promise<Prometheus> {
  const list = typeof targets === 'number' ? [{ address: `127.0.0.1:${targets}` }] : targets;
  if (list.length === 0) throw new Error('startPrometheus: no target');
  const shipped = readFileSync(RULES, 'utf8');
  const rules = shipped.replace(/^(\s+)for: \S+$/gm, '$1for: 1s');
  if (rules === shipped) throw new Error(`${RULES} has no "for:" clause to shorten`);
  writeFileSync(join(work, 'rules.yml'), rules);
  writeFileSync(
    join(work, 'prometheus.yml'),
    [
      'global:',
      '  scrape_interval: 1s',
      '  scrape_timeout: 1s',
      '  evaluation_interval: 1s',
      'rule_files:',
      `  - ${join(work, 'rules.yml')}`,
      'scrape_configs:',
      '  - job_name: afterpatch',
      '    static_configs:',
      ...staticConfigs(list),
      '',
    ].join('\n'),
  );
  const port = await freePort();
  const api = `http://127.0.0.1:${port}/api/v1`;
  const child = spawn(
    PROMETHEUS,
    [
      `--config.file=${join(work, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(work, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'], cwd: work },
  );
  let log = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (d: string) => {
    log += d;
  });
  const get = async <T>(path: string): Promise<T | null> => {
    try {
      const res = await fetch(`${api}${path}`);
      if (!res.ok) return null;
      return ((await res.json()) as { data: T }).data;
    } catch {
      return null; // not up yet
    }
  };
  return {
    api,
    log: () => log,
    get,
    query: async (promql) =>
      (await get<{ result: Sample[] }>(`/query?query=${encodeURIComponent(promql)}`))?.result ??
      null,
    alerts: async () => (await get<{ alerts: Alert[] }>('/alerts'))?.alerts ?? null,
    async stop() {
      const pid = child.pid;
      if (pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise((r) => child.once('exit', r));
      process.kill(pid, 'SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([gone, new Promise((r) => (timer = setTimeout(r, 10_000)))]);
      clearTimeout(timer);
      if (child.exitCode === null && child.signalCode === null) process.kill(pid, 'SIGKILL');
    },
  };
}
