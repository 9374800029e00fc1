// The assessment over stubbed host facts: the kernel decided by the running kernel's package
// version, a source package covering its binaries, the family's fixed version, containers never
// the host's, and every unreadable input `unknown`, never clean.
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Advisory } from '../../src/advisory/advisory.ts';
import { assessAdvisories, type ContainerVersion } from '../../src/advisory/assess.ts';
import { parseApkInstalled } from '../../src/advisory/container.ts';
import {
  type AdvisoryHost,
  kernelPackageVersion,
  readAdvisoryHost,
} from '../../src/advisory/host.ts';
import type { StaleProcess } from '../../src/scan/model.ts';

const host = (o: Partial<AdvisoryHost> = {}): AdvisoryHost => ({
  manager: 'dpkg',
  families: ['debian'],
  binaries: new Map(),
  installed: new Map(),
  history: [],
  runningKernel: null,
  problems: [],
  ...o,
});
const noIo = { replacedAtMs: () => null, startMs: () => null };
const adv = (name: string, fixed: Record<string, string>, id = 'CVE-2099-1'): Advisory => ({
  id,
  packages: [{ name, fixed }],
});
const staleProc = (pid: number, pkg: string, version: string): StaleProcess => ({
  pid,
  ppid: null,
  uid: null,
  name: null,
  cmdline: null,
  root: '/',
  foreignPidNs: false,
  cgroup: null,
  owner: { type: 'system-unit', unit: `u${pid}.service` },
  files: [
    {
      path: '/usr/lib/x.so',
      hostPath: '/usr/lib/x.so',
      kind: 'code',
      inode: 1,
      device: 'fe:00',
      package: { name: pkg, version, manager: 'dpkg' },
    },
  ],
  ignored: [],
});

describe('assessAdvisories', () => {
  it('kernel: patched when the newest image is at the fix; the running kernel decides the reboot', () => {
    const h = host({
      binaries: new Map([['linux', ['linux-image-6.1.0-18-amd64', 'linux-image-6.1.0-20-amd64']]]),
      installed: new Map([
        ['linux-image-6.1.0-18-amd64', '6.1.76-1'],
        ['linux-image-6.1.0-20-amd64', '6.1.85-1'],
      ]),
      runningKernel: '6.1.76-1',
    });
    const a = assessAdvisories([adv('linux', { debian: '6.1.85-1' })], h, [], noIo);
    assert.equal(a.advisories[0]?.verdict, 'reboot-needed');
    // The old image still installed is not "unpatched": kernels install side by side.
    assert.ok(!a.advisories[0]?.reasons.some((r) => r.verdict === 'unpatched'));
    const booted = assessAdvisories(
      [adv('linux', { debian: '6.1.85-1' })],
      { ...h, runningKernel: '6.1.85-1' },
      [],
      noIo,
    );
    assert.equal(booted.advisories[0]?.verdict, 'clean');
    // The running kernel's package version cannot be told: unknown, never clean.
    const blind = assessAdvisories(
      [adv('linux', { debian: '6.1.85-1' })],
      { ...h, runningKernel: null },
      [],
      noIo,
    );
    assert.equal(blind.advisories[0]?.verdict, 'unknown');
  });

  it('a source package covers its binaries; the host family picks the fix; no fix for it → unknown', () => {
    const h = host({
      binaries: new Map([['openssl', ['libssl3', 'openssl']]]),
      installed: new Map([
        ['libssl3', '3.0.11-1'],
        ['openssl', '3.0.11-1'],
      ]),
    });
    const a = assessAdvisories(
      [adv('openssl', { debian: '3.0.13-1', ubuntu: '3.0.2-0ubuntu1.15' })],
      h,
      // No history: it runs something older than the installed 3.0.11-1, below the fix.
      [staleProc(7, 'libssl3', '3.0.13-1')],
      noIo,
    );
    assert.equal(a.advisories[0]?.verdict, 'unpatched');
    assert.deepEqual(
      a.advisories[0]?.reasons.map((r) => r.why),
      [
        'libssl3 3.0.11-1 is below 3.0.13-1',
        'openssl 3.0.11-1 is below 3.0.13-1',
        '1 process(es) run a version below the fix',
      ],
    );
    const other = assessAdvisories([adv('openssl', { rhel: '1:3.0.7-28.el9' })], h, [], noIo);
    assert.equal(other.advisories[0]?.verdict, 'unknown');
  });

  it('package database unreadable → unknown; containers add image-vulnerable, never unpatched', () => {
    const blind = assessAdvisories(
      [adv('libc6', { any: '2.36-9' })],
      host({ binaries: null, problems: ['cannot read the dpkg status file (EACCES)'] }),
      [],
      noIo,
    );
    assert.equal(blind.advisories[0]?.verdict, 'unknown');
    const c: ContainerVersion = {
      advisory: 'CVE-2099-1',
      runtime: 'docker',
      id: 'abc',
      package: 'libc6',
      version: '2.31-13',
      fixed: '2.36-9',
      vulnerable: true,
      note: '',
    };
    const a = assessAdvisories([adv('libc6', { any: '2.36-9' })], host(), [], noIo, [c]);
    assert.equal(a.advisories[0]?.verdict, 'image-vulnerable');
    assert.deepEqual(a.advisories[0]?.reasons, [
      {
        verdict: 'image-vulnerable',
        why: 'container docker:abc: its image ships a version below the fix',
      },
    ]);
  });
});

describe('kernelPackageVersion', () => {
  it('Debian uname -v, Ubuntu version_signature, rpm uname -r; null otherwise', () => {
    assert.equal(
      kernelPackageVersion(
        '6.1.0-18-amd64',
        '#1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01)',
        null,
        'dpkg',
      ),
      '6.1.76-1',
    );
    assert.equal(
      kernelPackageVersion(
        '5.15.0-101-generic',
        '#111-Ubuntu SMP Tue Mar 5 20:16:58 UTC 2024',
        'Ubuntu 5.15.0-101.111-generic 5.15.143',
        'dpkg',
      ),
      '5.15.0-101.111',
    );
    assert.equal(
      kernelPackageVersion('5.14.0-427.13.1.el9_4.x86_64', '#1 SMP', null, 'rpm'),
      '5.14.0-427.13.1.el9_4',
    );
    assert.equal(kernelPackageVersion('6.8.0', '#1 SMP PREEMPT', null, 'dpkg'), null);
  });
});

describe('parseApkInstalled', () => {
  it('name, version and origin per stanza', () => {
    const r = parseApkInstalled(
      'C:Q1x\nP:libssl3\nV:3.1.4-r5\no:openssl\n\nP:musl\nV:1.2.4-r2\n\n',
    );
    assert.deepEqual(
      [...r.installed],
      [
        ['libssl3', '3.1.4-r5'],
        ['musl', '1.2.4-r2'],
      ],
    );
    assert.deepEqual([...r.origin], [['libssl3', 'openssl']]);
  });
});

describe('readAdvisoryHost on an rpm system (a stand-in rpm on PATH, real dnf.rpm.log lines)', () => {
  it('installed versions without epoch 0, SOURCERPM expansion, history of the covered binaries only', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'afterpatch-rpmhost-'));
    const oldPath = process.env.PATH;
    try {
      mkdirSync(join(dir, 'bin'));
      writeFileSync(
        join(dir, 'bin', 'rpm'),
        `#!/bin/sh\nprintf 'openssl-libs\\topenssl-3.0.7-27.el9.src.rpm\\t1:3.0.7-27.el9\\nbash\\tbash-5.1.8-6.el9.src.rpm\\t0:5.1.8-6.el9\\n'\n`,
      );
      chmodSync(join(dir, 'bin', 'rpm'), 0o755);
      mkdirSync(join(dir, 'root/var/log'), { recursive: true });
      // The root's database directory (rpm is asked with --dbpath; the stand-in ignores it).
      mkdirSync(join(dir, 'root/var/lib/rpm'), { recursive: true });
      writeFileSync(join(dir, 'root/var/lib/rpm/rpmdb.sqlite'), '');
      writeFileSync(
        join(dir, 'root/var/log/dnf.rpm.log'),
        [
          '2024-07-10T12:34:56+0000 SUBDEBUG Upgrade: openssl-libs-1:3.0.7-27.el9.x86_64',
          '2024-07-10T12:34:57+0000 SUBDEBUG Upgraded: openssl-libs-1:3.0.7-25.el9.x86_64',
          '2024-07-10T12:35:00+0000 SUBDEBUG Upgrade: bash-5.1.8-6.el9.x86_64',
          '',
        ].join('\n'),
      );
      process.env.PATH = `${join(dir, 'bin')}:${oldPath}`;
      const h = await readAdvisoryHost(
        [adv('openssl', { rhel: '1:3.0.7-28.el9' })],
        'rpm',
        join(dir, 'root'),
        join(dir, 'noproc'),
      );
      assert.deepEqual([...(h.binaries ?? [])], [['openssl', ['openssl-libs']]]);
      assert.equal(h.installed.get('openssl-libs'), '1:3.0.7-27.el9');
      assert.equal(h.installed.get('bash'), '5.1.8-6.el9');
      assert.deepEqual(
        h.history.map((e) => [e.name, e.from, e.version]),
        [['openssl-libs', '1:3.0.7-25.el9', '1:3.0.7-27.el9']],
      );
      const a = assessAdvisories(
        [adv('openssl', { rhel: '1:3.0.7-28.el9' })],
        { ...h, families: ['rhel'] },
        [],
        noIo,
      );
      assert.equal(a.advisories[0]?.verdict, 'unpatched');
      // rpm cannot be run: the database is unreadable → unknown, never clean.
      process.env.PATH = join(dir, 'none');
      const blind = await readAdvisoryHost([adv('openssl', { any: '1' })], 'rpm', '/', dir);
      assert.equal(blind.binaries, null);
      assert.equal(
        assessAdvisories([adv('openssl', { any: '1' })], blind, [], noIo).advisories[0]?.verdict,
        'unknown',
      );
    } finally {
      process.env.PATH = oldPath;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('readAdvisoryHost on a dpkg system: the kernel named by its source `linux`', () => {
  it('covers the signed images (Source: linux-signed-amd64); the running kernel from uname -v', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'afterpatch-dpkghost-'));
    try {
      mkdirSync(join(dir, 'root/var/lib/dpkg'), { recursive: true });
      const stanza = (pkg: string, source: string, version: string) =>
        `Package: ${pkg}\nStatus: install ok installed\nArchitecture: amd64\nSource: ${source}\nVersion: ${version}\n\n`;
      writeFileSync(
        join(dir, 'root/var/lib/dpkg/status'),
        stanza('linux-image-6.1.0-18-amd64', 'linux-signed-amd64 (6.1.76+1)', '6.1.76-1') +
          stanza('linux-image-6.1.0-20-amd64', 'linux-signed-amd64 (6.1.85+1)', '6.1.85-1') +
          stanza('linux-libc-dev', 'linux', '6.1.85-1'),
      );
      mkdirSync(join(dir, 'root/etc'));
      writeFileSync(join(dir, 'root/etc/os-release'), 'ID=debian\nVERSION_ID="12"\n');
      mkdirSync(join(dir, 'proc/sys/kernel'), { recursive: true });
      writeFileSync(join(dir, 'proc/sys/kernel/osrelease'), '6.1.0-18-amd64\n');
      writeFileSync(
        join(dir, 'proc/sys/kernel/version'),
        '#1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01)\n',
      );
      const advisories = [adv('linux', { debian: '6.1.85-1' })];
      const h = await readAdvisoryHost(advisories, 'dpkg', join(dir, 'root'), join(dir, 'proc'));
      assert.deepEqual(h.binaries?.get('linux'), [
        'linux-image-6.1.0-18-amd64',
        'linux-image-6.1.0-20-amd64',
        'linux-libc-dev',
      ]);
      assert.equal(h.runningKernel, '6.1.76-1');
      assert.deepEqual(h.families, ['debian']);
      const a = assessAdvisories(advisories, h, [], noIo);
      assert.equal(a.advisories[0]?.verdict, 'reboot-needed');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('assessAdvisories: one answer per replaced inode', () => {
  const T = (min: number) => Date.UTC(2025, 0, 1, 0, min);
  const h = host({
    binaries: new Map([['libx1', ['libx1']]]),
    installed: new Map([['libx1', '3']]),
    history: [
      { time: T(10), name: 'libx1', action: 'upgrade', from: '1', version: '2' },
      { time: T(20), name: 'libx1', action: 'upgrade', from: '2', version: '3' },
    ],
  });
  const procs = [1, 2, 3].map((pid) => staleProc(pid, 'libx1', '3'));

  it('shares the ctime verdict among processes, reading no start time', () => {
    const started: number[] = [];
    const io = {
      replacedAtMs: () => T(20),
      startMs: (pid: number) => {
        started.push(pid);
        return null;
      },
    };
    const a = assessAdvisories([adv('libx1', { debian: '3' })], h, procs, io);
    assert.deepEqual(started, []);
    assert.deepEqual(
      [1, 2, 3].map((pid) => a.processes.get(pid)?.[0]?.runningVersion),
      ['2', '2', '2'],
    );
    assert.equal(a.advisories[0]?.vulnerableProcesses, 3);
  });

  it('still asks each process when the ctime does not tell (no sharing of start times)', () => {
    const started: number[] = [];
    const io = {
      replacedAtMs: () => T(5),
      startMs: (pid: number) => {
        started.push(pid);
        return pid === 1 ? T(15) : T(25);
      },
    };
    const a = assessAdvisories([adv('libx1', { debian: '3' })], h, procs, io);
    assert.deepEqual(started, [1, 2, 3]);
    assert.deepEqual(
      [1, 2, 3].map((pid) => a.processes.get(pid)?.[0]?.runningVersion),
      ['2', '3', '3'],
    );
  });
});
