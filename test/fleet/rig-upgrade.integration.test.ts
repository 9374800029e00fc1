// rolling-restart.yml with afterpatch_upgrade: true on the three-host rig (harness/rig.ts): one
// run patches (apt, from a local file-based repository), restarts and verifies host by host
// (issue 13, "Fleet"). The rig's hosts share /usr and the dpkg database with the machine, so
// per-host versions cannot differ: the first batch upgrades, the later batches find the package
// already at the fix and only restart. apt's own state stays in the repository's directory
// (APT_CONFIG, test/helpers/apt-repo.ts); the machine's apt sources are never touched, and the
// test package is purged afterwards. Needs root, systemd, openssh-server and ansible-core.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { playRecap, showRun } from '../../harness/ansible-recap.ts';
import { CLI } from '../../harness/cli.ts';
import { buildTestDeb, dpkgInstall, dpkgPurge, isInstalled } from '../../harness/fixtures.ts';
import { bootRig, canBootRig, type Rig } from '../../harness/rig.ts';
import { startAppOnEveryHost } from '../../harness/rig-app.ts';
import { parseStatus } from '../../src/packages/dpkg.ts';
import { type LocalAptRepo, localAptRepo } from '../helpers/apt-repo.ts';

const ANSIBLE_DIR = fileURLToPath(new URL('../../integrations/ansible/', import.meta.url));
const PKG = 'afterpatch-upgtest';
const UNIT = 'upg-app.service';
const FIXED = [`${PKG}=2.0`];

const can = canBootRig();
const skip = can.ok ? false : can.reason;

function installedVersion(): string | null {
  return parseStatus(readFileSync('/var/lib/dpkg/status', 'utf8')).resolve(PKG)?.version ?? null;
}

interface FleetDoc {
  summary: Record<string, number>;
  hosts: {
    host: string;
    failed: boolean;
    clean: boolean;
    msg: string | null;
    restarted: string[];
    advisories?: { id: string; verdict: string }[];
  }[];
  advisories?: { id: string; verdict: string; hosts: Record<string, string[]> }[];
}

describe('fleet rig: rolling-restart.yml with afterpatch_upgrade (patch, restart, verify)', {
  skip,
}, () => {
  let rig: Rig;
  let reportDir: string;
  let installedByUs = false;
  const debs = { v1: '', v2: '' };
  const repos: LocalAptRepo[] = [];

  const rolling = (repo: LocalAptRepo, flags: string[] = []) =>
    rig.ansible(
      [
        'ansible-playbook',
        join(ANSIBLE_DIR, 'rolling-restart.yml'),
        '-e',
        JSON.stringify({
          afterpatch_cli: CLI,
          afterpatch_report_cli: CLI,
          afterpatch_report_dir: reportDir,
          afterpatch_lib: PKG,
          afterpatch_fixed: FIXED,
          afterpatch_upgrade: true,
          afterpatch_upgrade_environment: repo.env,
          afterpatch_serial: [1, 1],
          afterpatch_health_command: ['systemctl', 'is-active', UNIT],
          afterpatch_health_delay: 1,
        }),
        ...flags,
      ],
      { timeoutMs: 300_000 },
    );
  const fleet = (): FleetDoc => JSON.parse(readFileSync(join(reportDir, 'fleet.json'), 'utf8'));
  const mainPids = () =>
    Promise.all(
      rig.hosts.map(async (h) => {
        const r = await h.sandbox.systemctl('show', UNIT, '--property=MainPID', '--value');
        return Number(r.stdout.trim());
      }),
    );
  /** The hosts on which a task of this name ended with one of `statuses`, over every batch. */
  const hostsOf = (stdout: string, task: string, statuses = 'ok|changed|failed|fatal|skipping') =>
    stdout
      .split(/^(?=TASK \[)/m)
      .filter((block) => block.startsWith(`TASK [${task}]`))
      .flatMap((block) =>
        [...block.matchAll(new RegExp(`^(?:${statuses}): \\[(\\w+)\\]`, 'gm'))].map((m) => m[1]),
      );

  before(async () => {
    if (await isInstalled(PKG)) throw new Error(`${PKG} is already installed on this machine`);
    debs.v1 = await buildTestDeb({ name: PKG, version: '1.0', libValue: 1 });
    debs.v2 = await buildTestDeb({ name: PKG, version: '2.0', libValue: 2 });
    await dpkgInstall(debs.v1);
    installedByUs = true;
    rig = await bootRig({ count: 3 });
    reportDir = join(rig.dir, 'report');
    mkdirSync(reportDir);
    await startAppOnEveryHost(rig, UNIT, PKG, 'upgrade test app');
  });

  after(async () => {
    try {
      await rig?.stop();
    } finally {
      for (const repo of repos) repo.remove();
      if (installedByUs) await dpkgPurge(PKG);
    }
  });

  it('a repository without the fixed version: the canary fails with the assert message, nothing restarted, the run fails, the report names it', async () => {
    const repo = await localAptRepo([debs.v1]);
    repos.push(repo);
    const before = await mainPids();
    const r = await rolling(repo);
    assert.notEqual(r.code, 0, showRun(r));
    assert.match(
      r.stdout,
      /h1 is not patched after the upgrade of afterpatch-upgtest: afterpatch-upgtest 1\.0 is below 2\.0/,
      showRun(r),
    );
    assert.equal(installedVersion(), '1.0');
    assert.deepEqual(await mainPids(), before, 'no unit restarted anywhere');
    // max_fail_percentage 0: the canary's failure stops the run before h2 and h3.
    assert.deepEqual(hostsOf(r.stdout, 'Upgrade - which advisory packages are below the fix'), [
      'h1',
    ]);
    const f = fleet();
    const h1 = f.hosts.find((h) => h.host === 'h1');
    assert.equal(h1?.failed, true, JSON.stringify(h1));
    assert.match(h1?.msg ?? '', /not patched after the upgrade.*1\.0 is below 2\.0/);
    assert.match(readFileSync(join(reportDir, 'fleet.txt'), 'utf8'), /h1/);
  });

  it('check mode: says what would be upgraded, upgrades and restarts nothing', async () => {
    const repo = await localAptRepo([debs.v1, debs.v2]);
    repos.push(repo);
    const before = await mainPids();
    const r = await rolling(repo, ['--check']);
    assert.equal(r.code, 0, showRun(r));
    assert.match(r.stdout, /would upgrade afterpatch-upgtest \(state: latest\), then restart/);
    for (const [name, c] of Object.entries(playRecap(r.stdout)))
      assert.equal(c.changed, 0, `${name} changed:\n${showRun(r)}`);
    assert.equal(installedVersion(), '1.0');
    assert.deepEqual(await mainPids(), before);
  });

  it('upgrades in the first batch (the later ones find it done), restarts and verifies every host, ends clean for the advisory; again: changed=0', async () => {
    const repo = repos.at(-1);
    assert.ok(repo);
    const before = await mainPids();
    const r = await rolling(repo);
    assert.equal(r.code, 0, showRun(r));
    assert.equal(installedVersion(), '2.0');
    // The hosts share the dpkg database: only the canary's batch upgrades.
    assert.deepEqual(hostsOf(r.stdout, 'Upgrade with apt', 'changed'), ['h1'], showRun(r));
    assert.deepEqual(hostsOf(r.stdout, 'Upgrade with apt', 'skipping'), ['h2', 'h3']);
    const after = await mainPids();
    for (const [i, h] of rig.hosts.entries())
      assert.notEqual(after[i], before[i], `${h.name}'s unit restarted`);

    const f = fleet();
    // Three hosts, all clean: every other count is 0.
    const { hosts, clean, ...others } = f.summary;
    assert.deepEqual([hosts, clean], [3, 3], JSON.stringify(f.summary));
    assert.deepEqual(new Set(Object.values(others)), new Set([0]), JSON.stringify(f.summary));
    for (const h of f.hosts) {
      assert.deepEqual(h.restarted, [UNIT], h.host);
      assert.deepEqual(
        h.advisories?.map((a) => a.verdict),
        ['clean'],
        h.host,
      );
    }
    assert.deepEqual(
      f.advisories?.map((a) => [a.id, a.verdict, a.hosts.clean]),
      [['CLI-fixed', 'clean', ['h1', 'h2', 'h3']]],
    );

    const again = await rolling(repo);
    assert.equal(again.code, 0, showRun(again));
    for (const [name, c] of Object.entries(playRecap(again.stdout)))
      assert.equal(c.changed, 0, `${name} changed on the second run:\n${showRun(again)}`);
    assert.deepEqual(await mainPids(), after);
    assert.equal(fleet().summary.clean, 3);
  });
});
