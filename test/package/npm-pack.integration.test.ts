// What `npm pack` would publish: the bundles, type declarations, docs, README and CHANGELOG; never
// tests, fixtures, benchmarks, sources or build leftovers (a .deb, a staging tree).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

describe('npm package contents', () => {
  it('has the bundles and docs, and no tests, fixtures or build leftovers', async () => {
    const npmCli = join(process.execPath, '../../lib/node_modules/npm/bin/npm-cli.js');
    const r = await run(
      process.execPath,
      [npmCli, 'pack', '--dry-run', '--json', '--ignore-scripts'],
      {
        cwd: ROOT,
        env: { ...process.env, npm_config_loglevel: 'silent' },
        maxBuffer: 16 * 1024 * 1024,
      },
    ).catch(() =>
      // npm not next to node (another layout): the one on PATH.
      run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
        cwd: ROOT,
        maxBuffer: 16 * 1024 * 1024,
      }),
    );
    const [info] = JSON.parse(r.stdout) as { files: { path: string }[] }[];
    assert.ok(info);
    const files = info.files.map((f) => f.path);
    for (const f of [
      'package.json',
      'README.md',
      'CHANGELOG.md',
      'dist/afterpatch.cjs',
      'dist/index.cjs',
      'dist/package.json',
      'dist/types/index.d.ts',
      'docs/configuration.md',
    ]) {
      assert.ok(files.includes(f), `npm package lacks ${f}`);
    }
    const bad = files.filter(
      (f) =>
        /^(test|bench|src|scripts|packaging|\.ci|node_modules)\//.test(f) ||
        /(^|\/)fixtures?\//.test(f) ||
        /\.test\.[cm]?[jt]s$/.test(f) ||
        /\.deb$/.test(f) ||
        /\/\.deb-stage-/.test(f),
    );
    assert.deepEqual(
      bad,
      [],
      'the npm package must not contain these (a .deb: npm run package:deb wrote into dist/)',
    );
  });
});
