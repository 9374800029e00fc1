// Runs a program with an argument array (never a shell) and collects its output.
import { execFile } from 'node:child_process';
import { EnvironmentError, errnoCode } from '../errors.ts';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export function run(
  argv: readonly string[],
  opts: { timeoutMs?: number } = {},
): Promise<RunResult> {
  const [file, ...args] = argv;
  if (file === undefined) return Promise.reject(new Error('run: empty argv'));
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      { maxBuffer: 256 * 1024 * 1024, timeout: opts.timeoutMs ?? 0, killSignal: 'SIGTERM' },
      (err, stdout, stderr) => {
        if (err && errnoCode(err) === 'ENOENT') {
          reject(new EnvironmentError(`${file} was not found on PATH.`));
          return;
        }
        const timedOut = err !== null && (err as { killed?: boolean }).killed === true;
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
        resolve({ code, stdout, stderr, timedOut });
      },
    );
  });
}
