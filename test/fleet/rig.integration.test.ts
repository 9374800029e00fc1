// The fleet path end to end: three real hosts (systemd sandboxes with their own network
// namespace and sshd, harness/rig.ts) driven over SSH by Debian's ansible-core. The role
// installs afterpatch, a test package shared by all hosts is upgraded under a running service,
// and integrations/ansible/rolling-restart.yml restarts it host by host, verifies and reports.
// Needs root, systemd, openssh-server and ansible-core (.ci/run installs them); skips otherwise.
import assert from 'node:assert/strict';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { playRecap as recap, showRun } from '../../harness/ansible-recap.ts';
import { CLI } from '../../harness/cli.ts';
import { buildTestDeb, dpkgInstall, dpkgPurge, isInstalled } from '../../harness/fixtures.ts';
import {
  bootRig,
  canBootRig,
  inotifyInstances,
  type Rig,
  type RigHost,
  rigFootprint,
} from '../../harness/rig.ts';
import { startAppOnEveryHost } from '../../harness/rig-app.ts';
import type { ExecResult } from '../../harness/sandbox.ts';

const ANSIBLE_DIR = fileURLToPath(new URL('../../integrations/ansible/', import.meta.url));
const PKG = 'afterpatch-fleet-test';
const UNIT = 'fleet-app.service';
/** Where the role installs the CLI on each rig host (a per-host directory, see rig.ts). */
const HOST_CLI = '/opt/afterpatch/bin/afterpatch';
/** Where the role's deb method copies the package (shared by the rig's hosts and the machine). */
const DEB_ON_HOST = '/var/cache/afterpatch.deb';
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

const can = canBootRig();
const skip = can.ok ? false : can.reason;

interface UnitTimes {
  mainPid: number;
  activeExit: number;
  activeEnter: number;
  result: string;
  activeState: string;
}

async function unitTimes(h: RigHost): Promise<UnitTimes> {
  const r = await h.sandbox.systemctl(
    'show',
    UNIT,
    '--property=MainPID,ActiveExitTimestampMonotonic,ActiveEnterTimestampMonotonic,Result,ActiveState',
  );
  const p = Object.fromEntries(
    r.stdout
      .trim()
      .split('\n')
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
  return {
    mainPid: Number(p.MainPID),
    activeExit: Number(p.ActiveExitTimestampMonotonic),
    activeEnter: Number(p.ActiveEnterTimestampMonotonic),
    result: p.Result ?? '',
    activeState: p.ActiveState ?? '',
  };
}

interface FleetHost {
  host: string;
  needsRestart: boolean;
  needsReboot: boolean;
  failed: boolean;
  clean: boolean;
  units: string[];
  restarted: string[];
  restartFailed: string[];
  msg?: string;
}
interface Fleet {
  format: string;
  summary: Record<string, number>;
  hosts: FleetHost[];
}

describe('fleet rig: role + rolling-restart.yml over SSH', { skip }, () => {
  let rig: Rig;
  let inotifyBefore = 0;
  let reportDir: string;
  let installedByUs = false;
  let debByUs = false;
  const v = { v1: '', v2: '', v3: '', v4: '', v5: '', v6: '' };

  const playbook = (name: string, extra: Record<string, unknown>, flags: string[] = []) =>
    rig.ansible(
      ['ansible-playbook', join(ANSIBLE_DIR, name), '-e', JSON.stringify(extra), ...flags],
      { timeoutMs: 240_000 },
    );
  const rolling = (extra: Record<string, unknown> = {}, flags: string[] = []) =>
    playbook(
      'rolling-restart.yml',
      {
        afterpatch_cli: HOST_CLI,
        afterpatch_report_cli: CLI,
        afterpatch_report_dir: reportDir,
        afterpatch_lib: PKG,
        afterpatch_serial: [1, 1],
        afterpatch_health_command: ['systemctl', 'is-active', UNIT],
        afterpatch_health_delay: 1,
        ...extra,
      },
      flags,
    );
  const fleet = (): Fleet => JSON.parse(readFileSync(join(reportDir, 'fleet.json'), 'utf8'));
  const host = (f: Fleet, name: string) => {
    const h = f.hosts.find((x) => x.host === name);
    assert.ok(h, `${name} in the fleet report: ${JSON.stringify(f.hosts.map((x) => x.host))}`);
    return h;
  };
  const allTimes = () => Promise.all(rig.hosts.map(unitTimes));
  /** `ansible HOST -m afterpatch -a state=scanned`, a module from the repository. */
  const adHocScan = (name: string, flags: string[] = [], module = 'afterpatch') =>
    rig.ansible([
      'ansible',
      name,
      ...flags,
      '-M',
      join(ANSIBLE_DIR, 'library'),
      '-m',
      module,
      '-a',
      'state=scanned',
    ]);
  /** The run succeeded, reported changed=0 everywhere, and no app was restarted since `since`. */
  const assertNothingChanged = async (r: ExecResult, since: UnitTimes[]) => {
    assert.equal(r.code, 0, show(r));
    for (const [name, c] of Object.entries(recap(r.stdout))) {
      assert.equal(c.changed, 0, `${name} changed:\n${show(r)}`);
    }
    const now = await allTimes();
    assert.deepEqual(
      now.map((t) => t.mainPid),
      since.map((t) => t.mainPid),
    );
    return now;
  };
  const show = showRun;

  before(async () => {
    if (await isInstalled(PKG)) throw new Error(`${PKG} is already installed on this machine`);
    v.v1 = await buildTestDeb({ name: PKG, version: '1.0', libValue: 1 });
    v.v2 = await buildTestDeb({ name: PKG, version: '2.0', libValue: 2 });
    v.v3 = await buildTestDeb({ name: PKG, version: '3.0', libValue: 3 });
    v.v4 = await buildTestDeb({ name: PKG, version: '4.0', libValue: 4 });
    v.v5 = await buildTestDeb({ name: PKG, version: '5.0', libValue: 5 });
    v.v6 = await buildTestDeb({ name: PKG, version: '6.0', libValue: 6 });
    await dpkgInstall(v.v1);
    installedByUs = true;
    inotifyBefore = inotifyInstances();
    rig = await bootRig({ count: 3 });
    reportDir = join(rig.dir, 'report');
    mkdirSync(reportDir);
    await startAppOnEveryHost(rig, UNIT, PKG, 'fleet test app');
  });

  after(async () => {
    await rig?.stop();
    // What the rig raised while it ran is back as it was.
    assert.equal(inotifyInstances(), inotifyBefore);
    if (installedByUs) await dpkgPurge(PKG);
    if (debByUs) {
      await dpkgPurge('afterpatch');
      rmSync(DEB_ON_HOST, { force: true });
    }
  });

  it('the role installs the CLI and a validated configuration on every host; again: no change', async () => {
    const extra = {
      afterpatch_install_method: 'binary',
      afterpatch_binary: CLI,
      afterpatch_binary_dest: HOST_CLI,
      afterpatch_config: { restart: { never: ['precious*.service'], jobs: 8 } },
    };
    const first = await playbook('install.yml', extra);
    assert.equal(first.code, 0, show(first));
    for (const h of rig.hosts) {
      assert.ok(existsSync(join(h.dirs['/opt/afterpatch'], 'bin', 'afterpatch')), h.name);
      const toml = readFileSync(join(h.dirs['/etc/afterpatch'], 'afterpatch.toml'), 'utf8');
      assert.match(toml, /^\[restart\]$/m);
      assert.match(toml, /^never = \["precious\*\.service"\]$/m);
      const v = await h.sandbox.exec([HOST_CLI, 'config', '--json']);
      assert.equal(v.code, 0, v.stderr);
      assert.deepEqual(JSON.parse(v.stdout).config.restart.never, ['precious*.service']);
    }
    assert.deepEqual(
      Object.values(recap(first.stdout)).map((c) => c.failed),
      [0, 0, 0],
    );

    const again = await playbook('install.yml', extra);
    assert.equal(again.code, 0, show(again));
    for (const [name, c] of Object.entries(recap(again.stdout))) {
      assert.equal(c.changed, 0, `${name} changed on the second run:\n${show(again)}`);
    }

    // A configuration afterpatch rejects never replaces the working one.
    const bad = await playbook('install.yml', {
      ...extra,
      afterpatch_config: { restart: { jobs: 0 } },
    });
    assert.notEqual(bad.code, 0, show(bad));
    assert.match(bad.stdout, /restart\.jobs/);
    for (const h of rig.hosts) {
      const toml = readFileSync(join(h.dirs['/etc/afterpatch'], 'afterpatch.toml'), 'utf8');
      assert.match(toml, /^jobs = 8$/m, `${h.name} kept its configuration`);
    }
  });

  it('the rig: fs.inotify.max_user_instances raised while it runs; each host a few processes', () => {
    assert.ok(inotifyInstances() >= 256 + 8 * 3, String(inotifyInstances()));
    for (const f of rigFootprint(rig)) {
      // systemd, journald, sshd and the app: a handful of processes, tens of MiB at most.
      assert.ok(f.processes >= 3 && f.processes < 20, JSON.stringify(f));
      assert.ok(f.pssKiB > 1024 && f.pssKiB < 200 * 1024, JSON.stringify(f));
    }
  });

  it('the Python module is pipelined (one SSH command a call), the Node.js one is not', async () => {
    const sshCommands = (r: ExecResult) =>
      r.stdout.split('\n').filter((l) => l.includes('SSH: EXEC')).length;
    const args = ['-vvv', '-e', `afterpatch_cli=${HOST_CLI}`];
    for (const [module, want] of [
      ['afterpatch', (n: number) => n === 1],
      ['afterpatch_node', (n: number) => n >= 4],
    ] as const) {
      const r = await rig.ansible([
        'ansible',
        'h1',
        ...args,
        '-M',
        join(ANSIBLE_DIR, 'library'),
        '-m',
        module,
        '-a',
        `state=scanned afterpatch=${HOST_CLI}`,
      ]);
      assert.equal(r.code, 0, show(r));
      assert.match(r.stdout, /h1 \| SUCCESS/);
      assert.ok(want(sshCommands(r)), `${module}: ${sshCommands(r)} SSH commands\n${show(r)}`);
    }
  });

  it('after an upgrade, restarts the unit host by host (one batch after the other), verifies, reports clean; again: changed=0', async () => {
    const before = await allTimes();
    await dpkgInstall(v.v2);
    const r = await rolling();
    assert.equal(r.code, 0, show(r));
    // The report is written by the summary and at the end, not after every batch (whose cost
    // grew with the hosts already done): three batches, two reports (each shows its table).
    assert.equal(r.stdout.match(/"3 hosts: \d+ need a restart, /g)?.length, 2, show(r));
    // No second scan: the restart module's verification is the verify (docs/fleet.md).
    assert.equal(r.stdout.match(/^TASK \[Scan\]/gm)?.length, 1, show(r));
    const after = await allTimes();
    for (const [i, h] of rig.hosts.entries()) {
      assert.notEqual(after[i]?.mainPid, before[i]?.mainPid, `${h.name} restarted`);
      assert.equal(after[i]?.activeState, 'active', h.name);
    }
    // Canary h1, then h2, then h3: each restart began after the previous batch's unit was up
    // again (the whole batch, verification and health check included, ran in between).
    for (let i = 1; i < after.length; i++) {
      const prev = after[i - 1];
      const cur = after[i];
      assert.ok(prev && cur);
      assert.ok(
        cur.activeExit > prev.activeEnter,
        `h${i + 1} began restarting (${cur.activeExit}) after h${i} was up (${prev.activeEnter})`,
      );
    }
    const f = fleet();
    assert.equal(f.format, 'afterpatch-fleet');
    assert.deepEqual(f.summary, {
      hosts: 3,
      needRestart: 0,
      needReboot: 0,
      failed: 0,
      unknown: 0,
      clean: 3,
    });
    for (const h of rig.hosts) assert.deepEqual(host(f, h.name).restarted, [UNIT]);
    assert.match(readFileSync(join(reportDir, 'fleet.txt'), 'utf8'), /h1/);

    await assertNothingChanged(await rolling(), after);
    assert.equal(fleet().summary.clean, 3);

    // --limit: only those hosts are scanned and reported (the report steps are no localhost play).
    const limited = await rolling({}, ['--limit', 'h1,h3']);
    assert.equal(limited.code, 0, show(limited));
    assert.deepEqual(
      fleet().hosts.map((h) => h.host),
      ['h1', 'h3'],
    );
  });

  it('check mode changes nothing on any host and reports what would be restarted', async () => {
    await dpkgInstall(v.v3);
    const before = await allTimes();
    const state = rig.hosts.map((h) =>
      existsSync(join(h.dirs['/var/lib/afterpatch'], 'state.json'))
        ? readFileSync(join(h.dirs['/var/lib/afterpatch'], 'state.json'), 'utf8')
        : '',
    );
    await assertNothingChanged(await rolling({}, ['--check']), before);
    for (const [i, h] of rig.hosts.entries()) {
      const p = join(h.dirs['/var/lib/afterpatch'], 'state.json');
      assert.equal(existsSync(p) ? readFileSync(p, 'utf8') : '', state[i], `${h.name} state`);
      const sentinel = await h.sandbox.exec(['test', '-e', '/run/reboot-required']);
      assert.notEqual(sentinel.code, 0, `${h.name}: no sentinel written`);
    }
    const f = fleet();
    assert.equal(f.summary.needRestart, 3, JSON.stringify(f.summary));
    for (const h of rig.hosts) assert.deepEqual(host(f, h.name).units, [UNIT]);
  });

  it('a unit that fails after its restart stops the play per max_fail_percentage; later batches untouched', async () => {
    // v3 is installed and not yet restarted (the check-mode test): make h2's unit fail to start.
    const h2 = rig.hosts[1];
    assert.ok(h2);
    const dropIn = join(h2.sandbox.unitDir, `${UNIT}.d`);
    mkdirSync(dropIn);
    writeFileSync(join(dropIn, 'fail.conf'), '[Service]\nExecStartPre=/bin/false\n');
    assert.equal((await h2.sandbox.systemctl('daemon-reload')).code, 0);
    const before = await allTimes();

    // Batches [h1, h2], [h3]: without max_fail_percentage Ansible would go on to h3's batch,
    // since not every host of the first batch failed.
    const r = await rolling({ afterpatch_serial: [2, 1], afterpatch_max_fail_percentage: 0 });
    assert.notEqual(r.code, 0, show(r));
    const after = await allTimes();
    assert.notEqual(after[0]?.mainPid, before[0]?.mainPid, 'h1 restarted');
    assert.equal(after[1]?.activeState, 'failed', 'h2 failed');
    assert.equal(after[2]?.mainPid, before[2]?.mainPid, 'h3 untouched');
    assert.equal(after[2]?.activeExit, before[2]?.activeExit, 'h3 never stopped');
    assert.doesNotMatch(r.stdout, /Report - the fleet after the run/);

    const f = fleet();
    const fh2 = host(f, 'h2');
    assert.equal(fh2.failed, true, JSON.stringify(fh2));
    assert.deepEqual(fh2.restartFailed, [UNIT]);
    assert.match(fh2.msg ?? '', /fleet-app\.service/);
    assert.equal(host(f, 'h1').clean, true);
    assert.equal(host(f, 'h3').needsRestart, true);
    assert.match(readFileSync(join(reportDir, 'fleet.txt'), 'utf8'), /h2/);

    // The operator repairs h2 and starts it (on the new library); the next run finishes h3.
    rmSync(dropIn, { recursive: true });
    assert.equal((await h2.sandbox.systemctl('daemon-reload')).code, 0);
    assert.equal((await h2.sandbox.systemctl('start', UNIT)).code, 0);
    const fixed = await rolling();
    assert.equal(fixed.code, 0, show(fixed));
    const end = await allTimes();
    assert.notEqual(end[2]?.mainPid, after[2]?.mainPid, 'h3 restarted by the next run');
    assert.equal(end[0]?.mainPid, after[0]?.mainPid, 'h1 not restarted again');
    assert.equal(fleet().summary.clean, 3);
  });

  it('a host waiting for a reboot is reported as such, restarted once for its stale unit, then left alone', async () => {
    const h3 = rig.hosts[2];
    assert.ok(h3);
    const mark = await h3.sandbox.exec(['touch', '/run/reboot-required']);
    assert.equal(mark.code, 0, mark.stderr);
    await dpkgInstall(v.v4);
    const before = await allTimes();
    const r = await rolling();
    assert.equal(r.code, 0, show(r));
    const mid = await allTimes();
    for (let i = 0; i < 3; i++) {
      assert.ok((before[i]?.mainPid ?? 0) > 0, `h${i + 1} runs the app`);
      assert.notEqual(mid[i]?.mainPid, before[i]?.mainPid, `h${i + 1} restarted`);
    }
    let f = fleet();
    assert.deepEqual(f.summary, {
      hosts: 3,
      needRestart: 0,
      needReboot: 1,
      failed: 0,
      unknown: 0,
      clean: 2,
    });
    assert.equal(host(f, 'h3').needsReboot, true);

    // Nothing left to restart: h3 is not restarted again, whatever its reboot says.
    await assertNothingChanged(await rolling(), mid);
    f = fleet();
    assert.equal(host(f, 'h3').needsReboot, true);
    assert.equal(f.summary.needReboot, 1);
  });

  it('a host without afterpatch and an unreachable host are named in the report as failed; the others are done', async () => {
    const [h1, , h3] = rig.hosts;
    assert.ok(h1 && h3);
    const cli = join(h1.dirs['/opt/afterpatch'], 'bin', 'afterpatch');
    renameSync(cli, `${cli}.away`);
    assert.equal((await h3.sandbox.systemctl('stop', 'rig-sshd.service')).code, 0);
    try {
      await dpkgInstall(v.v5);
      const before = await allTimes();
      const r = await rolling();
      assert.notEqual(r.code, 0, show(r));
      const counts = recap(r.stdout);
      assert.deepEqual(
        ['h1', 'h2', 'h3'].map((h) => (counts[h]?.failed ?? 0) > 0),
        [true, false, true],
        show(r),
      );
      // Failed by the gather's sort, in a group of their own (why: the Scan task, the report).
      for (const h of ['h1', 'h3'])
        assert.match(
          r.stdout,
          new RegExp(`fatal: \\[${h}\\]: FAILED! => .*afterpatch_unscanned`),
          show(r),
        );
      const after = await allTimes();
      assert.equal(after[0]?.mainPid, before[0]?.mainPid, 'h1 untouched');
      assert.notEqual(after[1]?.mainPid, before[1]?.mainPid, 'h2 restarted');
      assert.equal(after[2]?.mainPid, before[2]?.mainPid, 'h3 untouched');
      const f = fleet();
      const fh1 = host(f, 'h1');
      assert.equal(fh1.failed, true, JSON.stringify(fh1));
      assert.match(fh1.msg ?? '', /afterpatch is not installed on /);
      const fh3 = host(f, 'h3');
      assert.equal(fh3.failed, true, JSON.stringify(fh3));
      assert.match(fh3.msg ?? '', /^unreachable: /);
      assert.equal(host(f, 'h2').clean, true);
    } finally {
      renameSync(`${cli}.away`, cli);
      assert.equal((await h3.sandbox.systemctl('start', 'rig-sshd.service')).code, 0);
    }
    // Repaired: the next run restarts h1's and h3's services (h3 still waits for its reboot).
    const r = await rolling();
    assert.equal(r.code, 0, show(r));
    const { summary } = fleet();
    assert.deepEqual([summary.needRestart, summary.failed], [0, 0], JSON.stringify(summary));
  });

  it('a failing health check fails its host and stops the play; the report says why', async () => {
    // Healthy = /run/healthy exists (each host has its own /run): h1 and h3 only.
    for (const h of [rig.hosts[0], rig.hosts[2]]) {
      const r = await h?.sandbox.exec(['touch', '/run/healthy']);
      assert.equal(r?.code, 0, r?.stderr);
    }
    await dpkgInstall(v.v6);
    const before = await allTimes();
    const r = await rolling({
      afterpatch_health_command: [
        'sh',
        '-c',
        'test -e /run/healthy || { echo "no /run/healthy" >&2; exit 1; }',
      ],
      afterpatch_health_retries: 2,
    });
    assert.notEqual(r.code, 0, show(r));
    const after = await allTimes();
    assert.notEqual(after[0]?.mainPid, before[0]?.mainPid, 'h1 restarted');
    assert.notEqual(after[1]?.mainPid, before[1]?.mainPid, 'h2 restarted, then unhealthy');
    assert.equal(after[2]?.mainPid, before[2]?.mainPid, 'h3 untouched');
    const fh2 = host(fleet(), 'h2');
    assert.equal(fh2.failed, true, JSON.stringify(fh2));
    // Run by the module after the restart (no task of its own): 1 + 2 retries.
    assert.match(
      fh2.msg ?? '',
      /^Restart what runs outdated code, then verify: Health check command: exit status 1 after 3 attempts: no \/run\/healthy$/,
    );
  });

  it("the role's deb method installs the package with apt, idempotently; the module runs the packaged CLI; apt purges it", async (t) => {
    // The rig's hosts share the machine's dpkg database: never replace an afterpatch installed
    // on the machine for real.
    if (await isInstalled('afterpatch')) {
      t.skip('the afterpatch package is installed on this machine; not replacing it');
      return;
    }
    if (existsSync(DEB_ON_HOST)) {
      t.skip(`${DEB_ON_HOST} exists on this machine; not replacing it`);
      return;
    }
    const out = join(rig.dir, 'deb');
    mkdirSync(out);
    const built = await rig.ansible([
      process.execPath,
      join(ROOT, 'scripts/package-deb.mjs'),
      '--bundle',
      CLI,
      '--out-dir',
      out,
    ]);
    assert.equal(built.code, 0, built.stderr);
    const deb = join(out, readdirSync(out).find((f) => f.endsWith('.deb')) ?? 'missing.deb');
    const extra = {
      afterpatch_deb: deb,
      afterpatch_config: { restart: { jobs: 4 } },
      afterpatch_enable_units: ['afterpatch-metrics.timer'],
    };
    debByUs = true;
    const first = await playbook('install.yml', extra, ['-l', 'h1']);
    assert.equal(first.code, 0, show(first));
    const h1 = rig.hosts[0];
    assert.ok(h1);
    const version = await h1.sandbox.exec(['afterpatch', '--version']);
    assert.equal(version.code, 0, version.stderr);
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version;
    assert.equal(version.stdout.trim(), pkg);
    assert.equal(await isInstalled('afterpatch'), true);
    assert.match(
      readFileSync(join(h1.dirs['/etc/afterpatch'], 'afterpatch.toml'), 'utf8'),
      /^jobs = 4$/m,
    );
    // The packaged timer, enabled and started by the role in h1's systemd.
    const timer = await h1.sandbox.systemctl('is-active', 'afterpatch-metrics.timer');
    assert.equal(timer.stdout.trim(), 'active', timer.stderr);

    const again = await playbook('install.yml', extra, ['-l', 'h1']);
    assert.equal(again.code, 0, show(again));
    assert.equal(recap(again.stdout).h1?.changed, 0, show(again));

    // The module finds the packaged CLI on PATH (no afterpatch option).
    const scan = await adHocScan('h1');
    assert.equal(scan.code, 0, show(scan));
    assert.match(scan.stdout, /"afterpatch_version": "[0-9.]+"/);

    const removed = await rig.ansible([
      'ansible',
      'h1',
      '-m',
      'apt',
      '-a',
      'name=afterpatch state=absent purge=yes',
    ]);
    assert.equal(removed.code, 0, show(removed));
    assert.equal(await isInstalled('afterpatch'), false);
  });

  it('the standalone binary, installed by the role, is the module interpreter for hosts without Node.js', async (t) => {
    const sea = join(rig.dir, 'afterpatch-standalone');
    const built = await rig.ansible([
      process.execPath,
      join(ROOT, 'scripts/package-sea.mjs'),
      '--bundle',
      CLI,
      '--out',
      sea,
    ]);
    // Exit 3: this machine cannot build a single executable (package-sea says why).
    if (built.code === 3) {
      t.skip(built.stderr.trim());
      return;
    }
    assert.equal(built.code, 0, built.stderr);
    const dest = '/opt/afterpatch/bin/afterpatch-standalone';
    const install = await playbook(
      'install.yml',
      {
        afterpatch_install_method: 'binary',
        afterpatch_binary: sea,
        afterpatch_binary_dest: dest,
      },
      ['-l', 'h2'],
    );
    assert.equal(install.code, 0, show(install));
    // Ansible replaces /usr/bin/env of the module's shebang: `<dest> node MODULE ARGS`.
    const r = await adHocScan(
      'h2',
      ['-vvv', '-e', `ansible_env_interpreter=${dest}`],
      'afterpatch_node',
    );
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, /h2 \| SUCCESS/);
    assert.ok(r.stdout.includes(`${dest} node /`), 'the binary ran the module');
    assert.match(r.stdout, /"afterpatch_version": "[0-9.]+"/);
  });
});
