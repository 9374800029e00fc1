// Issue 11.4: the bundle runs whatever its file is called and however it is reached (a copy, a
// symlink, `node FILE`, its shebang), while importing the library or require()-ing the bundle
// runs nothing. The single executable and the .deb's /usr/bin link are tested in
// test/package/sea.integration.test.ts and test/package/deb.integration.test.ts.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CLI } from '../harness/cli.ts';

const pkg = (await import('../package.json', { with: { type: 'json' } })).default as {
  version: string;
};
const LIB = fileURLToPath(new URL('../dist/index.cjs', import.meta.url));
const MAIN_TS = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const CLI_TS = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
const INDEX_TS = fileURLToPath(new URL('../src/index.ts', import.meta.url));

function run(file: string, args: readonly string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 127) : 0;
      resolve({ code, out: `${stdout}${stderr}` });
    });
  });
}

describe('the CLI entry', () => {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'afterpatch-entry-'));
    for (const name of ['ap.cjs', 'tool', 'afterpatch']) {
      copyFileSync(CLI, join(dir, name));
      chmodSync(join(dir, name), 0o755);
    }
    symlinkSync(CLI, join(dir, 'link-to-bundle'));
    symlinkSync('tool', join(dir, 'x'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('runs under any name and through any link', async () => {
    const ways: [string, string, string[]][] = [
      ['node dist/afterpatch.cjs', process.execPath, [CLI]],
      ['a copy named ap.cjs, by its shebang', join(dir, 'ap.cjs'), []],
      ['a copy named ap.cjs, through node', process.execPath, [join(dir, 'ap.cjs')]],
      ['a copy without extension', join(dir, 'tool'), []],
      ['a symlink to the bundle', join(dir, 'link-to-bundle'), []],
      ['a symlink to a renamed copy, through node', process.execPath, [join(dir, 'x')]],
      ['a copy named afterpatch (as the .deb installs it)', join(dir, 'afterpatch'), []],
      ['the source entry through tsx', process.execPath, ['--import', 'tsx', MAIN_TS]],
    ];
    // Side by side: each is its own process.
    const runs = await Promise.all(ways.map(([, file, pre]) => run(file, [...pre, '--version'])));
    for (const [i, [what]] of ways.entries()) {
      const r = runs[i];
      assert.equal(r?.code, 0, `${what}: ${r?.out}`);
      assert.equal(r?.out.trim(), pkg.version, what);
    }
  });

  it('runs nothing when the library or the bundle is imported', async () => {
    const ESM = ['--import', 'tsx', '--input-type=module', '-e'];
    const probes: [string, string[]][] = [
      ['require() of dist/index.cjs', ['-e', `require(${JSON.stringify(LIB)})`, '--', 'scan']],
      [
        'require() of the CLI bundle (the man page generator reads buildProgram from it)',
        [
          '-e',
          `const m = require(${JSON.stringify(CLI)}); if (typeof m.buildProgram !== 'function') process.exit(9)`,
          '--',
          '--version',
        ],
      ],
      [
        'import of src/cli.ts',
        [...ESM, `await import(${JSON.stringify(CLI_TS)})`, '--', '--version'],
      ],
      [
        'import of src/index.ts',
        [...ESM, `await import(${JSON.stringify(INDEX_TS)})`, '--', 'scan'],
      ],
    ];
    const runs = await Promise.all(probes.map(([, args]) => run(process.execPath, args)));
    for (const [i, [what]] of probes.entries()) {
      const r = runs[i];
      assert.equal(r?.code, 0, `${what}: ${r?.out}`);
      assert.equal(r?.out, '', `${what} printed something`);
    }
  });
});
