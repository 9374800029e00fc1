import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  attributeCgroup,
  isValidUnitName,
  rootPrefixFromInit,
  unescapeCgroupComponent,
} from '../../src/cgroup/attribute.ts';
import { parseCgroupFile } from '../../src/cgroup/parse.ts';
import type { Owner } from '../../src/scan/model.ts';

// Container ids as runtimes write them: 64 lowercase hex digits.
const ID = '3f1c0b9a7e6d5c4b3a29180f7e6d5c4b3a29180f7e6d5c4b3a29180f7e6d5c4b';
const ID2 = 'a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1';
const POD = '7d9e4b7e-2b1a-4d7e-9c1a-0e8d9f8c1234';
const POD_ = POD.replaceAll('-', '_');
const FSCK_SLICE = 'system-systemd\\x2dfsck.slice';
const FSCK_UNIT = 'systemd-fsck@dev-disk-by\\x2duuid-0b6e\\x2d4c2f.service';

/** A /proc/PID/cgroup text of a pure v1 host (no unified line). */
function v1(path: string): string {
  return `12:pids:/\n11:memory:${path}\n1:name=systemd:${path}\n`;
}

interface Case {
  name: string;
  /** Either the whole /proc/PID/cgroup text (run through parseCgroupFile) or an already picked path. */
  cgroupFile?: string;
  path?: string | null;
  rootPrefix?: string;
  expected: Owner;
}

const cases: Case[] = [
  // System units and their sub-cgroups.
  {
    name: 'system service',
    path: '/system.slice/nginx.service',
    expected: { type: 'system-unit', unit: 'nginx.service' },
  },
  {
    name: 'sub-cgroup of a service',
    path: '/system.slice/foobar.service/sdfdsaf',
    expected: { type: 'system-unit', unit: 'foobar.service' },
  },
  {
    name: 'deep sub-cgroups of a service',
    path: '/system.slice/odd.service/a/b/c.service',
    expected: { type: 'system-unit', unit: 'odd.service' },
  },
  {
    name: 'nested slice',
    path: '/system.slice/system-waldo.slice/waldo.service',
    expected: { type: 'system-unit', unit: 'waldo.service' },
  },
  {
    name: 'escaped unit in a nested slice with a sub-cgroup',
    path: '/system.slice/system-waldo.slice/_cpu.service/x',
    expected: { type: 'system-unit', unit: 'cpu.service' },
  },
  {
    name: 'escaped cpuset-prefixed unit',
    path: '/system.slice/_cpuset.mount',
    expected: { type: 'system-unit', unit: 'cpuset.mount' },
  },
  {
    name: 'doubly underscored name loses exactly one underscore',
    path: '/system.slice/__weird.service',
    expected: { type: 'system-unit', unit: '_weird.service' },
  },
  {
    name: 'unit name escapes are kept verbatim',
    path: `/system.slice/${FSCK_SLICE}/${FSCK_UNIT}`,
    expected: { type: 'system-unit', unit: FSCK_UNIT },
  },
  {
    name: 'instance unit with an escaped dash instance',
    path: '/system.slice/system-postfix.slice/postfix@-.service',
    expected: { type: 'system-unit', unit: 'postfix@-.service' },
  },
  {
    name: 'getty instance',
    path: '/system.slice/system-getty.slice/getty@tty1.service',
    expected: { type: 'system-unit', unit: 'getty@tty1.service' },
  },
  {
    name: 'unit directly at the root',
    path: '/foo.service',
    expected: { type: 'system-unit', unit: 'foo.service' },
  },
  {
    name: 'unit in a custom top-level slice',
    path: '/workload.slice/workload-batch.slice/job.service',
    expected: { type: 'system-unit', unit: 'job.service' },
  },
  {
    name: 'socket unit',
    path: '/system.slice/sshd.socket',
    expected: { type: 'system-unit', unit: 'sshd.socket' },
  },
  {
    name: 'mount unit helper',
    path: '/system.slice/mnt-data.mount',
    expected: { type: 'system-unit', unit: 'mnt-data.mount' },
  },
  {
    name: 'swap unit',
    path: '/system.slice/dev-zram0.swap',
    expected: { type: 'system-unit', unit: 'dev-zram0.swap' },
  },
  {
    name: 'docker.service itself is a system unit, not a container',
    path: '/system.slice/docker.service',
    expected: { type: 'system-unit', unit: 'docker.service' },
  },
  {
    name: 'containerd.service itself is a system unit, not a container',
    path: '/system.slice/containerd.service',
    expected: { type: 'system-unit', unit: 'containerd.service' },
  },
  {
    name: 'containerd shim sub-cgroup stays with containerd.service',
    path: '/system.slice/containerd.service/shim',
    expected: { type: 'system-unit', unit: 'containerd.service' },
  },
  {
    name: 'lxc template service is a system unit',
    path: '/system.slice/system-lxc.slice/lxc@web.service',
    expected: { type: 'system-unit', unit: 'lxc@web.service' },
  },
  {
    name: 'dotted unit name',
    path: '/system.slice/org.cups.cupsd.service',
    expected: { type: 'system-unit', unit: 'org.cups.cupsd.service' },
  },

  // Scopes outside sessions.
  {
    name: 'transient scope',
    path: '/system.slice/run-r3a1b2c.scope',
    expected: { type: 'system-unit', unit: 'run-r3a1b2c.scope' },
  },
  {
    name: 'scope with a sub-cgroup',
    path: '/system.slice/some.scope/child',
    expected: { type: 'system-unit', unit: 'some.scope' },
  },
  {
    name: 'init.scope below a slice is just a scope',
    path: '/system.slice/init.scope',
    expected: { type: 'system-unit', unit: 'init.scope' },
  },

  // PID 1.
  { name: 'PID 1', path: '/init.scope', expected: { type: 'init' } },
  { name: 'PID 1 v2 file', cgroupFile: '0::/init.scope\n', expected: { type: 'init' } },

  // Sessions.
  {
    name: 'login session',
    path: '/user.slice/user-1000.slice/session-2.scope',
    expected: { type: 'session', uid: 1000, session: '2', unit: 'session-2.scope' },
  },
  {
    name: 'session with an alphanumeric id and a sub-cgroup',
    path: '/user.slice/user-0.slice/session-c1.scope/inner',
    expected: { type: 'session', uid: 0, session: 'c1', unit: 'session-c1.scope' },
  },
  {
    name: 'session outside a user slice has no uid',
    path: '/system.slice/session-7.scope',
    expected: { type: 'session', uid: null, session: '7', unit: 'session-7.scope' },
  },
  {
    name: 'session scope with an invalid id is an ordinary scope',
    path: '/user.slice/user-1000.slice/session-a_b.scope',
    expected: { type: 'system-unit', unit: 'session-a_b.scope' },
  },
  {
    name: 'session under a user slice with a non-numeric uid',
    path: '/user.slice/user-bob.slice/session-3.scope',
    expected: { type: 'session', uid: null, session: '3', unit: 'session-3.scope' },
  },

  // User managers and user units.
  {
    name: 'user unit',
    path: '/user.slice/user-1000.slice/user@1000.service/app.slice/y.service',
    expected: { type: 'user-unit', uid: 1000, unit: 'y.service', manager: 'user@1000.service' },
  },
  {
    name: 'user unit in session.slice',
    path: '/user.slice/user-1000.slice/user@1000.service/session.slice/pipewire.service',
    expected: {
      type: 'user-unit',
      uid: 1000,
      unit: 'pipewire.service',
      manager: 'user@1000.service',
    },
  },
  {
    name: 'user unit with a sub-cgroup',
    path: '/user.slice/user-1000.slice/user@1000.service/app.slice/y.service/worker',
    expected: { type: 'user-unit', uid: 1000, unit: 'y.service', manager: 'user@1000.service' },
  },
  {
    name: 'user unit in nested user slices',
    path: '/user.slice/user-1000.slice/user@1000.service/app.slice/app-gnome.slice/app-gnome-firefox-4242.scope',
    expected: {
      type: 'user-unit',
      uid: 1000,
      unit: 'app-gnome-firefox-4242.scope',
      manager: 'user@1000.service',
    },
  },
  {
    name: 'user unit directly below the manager',
    path: '/user.slice/user-1001.slice/user@1001.service/dbus.service',
    expected: { type: 'user-unit', uid: 1001, unit: 'dbus.service', manager: 'user@1001.service' },
  },
  {
    name: 'escaped user unit',
    path: '/user.slice/user-1000.slice/user@1000.service/app.slice/_cpu.service',
    expected: { type: 'user-unit', uid: 1000, unit: 'cpu.service', manager: 'user@1000.service' },
  },
  {
    name: 'user manager itself (init.scope)',
    path: '/user.slice/user-1000.slice/user@1000.service/init.scope',
    expected: { type: 'user-manager', uid: 1000, unit: 'user@1000.service' },
  },
  {
    name: 'user manager without init.scope (older systemd)',
    path: '/user.slice/user-1000.slice/user@1000.service',
    expected: { type: 'user-manager', uid: 1000, unit: 'user@1000.service' },
  },
  {
    name: 'only slices below the user manager',
    path: '/user.slice/user-1000.slice/user@1000.service/app.slice',
    expected: { type: 'user-manager', uid: 1000, unit: 'user@1000.service' },
  },
  {
    name: 'root user manager',
    path: '/user.slice/user-0.slice/user@0.service/init.scope',
    expected: { type: 'user-manager', uid: 0, unit: 'user@0.service' },
  },
  {
    name: 'invalid component where a user unit is expected',
    path: '/user.slice/user-1000.slice/user@1000.service/app.slice/not a unit',
    expected: {
      type: 'unmanaged',
      cgroup: '/user.slice/user-1000.slice/user@1000.service/app.slice/not a unit',
    },
  },
  {
    name: 'user@ with a non-numeric instance is a plain system unit',
    path: '/user.slice/user@bob.service/app.slice/y.service',
    expected: { type: 'system-unit', unit: 'user@bob.service' },
  },
  {
    name: 'user@ with the invalid uid 4294967295 is a plain system unit',
    path: '/user.slice/user@4294967295.service',
    expected: { type: 'system-unit', unit: 'user@4294967295.service' },
  },
  {
    name: 'user-runtime-dir instance is a system unit',
    path: '/system.slice/system-user\\x2druntime\\x2ddir.slice/user-runtime-dir@1000.service',
    expected: { type: 'system-unit', unit: 'user-runtime-dir@1000.service' },
  },

  // Root prefix (a container without its own cgroup namespace).
  {
    name: 'root prefix: PID 1 of the container',
    path: `/docker/${ID}/init.scope`,
    rootPrefix: `/docker/${ID}`,
    expected: { type: 'init' },
  },
  {
    name: 'root prefix: service inside the container',
    path: `/docker/${ID}/system.slice/nginx.service`,
    rootPrefix: `/docker/${ID}`,
    expected: { type: 'system-unit', unit: 'nginx.service' },
  },
  {
    name: 'root prefix: short name',
    path: '/docker/abc/system.slice/cron.service',
    rootPrefix: '/docker/abc',
    expected: { type: 'system-unit', unit: 'cron.service' },
  },
  {
    name: 'root prefix only matches whole components',
    path: '/docker/abcdef/system.slice/cron.service',
    rootPrefix: '/docker/abc',
    expected: { type: 'unmanaged', cgroup: '/docker/abcdef/system.slice/cron.service' },
  },
  {
    name: 'root prefix: the container root itself is the root, not a container',
    path: `/docker/${ID}`,
    rootPrefix: `/docker/${ID}`,
    expected: { type: 'unmanaged', cgroup: `/docker/${ID}` },
  },
  {
    name: 'root prefix: path outside it is left as is (another container)',
    path: `/docker/${ID2}`,
    rootPrefix: `/docker/${ID}`,
    expected: { type: 'container', runtime: 'docker', id: ID2, cgroup: `/docker/${ID2}` },
  },
  {
    name: 'root prefix with a trailing slash',
    path: '/lxc.payload.web/system.slice/ssh.service',
    rootPrefix: '/lxc.payload.web/',
    expected: { type: 'system-unit', unit: 'ssh.service' },
  },
  {
    name: 'without the root prefix the same path is the container',
    path: '/lxc.payload.web/system.slice/ssh.service',
    rootPrefix: '',
    expected: {
      type: 'container',
      runtime: 'lxc',
      id: 'web',
      cgroup: '/lxc.payload.web/system.slice/ssh.service',
    },
  },

  // Containers.
  {
    name: 'docker (systemd driver)',
    path: `/system.slice/docker-${ID}.scope`,
    expected: {
      type: 'container',
      runtime: 'docker',
      id: ID,
      cgroup: `/system.slice/docker-${ID}.scope`,
    },
  },
  {
    name: 'docker (cgroupfs driver)',
    path: `/docker/${ID}`,
    expected: { type: 'container', runtime: 'docker', id: ID, cgroup: `/docker/${ID}` },
  },
  {
    name: 'systemd inside a docker container seen from the host',
    path: `/system.slice/docker-${ID}.scope/system.slice/nginx.service`,
    expected: {
      type: 'container',
      runtime: 'docker',
      id: ID,
      cgroup: `/system.slice/docker-${ID}.scope/system.slice/nginx.service`,
    },
  },
  {
    name: 'podman',
    path: `/machine.slice/libpod-${ID}.scope/container`,
    expected: {
      type: 'container',
      runtime: 'podman',
      id: ID,
      cgroup: `/machine.slice/libpod-${ID}.scope/container`,
    },
  },
  {
    name: 'podman conmon',
    path: `/machine.slice/libpod-conmon-${ID}.scope`,
    expected: {
      type: 'container',
      runtime: 'podman',
      id: ID,
      cgroup: `/machine.slice/libpod-conmon-${ID}.scope`,
    },
  },
  {
    name: 'rootless podman below a user manager',
    path: `/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-${ID}.scope`,
    expected: {
      type: 'container',
      runtime: 'podman',
      id: ID,
      cgroup: `/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-${ID}.scope`,
    },
  },
  {
    name: 'kubernetes pod container (systemd driver, containerd)',
    path: `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${POD_}.slice/cri-containerd-${ID}.scope`,
    expected: {
      type: 'container',
      runtime: 'kubernetes',
      id: `${POD}/${ID}`,
      cgroup: `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${POD_}.slice/cri-containerd-${ID}.scope`,
    },
  },
  {
    name: 'kubernetes guaranteed pod (cgroupfs driver)',
    path: `/kubepods/pod${POD}/${ID}`,
    expected: {
      type: 'container',
      runtime: 'kubernetes',
      id: `${POD}/${ID}`,
      cgroup: `/kubepods/pod${POD}/${ID}`,
    },
  },
  {
    name: 'cri-containerd outside kubepods',
    path: `/system.slice/cri-containerd-${ID}.scope`,
    expected: {
      type: 'container',
      runtime: 'containerd',
      id: ID,
      cgroup: `/system.slice/cri-containerd-${ID}.scope`,
    },
  },
  {
    name: 'cri-o',
    path: `/machine.slice/crio-${ID}.scope`,
    expected: {
      type: 'container',
      runtime: 'cri-o',
      id: ID,
      cgroup: `/machine.slice/crio-${ID}.scope`,
    },
  },
  {
    name: 'lxc payload',
    path: '/lxc.payload.web',
    expected: { type: 'container', runtime: 'lxc', id: 'web', cgroup: '/lxc.payload.web' },
  },
  {
    name: 'old lxc layout',
    path: '/lxc/db/init.scope',
    expected: { type: 'container', runtime: 'lxc', id: 'db', cgroup: '/lxc/db/init.scope' },
  },
  {
    name: 'machined machine scope',
    path: '/machine.slice/machine-foo.scope',
    expected: {
      type: 'container',
      runtime: 'machine',
      id: 'foo',
      cgroup: '/machine.slice/machine-foo.scope',
    },
  },
  {
    name: 'nspawn service payload',
    path: '/machine.slice/systemd-nspawn@foo.service/payload/system.slice/nginx.service',
    expected: {
      type: 'container',
      runtime: 'nspawn',
      id: 'foo',
      cgroup: '/machine.slice/systemd-nspawn@foo.service/payload/system.slice/nginx.service',
    },
  },
  {
    name: 'containerd namespace without systemd',
    path: `/k8s.io/${ID}`,
    expected: {
      type: 'container',
      runtime: 'containerd',
      id: `k8s.io/${ID}`,
      cgroup: `/k8s.io/${ID}`,
    },
  },
  {
    name: 'container recognised from a whole cgroup file',
    cgroupFile: `0::/system.slice/docker-${ID}.scope\n`,
    expected: {
      type: 'container',
      runtime: 'docker',
      id: ID,
      cgroup: `/system.slice/docker-${ID}.scope`,
    },
  },

  // No unit.
  { name: 'null path', path: null, expected: { type: 'unmanaged', cgroup: null } },
  { name: 'empty path', path: '', expected: { type: 'unmanaged', cgroup: null } },
  { name: 'root cgroup', path: '/', expected: { type: 'unmanaged', cgroup: '/' } },
  {
    name: 'kernel thread (v2)',
    cgroupFile: '0::/\n',
    expected: { type: 'unmanaged', cgroup: '/' },
  },
  {
    name: 'kernel thread on a hybrid host like this one',
    cgroupFile: '9:name=systemd:/\n8:pids:/\n4:memory:/process_api/b185a63e\n0::/\n',
    expected: { type: 'unmanaged', cgroup: '/' },
  },
  {
    name: 'outside the cgroup namespace',
    path: '/../../system.slice/nginx.service',
    expected: { type: 'unmanaged', cgroup: '/../../system.slice/nginx.service' },
  },
  {
    name: 'outside the cgroup namespace, even when it looks like a container',
    path: `/../system.slice/docker-${ID}.scope`,
    expected: { type: 'unmanaged', cgroup: `/../system.slice/docker-${ID}.scope` },
  },
  {
    name: 'outside the cgroup namespace, even with a root prefix',
    path: '/../init.scope',
    rootPrefix: '/docker/abc',
    expected: { type: 'unmanaged', cgroup: '/../init.scope' },
  },
  {
    name: 'only slices: no unit',
    path: '/system.slice',
    expected: { type: 'unmanaged', cgroup: '/system.slice' },
  },
  {
    name: 'unknown unit type where a unit is expected',
    path: '/system.slice/foo.daemon',
    expected: { type: 'unmanaged', cgroup: '/system.slice/foo.daemon' },
  },
  {
    name: 'forbidden character in the unit name',
    path: '/system.slice/foo!.service',
    expected: { type: 'unmanaged', cgroup: '/system.slice/foo!.service' },
  },
  {
    name: 'template (empty instance) where a unit is expected',
    path: '/system.slice/getty@.service',
    expected: { type: 'unmanaged', cgroup: '/system.slice/getty@.service' },
  },
  {
    name: 'slice with an instance cannot be skipped nor be the unit',
    path: '/system.slice/foo@bar.slice/x.service',
    expected: { type: 'unmanaged', cgroup: '/system.slice/foo@bar.slice/x.service' },
  },
  {
    name: 'unit name longer than 255 characters',
    path: `/system.slice/${'a'.repeat(248)}.service`,
    expected: { type: 'unmanaged', cgroup: `/system.slice/${'a'.repeat(248)}.service` },
  },
  {
    name: 'unit name of exactly 255 characters',
    path: `/system.slice/${'a'.repeat(247)}.service`,
    expected: { type: 'system-unit', unit: `${'a'.repeat(247)}.service` },
  },
  {
    name: 'plain directory on a host without systemd',
    path: '/process_api/b185a63e6c069a7352e2adc31cffd8b1',
    expected: { type: 'unmanaged', cgroup: '/process_api/b185a63e6c069a7352e2adc31cffd8b1' },
  },

  // Through parseCgroupFile: v1, v2, hybrid, deleted cgroups, broken files.
  {
    name: 'cgroup v1 with name=systemd only',
    cgroupFile: v1('/system.slice/cron.service'),
    expected: { type: 'system-unit', unit: 'cron.service' },
  },
  {
    name: 'hybrid: v1 line says / and 0:: holds the unit',
    cgroupFile: '5:memory:/\n1:name=systemd:/\n0::/system.slice/ssh.service\n',
    expected: { type: 'system-unit', unit: 'ssh.service' },
  },
  {
    name: 'hybrid: 0:: says / and name=systemd tracks the unit',
    cgroupFile: '1:name=systemd:/system.slice/ssh.service\n0::/\n',
    expected: { type: 'system-unit', unit: 'ssh.service' },
  },
  {
    name: 'deleted cgroup',
    cgroupFile: '0::/system.slice/gone.service (deleted)\n',
    expected: { type: 'system-unit', unit: 'gone.service' },
  },
  { name: 'empty file (zombie)', cgroupFile: '', expected: { type: 'unmanaged', cgroup: null } },
  {
    name: 'malformed lines only',
    cgroupFile: 'garbage\n0:/system.slice/x.service\n::\n',
    expected: { type: 'unmanaged', cgroup: null },
  },
  {
    name: 'malformed lines around a good one',
    cgroupFile: 'garbage\nx::/nope.service\n0::/system.slice/ok.service\n',
    expected: { type: 'system-unit', unit: 'ok.service' },
  },
];

describe('attributeCgroup (table)', () => {
  for (const c of cases) {
    it(c.name, () => {
      const path = c.cgroupFile === undefined ? (c.path ?? null) : parseCgroupFile(c.cgroupFile);
      assert.deepEqual(attributeCgroup(path, c.rootPrefix ?? ''), c.expected);
    });
  }
});

describe('rootPrefixFromInit', () => {
  const table: [string | null, string][] = [
    [null, ''],
    ['/', ''],
    ['/init.scope', ''],
    ['/docker/abc/init.scope', '/docker/abc'],
    [`/system.slice/docker-${ID}.scope/init.scope`, `/system.slice/docker-${ID}.scope`],
    ['/system.slice/notinit.scope', ''],
    ['/lxc.payload.web/init.scope/child', ''],
  ];
  for (const [input, expected] of table) {
    it(`${String(input)} → "${expected}"`, () => assert.equal(rootPrefixFromInit(input), expected));
  }
});

describe('unescapeCgroupComponent', () => {
  const table: [string, string][] = [
    ['_cpu.service', 'cpu.service'],
    ['_cgroup.service', 'cgroup.service'],
    ['_.hidden.service', '.hidden.service'],
    ['__x.service', '_x.service'],
    ['nginx.service', 'nginx.service'],
    ['system-systemd\\x2dfsck.slice', 'system-systemd\\x2dfsck.slice'],
    ['', ''],
  ];
  for (const [input, expected] of table) {
    it(`"${input}" → "${expected}"`, () => assert.equal(unescapeCgroupComponent(input), expected));
  }
});

describe('isValidUnitName', () => {
  const table: [string, boolean][] = [
    ['nginx.service', true],
    ['getty@tty1.service', true],
    ['a@b@c.service', true],
    ['system-systemd\\x2dfsck.slice', true],
    ['dbus-:1.2-org.example.scope', true],
    ['getty@.service', false],
    ['@x.service', false],
    ['.service', false],
    ['nginx', false],
    ['nginx.exe', false],
    ['ng inx.service', false],
    ['', false],
  ];
  for (const [input, expected] of table) {
    it(`"${input}" → ${expected}`, () => assert.equal(isValidUnitName(input), expected));
  }
});
