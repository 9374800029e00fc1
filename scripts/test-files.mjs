// Lists the test files and runs one suite: every test/**/*.test.ts, split by name. A file named
// *.integration.test.ts needs root, a systemd sandbox, real packages or daemons, or is slow; every
// other test file is fast (pure, or the CLI on fixture trees) and runs in parallel. Node 20 does
// not expand globs in `node --test`, and a list kept by hand forgets new files: this walk cannot.
//
//   node scripts/test-files.mjs fast|integration [node --test options…]   run that suite
//   node scripts/test-files.mjs --list fast|integration                   print its files
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const INTEGRATION = /\.integration\.test\.ts$/;

/** Every test file under `dir` (default: this repository's test/), sorted, relative paths. */
export function testFiles(dir = fileURLToPath(new URL('../test', import.meta.url))) {
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

// Fast files run side by side (they wait on child processes more than on the CPU); integration
// files one at a time (sandboxes, packages installed on the machine, timing-sensitive daemons).
const CONCURRENCY = { fast: 4, integration: 1 };

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const list = args[0] === '--list';
  const name = list ? args[1] : args[0];
  if (name !== 'fast' && name !== 'integration') {
    process.stderr.write(
      'usage: test-files.mjs [--list] fast|integration [node --test options…]\n',
    );
    process.exit(2);
  }
  const files = suite(name);
  if (list) {
    process.stdout.write(`${files.join('\n')}\n`);
  } else {
    const rest = args.slice(1);
    const argv = ['--import', 'tsx', '--test', `--test-concurrency=${CONCURRENCY[name]}`];
    if (!rest.some((a) => a.startsWith('--test-reporter'))) argv.push('--test-reporter=spec');
    const r = spawnSync(process.execPath, [...argv, ...rest, ...files], {
      stdio: 'inherit',
      cwd: fileURLToPath(new URL('..', import.meta.url)),
    });
    process.exit(r.status ?? 1);
  }
}
