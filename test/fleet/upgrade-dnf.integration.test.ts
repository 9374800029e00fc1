// integrations/ansible/tasks/upgrade.yml on a dnf host, for real: ansible-playbook runs the task
// file on localhost inside a private mount namespace that looks like an rpm host — the test's own
// rpm database bound over /var/lib/rpm (rpm's path on RHEL; Debian's rpm keeps ~/.rpmdb, so HOME's
// .rpmmacros points it there), its own dnf.conf over /etc/dnf/dnf.conf (a file:// repository made
// with createrepo_c), and an empty tmpfs over /var/lib/dpkg, so the real afterpatch reads the rpm
// database. The real Ansible dnf module upgrades a test rpm (built with rpmbuild) whose library a
// running process holds; the real CLI proves the version after. Nothing of the machine changes:
// the mounts end with the namespace, the package's files live in the test's scratch directory.
// The apt path: rig-upgrade.integration; the answers only a stand-in can give:
// upgrade-tasks.integration.
//
// Needs root, unshare, dnf, rpmbuild, createrepo_c, gcc, ansible-playbook and `npm run build`.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CLI } from '../../harness/cli.ts';
import {
  compileHolder,
  compileLibrary,
  HOLDER_NAME,
  LIB_SONAME,
  spawnHolders,
  stopProcesses,
} from '../../harness/fixtures.ts';
import { type Result, runPlain, show } from '../../harness/hook-run.ts';
import { removeScratch, TEST_TMP } from '../../harness/stale-lib.ts';
import { which } from '../../harness/tools.ts';
import { buildRpms, testRpmSpec } from '../helpers/rpm-build.ts';

const ANSIBLE = fileURLToPath(new URL('../../integrations/ansible/', import.meta.url));
const PKG = 'afterpatch-test-dnfup';
/** Installed at 1.0 with 2.0 in the repository too, but no advisory's: must stay at 1.0. */
const BYSTANDER = 'afterpatch-test-dnfother';
/** Only in the repository: must not be installed. */
const ABSENT = 'afterpatch-test-dnfabsent';

function whyNot(): string | false {
  if (process.platform !== 'linux') return 'Linux only';
  if (process.getuid?.() !== 0) return 'needs root (a private mount namespace)';
  const tools = ['unshare', 'mount', 'dnf', 'rpm', 'rpmbuild', 'createrepo_c', 'gcc'];
  for (const tool of [...tools, 'ansible-playbook']) {
    if (which(tool) === undefined) return `${tool} not installed`;
  }
  for (const path of ['/var/lib/rpm', '/etc/dnf/dnf.conf', '/var/lib/dpkg']) {
    if (!existsSync(path)) return `${path} is missing (a mount point of the test)`;
  }
  if (!existsSync(CLI)) return `${CLI} is missing: run "npm run build" first`;
  if (spawnSync('unshare', ['--mount', 'true']).status !== 0) {
    return 'cannot make a mount namespace here (unshare --mount)';
  }
  return false;
}
const skip = whyNot();

describe('tasks/upgrade.yml with the dnf module, in a namespace that is an rpm host', {
  skip,
}, () => {
  let dir = '';
  let ns = '';
  let holders: number[] = [];
  const files = () => join(dir, 'files');

  before(async () => {
    mkdirSync(TEST_TMP, { recursive: true, mode: 0o755 });
    dir = mkdtempSync(join(TEST_TMP, 'dnf-upgrade-'));
    for (const d of ['build', 'repo', 'rpmdb', 'repos.d', 'home', 'ansible']) {
      mkdirSync(join(dir, d));
    }
    const build = join(dir, 'build');
    for (const v of [1, 2]) {
      const lib = join(build, `lib-${v}.so`);
      await compileLibrary(lib, v, `${v}.0`);
      for (const name of [PKG, BYSTANDER, ...(v === 1 ? [ABSENT] : [])]) {
        const to = name === PKG ? join(files(), LIB_SONAME) : join(files(), name, LIB_SONAME);
        await buildRpms(
          testRpmSpec(name, `${v}.0`, [[lib, to]]),
          join(build, `${name}-${v}.spec`),
          join(dir, 'repo'),
        );
      }
    }
    const repo = await runPlain('createrepo_c', ['-q', join(dir, 'repo')]);
    assert.equal(repo.code, 0, show(repo));
    writeFileSync(
      join(dir, 'repos.d', 'test.repo'),
      `[afterpatch-test]\nname=afterpatch test\nbaseurl=file://${dir}/repo\ngpgcheck=0\n`,
    );
    // dnf's state, cache and logs in the scratch directory; no plugins (the machine's).
    writeFileSync(
      join(dir, 'dnf.conf'),
      [
        '[main]',
        'gpgcheck=0',
        'install_weak_deps=False',
        'plugins=0',
        `reposdir=${dir}/repos.d`,
        `cachedir=${dir}/cache`,
        `logdir=${dir}/log`,
        `persistdir=${dir}/persist`,
        '',
      ].join('\n'),
    );
    // rpm's database where RHEL keeps it; none of rpm's plugins that tell the host's journal,
    // D-Bus or systemd about a transaction (Debian's rpm looks for them where they are not).
    writeFileSync(
      join(dir, 'home', '.rpmmacros'),
      [
        '%_dbpath /var/lib/rpm',
        ...['syslog', 'dbus_announce', 'systemd_inhibit', 'audit'].map(
          (p) => `%__transaction_${p} %{nil}`,
        ),
        '',
      ].join('\n'),
    );
    writeFileSync(join(dir, 'ansible.cfg'), '');
    ns = join(dir, 'ns.sh');
    writeFileSync(
      ns,
      [
        '#!/bin/sh',
        'set -e',
        `mount --bind '${dir}/rpmdb' /var/lib/rpm`,
        `mount --bind '${dir}/dnf.conf' /etc/dnf/dnf.conf`,
        'mount -t tmpfs afterpatch-test /var/lib/dpkg',
        'exec "$@"',
        '',
      ].join('\n'),
      { mode: 0o755 },
    );
    writeFileSync(join(dir, 'afterpatch'), `#!/bin/sh\nexec ${process.execPath} ${CLI} "$@"\n`, {
      mode: 0o755,
    });
    writeFileSync(
      join(dir, 'play.yml'),
      [
        '- hosts: localhost',
        '  gather_facts: false',
        '  tasks:',
        "    # Debian's own facts say apt whatever else is installed: this namespace is a dnf host.",
        '    - ansible.builtin.set_fact:',
        '        pkg_mgr: dnf',
        '        cacheable: true',
        `    - ansible.builtin.include_tasks: ${join(ANSIBLE, 'tasks', 'upgrade.yml')}`,
        '',
      ].join('\n'),
    );

    const installed = await inNamespace(['dnf', '-y', 'install', `${PKG}-1.0`, `${BYSTANDER}-1.0`]);
    assert.equal(installed.code, 0, show(installed));
    const holder = join(build, HOLDER_NAME);
    await compileHolder(holder, join(build, 'lib-1.so'), files());
    holders = await spawnHolders(holder, 1);
  });

  after(async () => {
    await stopProcesses(holders).catch(() => {});
    if (dir !== '') removeScratch(dir);
  });

  /** argv in a new private mount namespace with the test's rpm host mounted (ns.sh). */
  function inNamespace(argv: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<Result> {
    return runPlain(
      'unshare',
      ['--mount', '--propagation', 'private', ns, ...argv],
      {
        PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
        HOME: join(dir, 'home'),
        LANG: 'C.UTF-8',
        ...env,
      },
      300_000,
    );
  }

  const playbook = (fixed: string) =>
    inNamespace(
      [
        'ansible-playbook',
        '-i',
        'localhost,',
        '-c',
        'local',
        join(dir, 'play.yml'),
        '-e',
        JSON.stringify({
          afterpatch_cli: join(dir, 'afterpatch'),
          afterpatch_fixed: [`${PKG}=${fixed}`],
          ansible_python_interpreter: '/usr/bin/python3',
        }),
      ],
      {
        ANSIBLE_LOCAL_TEMP: join(dir, 'ansible', 'local'),
        ANSIBLE_REMOTE_TMP: join(dir, 'ansible', 'remote'),
        ANSIBLE_HOME: join(dir, 'ansible'),
        ANSIBLE_LIBRARY: join(ANSIBLE, 'library'),
        ANSIBLE_NOCOLOR: '1',
        ANSIBLE_NO_TARGET_SYSLOG: '1',
        // Not /etc/ansible/ansible.cfg nor one in the working directory (a fact cache there
        // would keep this namespace's pkg_mgr).
        ANSIBLE_CONFIG: join(dir, 'ansible.cfg'),
      },
    );

  /** `NAME VERSION-RELEASE` of every installed package, sorted, one per line. */
  const installedVersions = async () => {
    const r = await inNamespace(['rpm', '-qa', '--qf', '%{NAME} %{VERSION}-%{RELEASE}\\n']);
    assert.equal(r.code, 0, show(r));
    return r.stdout.trim().split('\n').sort().join('\n');
  };
  const expect = (version: string) => [`${PKG} ${version}`, `${BYSTANDER} 1.0-1`].sort().join('\n');

  /** What ansible-playbook printed for one task: from its TASK line to the next one. */
  const taskOutput = (stdout: string, task: string) => {
    const at = stdout.indexOf(`TASK [${task}]`);
    assert.ok(at >= 0, `no task ${task}: ${stdout}`);
    const end = stdout.indexOf('\nTASK [', at + 1);
    return stdout.slice(at, end < 0 ? undefined : end);
  };

  it('an unpatched package is upgraded with dnf, proven at the fix by afterpatch', async () => {
    assert.equal(await installedVersions(), expect('1.0-1'));
    const r = await playbook('2.0');
    assert.equal(r.code, 0, show(r));
    assert.match(taskOutput(r.stdout, 'Upgrade with apt'), /\nskipping: \[localhost\]/, show(r));
    assert.match(taskOutput(r.stdout, 'Upgrade with dnf'), /\nchanged: \[localhost\]/, show(r));
    assert.match(
      taskOutput(r.stdout, 'Upgrade - assert every package of the advisory is at or above the fix'),
      /\nok: \[localhost\]/,
      show(r),
    );
    // Only the advisory's package: the bystander stays at 1.0, nothing new is installed.
    assert.equal(await installedVersions(), expect('2.0-1'));
    // The holder still runs 1.0: for the restart that follows, not a reason to fail here.
    const scan = await inNamespace([
      join(dir, 'afterpatch'),
      'scan',
      '--pid',
      String(holders[0]),
      '--fixed',
      `${PKG}=2.0`,
    ]);
    assert.equal(scan.code, 1, show(scan));
    assert.ok(scan.stdout.includes(join(files(), LIB_SONAME)), show(scan));
  });

  it('a fix no repository offers fails the host after the upgrade, naming the version', async () => {
    const r = await playbook('3.0');
    assert.notEqual(r.code, 0, show(r));
    assert.match(
      r.stdout,
      new RegExp(
        `localhost is not patched after the upgrade of ${PKG}: ${PKG} 2\\.0-1 is below 3\\.0`,
      ),
      show(r),
    );
    assert.equal(await installedVersions(), expect('2.0-1'));
  });
});
