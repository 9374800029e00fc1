// The two suites (scripts/test-files.mjs): every test file in git runs in exactly one of them, a
// file that boots a systemd sandbox, the rig, an apt repository or the stale-library build is
// named as an integration test, and the npm scripts run the suites through the script.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

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
