// bench/lib/hyperfine.ts - one hyperfine run at a time (our child, stopped on a signal by
// runBench()), its results, and command lines for hyperfine --shell=none.
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { constants as osConstants } from 'node:os';

export interface HyperfineResult {
  command: string;
  mean: number;
  stddev: number | null;
  median: number;
  user: number;
  system: number;
  min: number;
  max: number;
  times?: number[];
}

/** A command line for hyperfine --shell=none (shell-words): quote what needs it. */
export function cmdline(argv: readonly string[]): string {
  return argv.map((a) => (/^[A-Za-z0-9_./=:,@%+-]+$/.test(a) ? a : `'${a}'`)).join(' ');
}

let hyperfineChild: ChildProcess | undefined;

/**
 * One hyperfine run (--shell=none, warmup, runs, `args`: the rest), exported to BASE.json and
 * BASE.md (removed first); resolves to its exit status.
 */
export async function hyperfine(
  base: string,
  opts: {
    warmup: number;
    runs: number;
    args: readonly string[];
    env: NodeJS.ProcessEnv;
    cwd?: string;
  },
): Promise<number> {
  for (const ext of ['json', 'md']) rmSync(`${base}.${ext}`, { force: true });
  const args = [
    '--shell=none',
    '--style',
    'basic',
    '--warmup',
    String(opts.warmup),
    '--runs',
    String(opts.runs),
    '--export-json',
    `${base}.json`,
    '--export-markdown',
    `${base}.md`,
    ...opts.args,
  ];
  const code = await new Promise<number>((resolve, reject) => {
    const h = spawn('hyperfine', args, {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: opts.env,
      ...(opts.cwd === undefined ? {} : { cwd: opts.cwd }),
    });
    hyperfineChild = h;
    h.once('error', reject);
    h.once('exit', (c, sig) => resolve(c ?? 128 + (sig ? (osConstants.signals[sig] ?? 0) : 0)));
  });
  hyperfineChild = undefined;
  return code;
}

/** The results hyperfine() exported to BASE.json. */
export function readHyperfine(base: string): HyperfineResult[] {
  return (JSON.parse(readFileSync(`${base}.json`, 'utf8')) as { results: HyperfineResult[] })
    .results;
}

export function stopHyperfine(): void {
  const h = hyperfineChild;
  // Our own child: its PID cannot be reused before Node has reaped it.
  if (h?.pid !== undefined && h.exitCode === null && h.signalCode === null) h.kill('SIGTERM');
}
