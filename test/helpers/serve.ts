// Starts the built CLI's `afterpatch serve` as a child on a free loopback port.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CLI } from '../../harness/cli.ts';

/** The shipped alert rules. */
export const RULES = fileURLToPath(
  new URL('../../integrations/prometheus/afterpatch.rules.yml', import.meta.url),
);

export interface Served {
  child: ChildProcess;
  /** http://127.0.0.1:PORT/metrics */
  url: string;
  port: number;
  stderr: () => string;
  /** Resolves with the exit code (or the signal's name). */
  exited: Promise<number | string>;
  /** SIGTERM (only this child, by PID) and wait for it. */
  stop(): Promise<number | string>;
}

export async function startServe(
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
): Promise<Served> {
  const child = spawn(process.execPath, [CLI, 'serve', '--listen', '127.0.0.1:0', ...args], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (d: string) => {
    err += d;
  });
  child.stdout?.resume();
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)),
  );
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${err}`)), 15_000);
    const check = () => {
      const m = /serving (http:\/\/\S+\/metrics)/.exec(err);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stderr?.on('data', check);
    void exited.then((c) => {
      clearTimeout(timer);
      reject(new Error(`serve exited ${c}: ${err}`));
    });
  });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null && child.pid) {
      process.kill(child.pid, 'SIGTERM');
    }
    return exited;
  };
  return { child, url, port: Number(new URL(url).port), stderr: () => err, exited, stop };
}

/** promtool's path, or null when Prometheus's tools are not installed. */
export function promtool(): string | null {
  return ['/usr/bin/promtool', '/usr/local/bin/promtool'].find((p) => existsSync(p)) ?? null;
}

/** `promtool check metrics` on a text: resolves with its exit code and output. */
export function promtoolCheckMetrics(text: string): Promise<{ code: number; out: string }> {
  const tool = promtool();
  if (!tool) throw new Error('promtool is not installed');
  return new Promise((resolve) => {
    const c = execFile(tool, ['check', 'metrics'], (e, stdout, stderr) =>
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : 1) : 0, out: stdout + stderr }),
    );
    c.stdin?.end(text);
  });
}
