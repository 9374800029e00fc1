// The two suites (scripts/test-files.mjs): every test file in git runs in exactly one of them, a
// file that boots a systemd sandbox, the rig, an apt repository or the stale-library build is
// named as an integration test, and the npm scripts run the suites through the script.
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { shardSource, shards } from '../scripts/test-files.mjs';
import { scratchDirs } from './helpers/scratch.ts';

const repo = fileURLToPath(new URL('..', import.meta.url));
const list = (suite: string) =>
  execFileSync(process.execPath, ['scripts/test-files.mjs', '--list', suite], {
    cwd: repo,
    encoding: 'utf8',
  })
    .split('\n')
    .filter(Boolean);

describe('test suites', () => {
  const fast = list('fast');
  const integration = list('integration');

  it('runs every test file in git in exactly one suite', () => {
    const tracked = execFileSync('git', ['ls-files', '--', 'test/*.test.ts'], {
      cwd: repo,
      encoding: 'utf8',
    })
      .split('\n')
      .filter(Boolean);
    assert.ok(tracked.length > 50, `only ${tracked.length} test files in git`);
    for (const f of tracked) {
      const n = Number(fast.includes(f)) + Number(integration.includes(f));
      assert.equal(n, 1, `${f} is in ${n} suites`);
    }
    assert.ok(fast.includes('test/test-files.test.ts'));
    assert.ok(integration.includes('test/restart/restart.integration.test.ts'));
  });

  it('names every file that needs a sandbox, the rig, apt or the stale-library build *.integration.test.ts', () => {
    const slow = /\b(bootSandbox|bootRig|localAptRepo|buildSvc)\(/;
    const misnamed = fast.filter((f) => slow.test(readFileSync(`${repo}/${f}`, 'utf8')));
    assert.deepEqual(misnamed, []);
  });

  it('npm test runs both suites; test:fast and test:integration run one each', () => {
    const scripts = (
      JSON.parse(readFileSync(`${repo}/package.json`, 'utf8')) as {
        scripts: Record<string, string>;
      }
    ).scripts;
    assert.match(scripts['test:fast'] ?? '', /scripts\/test-files\.mjs fast\b/);
    assert.match(scripts['test:integration'] ?? '', /scripts\/test-files\.mjs integration\b/);
    assert.match(scripts.test ?? '', /test-files\.mjs fast\b.*test:integration/);
  });

  it('refuses an unknown suite with a usage line and exit 2', () => {
    assert.throws(
      () =>
        execFileSync(process.execPath, ['scripts/test-files.mjs', 'slow'], {
          cwd: repo,
          stdio: 'pipe',
        }),
      (e: { status?: number; stderr?: Buffer }) =>
        e.status === 2 && /^usage: test-files\.mjs/.test(String(e.stderr)),
    );
  });
});

describe('fast suite shards', () => {
  const scratch = scratchDirs('afterpatch-shard');

  it('puts every file in exactly one shard, the costliest first, balanced, none empty', () => {
    const cost: Record<string, number> = { a: 10, b: 6, c: 5, d: 1, e: 0 };
    const got = shards(Object.keys(cost), 2, (f) => cost[f] ?? 0);
    assert.deepEqual(got, [
      ['a', 'd', 'e'],
      ['b', 'c'],
    ]);
    assert.deepEqual(
      shards(['x', 'y'], 4, () => 1),
      [['x'], ['y']],
    );
    assert.deepEqual(
      shards([], 3, () => 1),
      [],
    );
  });

  it('runs each file in its own suite: its failures, hooks and load errors stay its own', async () => {
    const dir = scratch();
    mkdirSync(join(dir, 'test'));
    const files: Record<string, string> = {
      'test/a.test.ts': `import { afterEach, test } from 'node:test';
let n = 0;
afterEach(() => { n++; });
test('a passes', () => {});
test('a counts only its own tests', () => { if (n !== 1) throw new Error('afterEach ran ' + n); });`,
      'test/b.test.ts': `import { test } from 'node:test';
test('b fails', () => { throw new Error('b is broken'); });
test('b passes', () => {});`,
      'test/c.test.ts': `import './missing.ts';`,
      'test/d.test.ts': `import { test } from 'node:test';
test('d passes after the others', () => {});`,
    };
    for (const [f, text] of Object.entries(files)) writeFileSync(join(dir, f), text);
    const shard = join(dir, 'shard.test.mjs');
    writeFileSync(shard, shardSource(Object.keys(files), dir));
    const r = await new Promise<{ code: number | null; out: string }>((resolve) =>
      execFile(
        process.execPath,
        ['--import', 'tsx', '--test', '--test-reporter=tap', shard],
        // Not as a child of this test run (node:test marks its children in the environment).
        { cwd: repo, env: { ...process.env, NODE_TEST_CONTEXT: undefined } },
        (e, out) => resolve({ code: e ? (typeof e.code === 'number' ? e.code : -1) : 0, out }),
      ),
    );
    assert.equal(r.code, 1, r.out);
    const results = [...r.out.matchAll(/^\s*(not ok|ok) \d+ - (.*)$/gm)].map(
      (m) => `${m[1]} ${m[2]}`,
    );
    for (const line of [
      'ok a passes',
      'ok a counts only its own tests',
      'ok test/a.test.ts',
      'not ok b fails',
      'ok b passes',
      'not ok test/b.test.ts',
      'not ok test/c.test.ts',
      'ok d passes after the others',
      'ok test/d.test.ts',
    ])
      assert.ok(results.includes(line), `${line} in ${r.out}`);
    assert.match(r.out, /b is broken/);
    assert.match(r.out, /missing\.ts/);
  });
});
