// A real Prometheus for the tests: our own child on loopback, scraping one target every second
// with a copy of the shipped rules whose `for:` clauses are shortened to 1 s.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { RULES } from './serve.ts';

export const PROMETHEUS = '/usr/bin/prometheus';

export function havePrometheus(): boolean {
  return existsSync(PROMETHEUS);
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

export interface Prometheus {
  /** Base URL of the HTTP API, e.g. http://127.0.0.1:PORT/api/v1. */
  readonly api: string;
  /** What Prometheus wrote to stderr so far (for failure messages). */
  log(): string;
  /** The `data` of a GET on the API, or null while it is not up or answers an error. */
  get<T>(path: string): Promise<T | null>;
  /** SIGTERM, then SIGKILL after 10 s; our own child, so its PID cannot be reused before the reap. */
  stop(): Promise<void>;
}

export async function startPrometheus(work: string, targetPort: number): Promise<Prometheus> {
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
      `      - targets: ['127.0.0.1:${targetPort}']`,
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
  return {
    api,
    log: () => log,
    async get<T>(path: string): Promise<T | null> {
      try {
        const res = await fetch(`${api}${path}`);
        if (!res.ok) return null;
        return ((await res.json()) as { data: T }).data;
      } catch {
        return null; // not up yet
      }
    },
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
