// Advisories through restart, check and metrics, on the libc fixture (libc-fixture.ts): a
// process started before the fixed libc6 was installed (vulnerable), one started after it (stale
// but safe).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../../harness/cli.ts';
import { validateScanJson } from '../helpers/schema.ts';
import { startServe } from '../helpers/serve.ts';
import { hasDpkg, type LibcFixture, makeLibcFixture } from './libc-fixture.ts';

describe('advisories in restart, check and metrics (fixture /proc, real dpkg database)', {
  skip: hasDpkg ? false : 'needs dpkg with libc6',
}, () => {
  let f: LibcFixture;
  let dir = '';
  let installed = '';
  let env: NodeJS.ProcessEnv = {};
  let fx: { root: string };
  let root = '';
  before(() => {
    f = makeLibcFixture();
    ({ dir, installed, env, root } = f);
    fx = { root: f.procRoot };
  });
  after(() => f.cleanup());
  const common = () => ['--proc-root', fx.root, '--root', root];

  it('scan: old.service started on 0.1-1 (vulnerable for a fix at the installed version; unknown for one at 0.3-1, which it may have loaded later), new.service runs a fixed version', async () => {
    const entries = async (fix: string) => {
      const r = await runCli(['scan', '--json', ...common(), '--fixed', `libc6=${fix}`], { env });
      assert.equal(r.code, 1, r.stderr);
      const d = JSON.parse(r.stdout);
      // The advisory additions are in the documented schema (docs/scan.schema.json).
      validateScanJson(d);
      const v = Object.fromEntries(
        d.entries.map((e: { key: string; vulnerable: unknown }) => [e.key, e.vulnerable]),
      );
      return { verdict: d.advisoryVerdict, v };
    };
    assert.deepEqual(await entries(installed), {
      verdict: 'restart-needed',
      v: { 'system-unit:old.service': true, 'system-unit:new.service': false },
    });
    assert.deepEqual(await entries('0.3-1'), {
      verdict: 'unknown',
      v: { 'system-unit:old.service': 'unknown', 'system-unit:new.service': false },
    });
  });

  it('scan text: a package name nothing installed has or is built from is said, not just "clean"', async () => {
    // A typo (opensl) made "Advisory CLI-fixed: clean" with nothing to tell it from a real clean.
    const typo = await runCli(['scan', ...common(), '--fixed', 'libcc6=99'], { env });
    assert.match(
      typo.stdout,
      /^Advisory CLI-fixed: \S+\n {2}note: no installed package is named libcc6 or built from it \(check the name\)$/m,
    );
    const real = await runCli(['scan', ...common(), '--fixed', `libc6=${installed}`], { env });
    assert.match(real.stdout, /^Advisory CLI-fixed: restart-needed$/m);
    assert.doesNotMatch(real.stdout, /note: no installed package/);
  });

  it('restart --fixed plans only the units running a vulnerable version (or one that cannot be told)', async () => {
    const args = ['restart', '--dry-run', '--json', ...common(), '--state-dir', join(dir, 's')];
    const all = JSON.parse((await runCli(args, { env })).stdout);
    const units = (doc: { plan: { unit?: string; key?: string }[] }) =>
      doc.plan.map((p) => p.unit ?? p.key).sort();
    assert.deepEqual(units(all), ['new.service', 'old.service']);
    const r = await runCli([...args, '--fixed', `libc6=${installed}`], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(units(JSON.parse(r.stdout)), ['old.service']);
    // A version that cannot be told is restarted too: never left alone on a doubt.
    const doubt = JSON.parse((await runCli([...args, '--fixed', 'libc6=0.3-1'], { env })).stdout);
    assert.deepEqual(units(doubt), ['old.service']);
    // Both stale but both safe for an old fix: nothing to restart for it.
    const safe = JSON.parse((await runCli([...args, '--fixed', 'libc6=0.1-1'], { env })).stdout);
    assert.deepEqual(units(safe), []);
    assert.deepEqual(safe.advisoryLeftAlone, [
      'system-unit:new.service',
      'system-unit:old.service',
    ]);
    // Never "nothing runs outdated code" when stale units were left alone as safe.
    const text = await runCli(
      [
        'restart',
        '--dry-run',
        ...common(),
        '--state-dir',
        join(dir, 's'),
        '--fixed',
        'libc6=0.1-1',
      ],
      { env },
    );
    assert.doesNotMatch(text.stdout, /Nothing runs outdated code/);
    assert.match(
      text.stdout,
      /^No unit runs a version below the advisories' fixes: nothing to restart\.\nLeft alone: 2 stale entries run only fixed versions \(system-unit:new\.service, system-unit:old\.service\)\.$/m,
    );
  });

  const check = (...args: string[]) =>
    runCli(['check', ...common(), '--state-dir', join(dir, 'none'), ...args], { env });

  it('check --fixed: CRITICAL when restart-needed, WARNING when unknown, overridable per verdict', async () => {
    const crit = await check('--fixed', `libc6=${installed}`);
    assert.equal(crit.code, 2, crit.stdout);
    assert.match(crit.stdout, /^AFTERPATCH CRITICAL - .*advisories: CLI-fixed restart-needed/);
    assert.match(
      crit.stdout,
      /^advisory CLI-fixed: restart-needed: 1 process\(es\) run a version below the fix/m,
    );
    const warn = await check(
      '--fixed',
      `libc6=${installed}`,
      '--advisory-state',
      'restart-needed=warning',
    );
    assert.equal(warn.code, 1, warn.stdout);
    const unknown = await check('--fixed', 'libc6=0.3-1');
    assert.equal(unknown.code, 1, unknown.stdout);
    assert.match(unknown.stdout, /advisories: CLI-fixed unknown/);
    const strict = await check('--fixed', 'libc6=0.3-1', '--advisory-state', 'unknown=critical');
    assert.equal(strict.code, 2, strict.stdout);
    // Both safe for an old fix: the advisory is clean; the stale code still warns as before.
    const clean = await check('--fixed', 'libc6=0.1-1');
    assert.equal(clean.code, 1, clean.stdout);
    assert.match(clean.stdout, /advisory clean/);
    const bad = await check('--advisory-state', 'fine=ok');
    assert.equal(bad.code, 3);
    assert.match(bad.stdout, /^AFTERPATCH UNKNOWN - usage error: .*--advisory-state/);
  });

  it('an unreadable package database: check UNKNOWN (never OK), metrics unknown, restart --fixed plans every stale unit', async () => {
    const nodb = join(dir, 'nodb');
    mkdirSync(join(nodb, 'var/lib/dpkg/status'), { recursive: true });
    const blind = (command: string, ...args: string[]) =>
      runCli([command, '--proc-root', fx.root, '--root', nodb, '--fixed', 'libc6=0.1-1', ...args], {
        env,
      });
    const r = await blind('check', '--state-dir', join(dir, 'none'), '--ignore', 'units');
    // UNKNOWN: the advisory's versions, and whether the stale files are of packages only a reboot
    // replaces, cannot be told (was WARNING for the advisory alone, the reboot verdict "no").
    assert.equal(r.code, 3, r.stdout);
    assert.match(r.stdout, /advisories: CLI-fixed unknown/);
    assert.match(r.stdout, /reboot unknown/);
    // metrics says unknown too; restart --fixed leaves no stale unit alone on that doubt.
    const m = await blind('metrics', '--state-dir', join(dir, 'none'));
    assert.match(
      m.stdout,
      /^afterpatch_advisory_verdict\{advisory="CLI-fixed",verdict="unknown"\} 1$/m,
    );
    assert.match(
      m.stdout,
      /^afterpatch_advisory_verdict\{advisory="CLI-fixed",verdict="clean"\} 0$/m,
    );
    const plan = await blind('restart', '--dry-run', '--json', '--state-dir', join(dir, 's2'));
    assert.deepEqual(
      JSON.parse(plan.stdout)
        .plan.map((e: { unit: string }) => e.unit)
        .sort(),
      ['new.service', 'old.service'],
    );
  });

  it('metrics --fixed: one gauge per advisory and verdict, and the vulnerable processes', async () => {
    const r = await runCli(
      ['metrics', ...common(), '--state-dir', join(dir, 'none'), '--fixed', `libc6=${installed}`],
      { env },
    );
    assert.equal(r.code, 0, r.stderr);
    const series = r.stdout.split('\n').filter((l) => l.startsWith('afterpatch_advisory_'));
    assert.deepEqual(series, [
      'afterpatch_advisory_verdict{advisory="CLI-fixed",verdict="unpatched"} 0',
      'afterpatch_advisory_verdict{advisory="CLI-fixed",verdict="reboot-needed"} 0',
      'afterpatch_advisory_verdict{advisory="CLI-fixed",verdict="restart-needed"} 1',
      'afterpatch_advisory_verdict{advisory="CLI-fixed",verdict="image-vulnerable"} 0',
      'afterpatch_advisory_verdict{advisory="CLI-fixed",verdict="unknown"} 0',
      'afterpatch_advisory_verdict{advisory="CLI-fixed",verdict="clean"} 0',
      'afterpatch_advisory_vulnerable_processes{advisory="CLI-fixed",vulnerable="true"} 1',
      'afterpatch_advisory_vulnerable_processes{advisory="CLI-fixed",vulnerable="unknown"} 0',
    ]);
  });

  it('serve --fixed: the advisory gauges through the gathering child', async () => {
    const served = await startServe(
      [...common(), '--state-dir', join(dir, 'none'), '--fixed', `libc6=${installed}`],
      env,
    );
    try {
      const text = await (await fetch(served.url)).text();
      assert.match(
        text,
        /^afterpatch_advisory_verdict\{advisory="CLI-fixed",verdict="restart-needed"\} 1$/m,
        served.stderr(),
      );
    } finally {
      await served.stop();
    }
  });

  it('bad advisory input: one line on stderr, exit 2, never a hang on a FIFO', async () => {
    const fifo = join(dir, 'fifo.toml');
    execFileSync('mkfifo', [fifo]);
    const bad = join(dir, 'bad.toml');
    writeFileSync(
      bad,
      'id = "CVE-2099-1"\n[[packages]]\nname = "libc6"\nfixed = { debian = "x1" }\n',
    );
    const cases: [string[], RegExp][] = [
      [
        ['--advisory', join(dir, 'missing.toml')],
        /^afterpatch: --advisory .*missing\.toml: cannot read it \(ENOENT\)\.$/,
      ],
      [
        ['--advisory', fifo],
        /^afterpatch: --advisory .*fifo\.toml: not a regular file of at most 1048576 bytes\.$/,
      ],
      [
        ['--advisory', bad],
        /^afterpatch: .*bad\.toml:4: packages\[0\]\.fixed\.debian: is not a package version/,
      ],
      [['--fixed', 'libc6'], /^afterpatch: --fixed "libc6": expected PACKAGE=VERSION/],
      [
        ['--fixed', 'libc6=1', '--no-packages'],
        /^afterpatch: --fixed and --advisory need the packages/,
      ],
    ];
    for (const [args, re] of cases) {
      const r = await runCli(['scan', ...common(), ...args], { env });
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr.trimEnd(), re);
      assert.equal(r.stderr.trimEnd().split('\n').length, 1);
    }
  });
});
