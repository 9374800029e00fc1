// Lists the test files and runs one suite: every test/**/*.test.ts, split by name. A file named
// *.integration.test.ts needs root, a systemd sandbox, real packages or daemons, or is slow; every
// other test file is fast (pure, or the CLI on fixture trees). Node 20 does not expand globs in
// `node --test`, and a list kept by hand forgets new files: this walk cannot.
//
//   node scripts/test-files.mjs fast|integration [--isolated] [node --test options…]  run a suite
//   node scripts/test-files.mjs --list fast|integration                              print its files
//
// The fast suite runs its files in a few shared processes (shards), not one process per file:
// starting Node and tsx costs ~0.5 s of CPU per process, more than most fast files need to run.
// Each file still gets its own suite (named after the file), so its top-level hooks and its
// failures stay its own. --isolated runs one process per file (to rule out a file disturbing
// another). The integration suite always runs one file per process, one at a time.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const INTEGRATION = /\.integration\.test\.ts$/;

const REPO = fileURLToPath(new URL('..', import.meta.url));
/** Each fast file's last duration (ms), written by scripts/test-times-reporter.mjs; not in git. */
const TIMES = join(REPO, '.cache', 'test-times.json');

/** Every test file under `dir` (default: this repository's test/), sorted, relative paths. */
export function testFiles(dir = join(REPO, 'test')) {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.test.ts') && !f.split('/').includes('node_modules'))
    .map((f) => `test/${f}`)
    .sort();
}

/** The files of one suite. */
export function suite(name, files = testFiles()) {
  if (name === 'fast') return files.filter((f) => !INTEGRATION.test(f));
  if (name === 'integration') return files.filter((f) => INTEGRATION.test(f));
  throw new Error(`unknown suite ${JSON.stringify(name)}; use fast or integration`);
}

/**
 * `files` in `n` shards of about equal cost, the costliest first (longest processing time first:
 * each file, costliest first, goes to the shard with the least so far). `cost(f)` estimates a
 * file's run time; shards with no file are left out.
 */
export function shards(files, n, cost) {
  const bins = Array.from({ length: n }, () => ({ files: [], total: 0 }));
  const order = [...files].sort((a, b) => cost(b) - cost(a) || a.localeCompare(b));
  for (const f of order) {
    const bin = bins.reduce((min, b) => (b.total < min.total ? b : min));
    bin.files.push(f);
    bin.total += cost(f);
  }
  return bins
    .filter((b) => b.files.length > 0)
    .sort((a, b) => b.total - a.total)
    .map((b) => b.files);
}

/** The recorded durations, or none (no run recorded yet, or a broken record). */
function readTimes(file = TIMES) {
  try {
    const times = JSON.parse(readFileSync(file, 'utf8'));
    return times !== null && typeof times === 'object' ? times : {};
  } catch {
    return {};
  }
}

/** A file's cost: its last measured duration, else a guess from its size (~1 ms per 10 bytes). */
function costs(times) {
  return (f) => {
    const t = times[f];
    return typeof t === 'number' && Number.isFinite(t)
      ? t
      : readFileSync(join(REPO, f)).length / 10;
  };
}

/**
 * The source of a shard: one suite per file, named after it (its path under `root`), that loads
 * the file, so the file's tests, top-level hooks included, run inside its own suite.
 */
export function shardSource(files, root = REPO) {
  const list = files.map((f) => [f, pathToFileURL(join(root, f)).href]);
  return `import { describe } from 'node:test';
for (const [name, url] of ${JSON.stringify(list)}) describe(name, () => import(url));
`;
}

// Fast shards run side by side (their tests wait on child processes more than on the CPU);
// integration files one at a time (sandboxes, packages installed on the machine, timing-sensitive
// daemons). Measured on 2 cores: see CONTRIBUTING.md.
const CONCURRENCY = { fast: 4, integration: 1 };
// Three shards: on 2 quiet cores 16.1–19.5 s against 20.5–22 s for four and 22.2 s for six
// (each shard is one more Node + tsx start-up and one more process competing for the cores).
const SHARDS = 3;

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const list = args[0] === '--list';
  const name = list ? args[1] : args[0];
  if (name !== 'fast' && name !== 'integration') {
    process.stderr.write(
      'usage: test-files.mjs [--list] fast|integration [--isolated] [node --test options…]\n',
    );
    process.exit(2);
  }
  const files = suite(name);
  if (list) {
    process.stdout.write(`${files.join('\n')}\n`);
  } else {
    const isolated = name === 'integration' || args.includes('--isolated');
    const rest = args.slice(1).filter((a) => a !== '--isolated');
    const concurrency = Number(process.env.AFTERPATCH_TEST_CONCURRENCY) || CONCURRENCY[name];
    const argv = ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`];
    if (!rest.some((a) => a.startsWith('--test-reporter'))) rest.push('--test-reporter=spec');
    let run = files;
    let dir = null;
    if (!isolated) {
      // A second reporter records each file's duration for the next run's shards.
      mkdirSync(join(REPO, '.cache'), { recursive: true });
      if (!rest.some((a) => a.startsWith('--test-reporter-destination')))
        rest.push('--test-reporter-destination=stdout');
      dir = mkdtempSync(join(tmpdir(), 'afterpatch-shards-'));
      rest.push(
        `--test-reporter=${pathToFileURL(join(REPO, 'scripts/test-times-reporter.mjs')).href}`,
        `--test-reporter-destination=${join(dir, 'times.json')}`,
      );
      const n = Number(process.env.AFTERPATCH_TEST_SHARDS) || SHARDS;
      run = shards(files, n, costs(readTimes())).map((group, i) => {
        const file = join(dir, `shard-${i + 1}.test.mjs`);
        writeFileSync(file, shardSource(group));
        return file;
      });
    }
    const r = spawnSync(process.execPath, [...argv, ...rest, ...run], {
      stdio: 'inherit',
      cwd: REPO,
    });
    if (dir !== null) {
      // Only in-process CLI runs set the shards (AFTERPATCH_TEST_SPAWN=1 takes 4 times as long).
      if (process.env.AFTERPATCH_TEST_SPAWN !== '1') {
        const times = { ...readTimes(), ...readTimes(join(dir, 'times.json')) };
        writeFileSync(TIMES, `${JSON.stringify(times, Object.keys(times).sort(), 2)}\n`);
      }
      rmSync(dir, { recursive: true, force: true });
    }
    process.exit(r.status ?? 1);
  }
}
