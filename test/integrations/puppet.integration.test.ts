// The Puppet module (integrations/puppet/afterpatch) with Debian's real Puppet 7, `puppet apply`
// inside a real systemd sandbox (docs/testing-systemd-sandbox.md):
//   1. class afterpatch installs the single-file build to a path, writes afterpatch.toml from a
//      hash and enables the shipped metrics timer; a second apply changes nothing; a
//      configuration afterpatch rejects fails with afterpatch's own message and leaves the
//      working file as it was;
//   2. a service maps a library of a test package 1.0 from a local apt repository; a manifest
//      upgrading the package (`ensure => '2.0'`, Puppet's apt provider) notifies
//      afterpatch::restart_after: the unit is restarted and verified (its new MainPID maps the
//      new library), a unit on restart.never is a warning in the report, not a failure; a
//      second apply does nothing;
//   3. the fact `afterpatch` (`puppet facts show`) names the stale unit and package, a unit that
//      fails to restart fails the apply with afterpatch's message, and once restarted the fact
//      is clean.
//
// What it touches on the machine: the test package (a throw-away name, purged at the end, also
// on failure) in the dpkg database and its files under /usr/lib/<name> and /usr/libexec/<name>;
// /var/log/dpkg.log. apt runs with a configuration of its own (test/helpers/apt-repo.ts): the
// machine's sources, lists, cache and apt logs are not touched. Puppet's directories (confdir,
// vardir, …) are the test's own. /etc/afterpatch and /var/lib/afterpatch are bound over by test
// directories inside the sandbox (created on the machine as empty mount points when missing, and
// removed again).
//
// Needs root, a bootable sandbox, gcc, dpkg-dev (dpkg-scanpackages), puppet-agent and
// `npm run build`. Skips with the reason otherwise.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CLI } from '../../harness/cli.ts';
import { buildTestDeb, dpkgInstall, dpkgPurge, testPackagePaths } from '../../harness/fixtures.ts';
import { ensureMountPoint, removeMountPoints } from '../../harness/mount-points.ts';
import {
  bootSandbox,
  canBootSandbox,
  type ExecResult,
  type Sandbox,
} from '../../harness/sandbox.ts';
import { escapeRegExp, mappingsOf } from '../../harness/stale-lib.ts';
import { which } from '../../harness/tools.ts';
import { type LocalAptRepo, localAptRepo } from '../helpers/apt-repo.ts';
import { puppetArgs, puppetSkipReason, restartHasPackageOption } from '../helpers/puppet.ts';

function skipReason(): string | false {
  const can = canBootSandbox();
  if (!can.ok) return `systemd sandbox unavailable: ${can.reason}`;
  const puppet = puppetSkipReason();
  if (puppet) return puppet;
  for (const tool of ['gcc', 'dpkg-deb', 'dpkg-scanpackages', 'apt-get']) {
    if (which(tool) === undefined) return `${tool} not installed (gcc, dpkg-dev, apt)`;
  }
  try {
    statSync(CLI);
  } catch {
    return `${CLI} is missing: run npm run build`;
  }
  return false;
}

const skip = skipReason();
const ID = randomBytes(3).toString('hex');
const PKG = `afterpatch-pp-${ID}`;
const UNIT = `pp-${ID}.service`;
const NEVER_UNIT = `pp-${ID}-never.service`;
const LIB = testPackagePaths(PKG).lib;
const HOLDER = testPackagePaths(PKG).holder;
// /root too: something run as root in the sandbox calls rpm, and Debian's rpm makes a ~/.rpmdb
// (one was left in the machine's /root after this test, puppet's HOME set or not).
const PER_HOST = ['/etc/afterpatch', '/var/lib/afterpatch', '/root'] as const;
const TIMER = 'afterpatch-metrics.timer';

/** Puppet's exit statuses with --detailed-exitcodes: bit 2 changes, bit 4 failures. */
const CHANGES = 2;
const FAILURES = 4;

describe('Puppet module afterpatch, puppet apply in a systemd sandbox', { skip }, () => {
  let sb: Sandbox;
  let dir: string;
  let etcDir: string;
  let repo: LocalAptRepo | undefined;
  let flag: string;

  /** Puppet with every directory of its own below the test's directory. */
  const puppet = (args: readonly string[], env: Record<string, string> = {}) =>
    sb.exec(['puppet', ...args, ...puppetArgs(join(dir, 'puppet'))], {
      timeoutMs: 240_000,
      env: { HOME: join(dir, 'home'), ...env },
    });
  const apply = (manifest: string, env: Record<string, string> = {}) =>
    puppet(['apply', '--detailed-exitcodes', '-e', manifest], env);
  const show = (r: ExecResult) => `exit ${r.code}\n${r.stdout}\n${r.stderr}`;

  const mainPid = async (unit: string): Promise<number> => {
    const pids = await sb.unitPids(unit);
    assert.equal(pids.length, 1, `${unit} runs one process: ${pids.join(',')}`);
    return pids[0] as number;
  };
  /** Waits until the unit's process has the test library mapped; returns its host PID. */
  const waitMapped = async (unit: string): Promise<number> => {
    for (let i = 0; i < 100; i++) {
      const pids = await sb.unitPids(unit);
      if (pids.length === 1 && mappingsOf(pids[0] as number, LIB).length > 0)
        return pids[0] as number;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${unit} never mapped ${LIB}: ${await sb.journal(unit)}`);
  };
  const factOf = async (): Promise<Record<string, unknown>> => {
    const r = await puppet(['facts', 'show', 'afterpatch', '--render-as', 'json'], {
      AFTERPATCH_CLI: CLI,
    });
    assert.equal(r.code, 0, show(r));
    const doc = JSON.parse(r.stdout) as { afterpatch?: Record<string, unknown> };
    assert.ok(doc.afterpatch, show(r));
    return doc.afterpatch;
  };
  /** restart_after for the test package (or, before `restart --package` exists, its library). */
  const restartAfter = (params: string) =>
    restartHasPackageOption()
      ? `afterpatch::restart_after { '${PKG}': ${params} }`
      : `afterpatch::restart_after { '${PKG}': package => false, lib => '${escapeRegExp(LIB)}', ${params} }`;
  const classWith = (config: string, extra = '') =>
    `class { 'afterpatch': install_method => 'binary', binary_source => '${CLI}', binary_path => '${join(dir, 'bin', 'afterpatch')}', config => ${config}, ${extra} }`;
  /** The package at `version`, notifying restart_after (with `params`, e.g. its cli). */
  const upgradeTo = (version: string, params = '') =>
    `package { '${PKG}': ensure => '${version}', provider => 'apt' } ~> ${restartAfter(params)}`;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), `afterpatch-puppet-${ID}-`));
    chmodSync(dir, 0o755);
    mkdirSync(join(dir, 'bin'));
    mkdirSync(join(dir, 'home'));
    flag = join(dir, 'refuse-start');
    const binds: Record<string, string> = {};
    for (const p of PER_HOST) {
      ensureMountPoint(p);
      const d = join(dir, p.slice(1).replaceAll('/', '-'));
      mkdirSync(d, { mode: p === '/root' ? 0o700 : 0o755 });
      binds[p] = d;
    }
    etcDir = binds['/etc/afterpatch'] as string;
    const [v1, v2] = await Promise.all([
      buildTestDeb({ name: PKG, version: '1.0', libValue: 1 }),
      buildTestDeb({ name: PKG, version: '2.0', libValue: 2 }),
    ]);
    repo = await localAptRepo([v1, v2]);
    await dpkgInstall(v1);
    sb = await bootSandbox({ name: `afterpatch-puppet-${ID}`, bindOver: binds });
    // The holder keeps the package's library mapped; ExecStartPre lets a test make starts fail.
    const unitText = (what: string) =>
      [
        '[Unit]',
        `Description=afterpatch Puppet test service (${what})`,
        '[Service]',
        `ExecStartPre=/usr/bin/test ! -e ${flag}`,
        `ExecStart=${HOLDER} 3600 0`,
        '',
      ].join('\n');
    await sb.installUnit(UNIT, unitText('restarted'));
    await sb.installUnit(NEVER_UNIT, unitText('on restart.never'));
    // The shipped timer as it is; its service is a stand-in (the shipped one runs
    // /usr/bin/afterpatch and writes node_exporter's directory on the machine).
    await sb.installUnit(
      TIMER,
      readFileSync(new URL(`../../integrations/systemd/${TIMER}`, import.meta.url), 'utf8'),
    );
    await sb.installUnit(
      TIMER.replace(/\.timer$/, '.service'),
      '[Service]\nType=oneshot\nExecStart=/bin/true\n',
    );
  });

  after(async () => {
    // Every step runs even when one before it fails; the first failure is reported.
    try {
      await sb?.stop();
    } finally {
      try {
        await dpkgPurge(PKG);
      } finally {
        repo?.remove();
        if (dir) rmSync(dir, { recursive: true, force: true });
        removeMountPoints(sb ? dirname(sb.cgroupDir) : undefined);
      }
    }
  });

  it('installs the single-file build, writes the configuration, enables the metrics timer, then changes nothing; a rejected configuration fails with afterpatch’s message and keeps the file', async () => {
    const manifest = classWith(
      "{ 'restart' => { 'jobs' => 8, 'never' => ['postgresql*.service'] }, 'hooks' => { 'apt' => 'restart' } }",
      `enable_units => ['${TIMER}']`,
    );
    const first = await apply(manifest);
    assert.equal(first.code, CHANGES, show(first));
    const installed = join(dir, 'bin', 'afterpatch');
    assert.deepEqual(readFileSync(installed), readFileSync(CLI));
    assert.equal(statSync(installed).mode & 0o777, 0o755);
    const toml = join(etcDir, 'afterpatch.toml');
    const text = readFileSync(toml, 'utf8');
    assert.match(
      text,
      /^\[hooks\]\napt = "restart"\n\n\[restart\]\njobs = 8\nnever = \["postgresql\*\.service"\]\n$/m,
    );
    // afterpatch itself reads the file the way the class meant it.
    const effective = execFileSync(process.execPath, [CLI, 'config', toml], { encoding: 'utf8' });
    assert.match(effective, /^jobs = 8$/m);
    assert.match(effective, /^apt = "restart"$/m);
    assert.equal((await sb.systemctl('is-enabled', TIMER)).stdout.trim(), 'enabled');
    assert.equal((await sb.systemctl('is-active', TIMER)).stdout.trim(), 'active');

    const second = await apply(manifest);
    assert.equal(second.code, 0, show(second));

    const bad = await apply(classWith("{ 'restart' => { 'jobs' => 'many' } }"));
    assert.equal(bad.code & FAILURES, FAILURES, show(bad));
    assert.match(bad.stderr, /afterpatch: \S+:\d+: restart\.jobs: must be a number/);
    assert.equal(readFileSync(toml, 'utf8'), text, 'the working file is unchanged');
  });

  it('restarts the unit when the package is upgraded (verified: the new MainPID maps the new library), warns about a unit on restart.never, and does nothing on the next run', async () => {
    await sb.systemctl('start', UNIT, NEVER_UNIT);
    const oldPid = await waitMapped(UNIT);
    const neverPid = await waitMapped(NEVER_UNIT);
    const manifest = [
      classWith(`{ 'restart' => { 'never' => ['${NEVER_UNIT}'] } }`),
      upgradeTo('2.0'),
    ].join('\n');

    const r = await apply(manifest, repo?.env);
    assert.equal(r.code, CHANGES, show(r));
    assert.match(
      r.stdout,
      new RegExp(`Package\\[${escapeRegExp(PKG)}\\]/ensure: ensure changed '1\\.0' to '2\\.0'`),
    );
    assert.match(r.stdout, new RegExp(`1 restarted and verified \\(${escapeRegExp(UNIT)}\\)`));
    assert.match(
      r.stderr,
      new RegExp(
        `Warning: .*needs a human: ${escapeRegExp(NEVER_UNIT)} \\(skip: listed in restart\\.never\\)`,
      ),
    );

    const newPid = await mainPid(UNIT);
    assert.notEqual(newPid, oldPid);
    const maps = mappingsOf(newPid, LIB);
    assert.ok(
      maps.length > 0 && maps.every((m) => !m.deleted && m.inode === statSync(LIB).ino),
      JSON.stringify(maps),
    );
    assert.equal(
      await mainPid(NEVER_UNIT),
      neverPid,
      'the unit on restart.never was not restarted',
    );
    assert.ok(mappingsOf(neverPid, LIB).every((m) => m.deleted));

    const again = await apply(manifest, repo?.env);
    assert.equal(again.code, 0, show(again));
    assert.equal(await mainPid(UNIT), newPid);
    await sb.systemctl('stop', NEVER_UNIT);
  });

  it('the fact names the stale unit and package; a unit that fails to restart fails the apply; after a restart the fact is clean', async () => {
    writeFileSync(join(etcDir, 'afterpatch.toml'), '');
    await sb.systemctl('start', UNIT);
    await waitMapped(UNIT);
    // A downgrade outside Puppet replaces the library under the running unit.
    await dpkgInstall(await buildTestDeb({ name: PKG, version: '1.0', libValue: 1 }));

    const stale = await factOf();
    assert.equal(stale.needs_restart, true, JSON.stringify(stale));
    assert.ok((stale.units as string[]).includes(UNIT), JSON.stringify(stale));
    assert.ok((stale.packages as string[]).includes(PKG), JSON.stringify(stale));
    assert.equal(typeof stale.needs_reboot, 'boolean');
    assert.equal(
      stale.version,
      JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version,
    );

    writeFileSync(flag, '');
    const failed = await apply(upgradeTo('2.0', `cli => '${CLI}'`), repo?.env);
    assert.equal(failed.code & FAILURES, FAILURES, show(failed));
    assert.match(
      failed.stderr,
      new RegExp(
        `Failed to call refresh: afterpatch restart[^\\n]* failed: ${escapeRegExp(UNIT)} failed`,
      ),
    );

    rmSync(flag);
    await sb.systemctl('reset-failed', UNIT);
    await sb.systemctl('restart', UNIT);
    await waitMapped(UNIT);
    const clean = await factOf();
    assert.equal(clean.needs_restart, false, JSON.stringify(clean));
    assert.deepEqual(clean.units, []);
    assert.equal(clean.error, undefined);
    await sb.systemctl('stop', UNIT);
  });
});
