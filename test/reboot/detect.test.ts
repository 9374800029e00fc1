import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { rebootExitCode } from '../../src/exit.ts';
import {
  assessReboot,
  DEFAULT_REBOOT_POLICY,
  DISTRIBUTION_REBOOT_PACKAGES,
  detectReboot,
  type RebootInput,
  type RebootResult,
  type StaleCode,
} from '../../src/reboot/detect.ts';
import { gatherRebootInput, parsePackageList } from '../../src/reboot/gather.ts';

const DEB_RELEASE = '6.1.0-26-amd64';
const DEB_BUILD = '#1 SMP PREEMPT_DYNAMIC Debian 6.1.112-1 (2024-09-30)';
const DEB_REBUILD = '#1 SMP PREEMPT_DYNAMIC Debian 6.1.115-1 (2024-11-01)';

function bzImage(versionString: string): Buffer {
  const buf = Buffer.alloc(0x1000);
  buf.write('HdrS', 0x202, 'latin1');
  buf.writeUInt16LE(0x020f, 0x206);
  buf.writeUInt16LE(0x400, 0x20e);
  buf.write(`${versionString}\0`, 0x600, 'latin1');
  return buf;
}

interface Fixture {
  /** Files under the root, by path relative to it; a Buffer or text. */
  root?: Record<string, string | Buffer>;
  /** Directories under the root. */
  dirs?: string[];
  /** Files under the fake /proc. */
  proc?: Record<string, string>;
}

const made: string[] = [];
after(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

function write(base: string, files: Record<string, string | Buffer>): void {
  for (const [rel, content] of Object.entries(files)) {
    const path = join(base, rel);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, content);
  }
}

/** A Debian host running 6.1.0-26-amd64, with its image, modules, dpkg database and /proc. */
function debianHost(extra: Fixture = {}): { root: string; procRoot: string } {
  const root = mkdtempSync(join(tmpdir(), 'afterpatch-reboot-root-'));
  const procRoot = mkdtempSync(join(tmpdir(), 'afterpatch-reboot-proc-'));
  made.push(root, procRoot);
  write(root, {
    'var/lib/dpkg/status': '',
    [`boot/vmlinuz-${DEB_RELEASE}`]: bzImage(
      `${DEB_RELEASE} (debian-kernel@lists.debian.org) ${DEB_BUILD}`,
    ),
    [`boot/config-${DEB_RELEASE}`]: '',
    ...extra.root,
  });
  for (const dir of [`lib/modules/${DEB_RELEASE}/kernel`, ...(extra.dirs ?? [])]) {
    mkdirSync(join(root, dir), { recursive: true });
  }
  write(procRoot, {
    'sys/kernel/osrelease': `${DEB_RELEASE}\n`,
    'sys/kernel/version': `${DEB_BUILD}\n`,
    '1/environ': 'HOME=/\0TERM=linux\0',
    '1/cgroup': '0::/init.scope\n',
    ...extra.proc,
  });
  return { root, procRoot };
}

function assess(where: { root: string; procRoot: string }, stale: StaleCode[] = []): RebootResult {
  return assessReboot(gatherRebootInput({ ...where, stale }));
}

describe('gatherRebootInput + assessReboot on fixture roots', () => {
  it('finds nothing on an up-to-date host', () => {
    const r = assess(debianHost());
    const { microcode, ...rest } = r;
    assert.deepEqual(rest, {
      required: false,
      applicable: true,
      reasons: [],
      notes: [],
      unknown: [],
      livepatches: [],
      waived: [],
    });
    // A fixture /proc without cpuinfo: nothing to compare, and no noise about it.
    assert.equal(microcode?.status, 'not-applicable');
  });

  it('reads uname -r, uname -v, kernels, the image header and the packaging', () => {
    const where = debianHost();
    const input = gatherRebootInput(where);
    assert.equal(input.packaging, 'deb');
    assert.deepEqual(input.running, { release: DEB_RELEASE, version: DEB_BUILD });
    assert.equal(
      input.runningImageVersion,
      `${DEB_RELEASE} (debian-kernel@lists.debian.org) ${DEB_BUILD}`,
    );
    assert.deepEqual(
      input.kernels.map((k) => k.release),
      [DEB_RELEASE],
    );
    assert.equal(input.container, null);
  });

  it('kernel-newer: a newer release of the same flavour is installed', () => {
    const r = assess(
      debianHost({
        root: { 'boot/vmlinuz-6.1.0-28-amd64': bzImage('6.1.0-28-amd64 (x@y) #1 SMP') },
        dirs: ['lib/modules/6.1.0-28-amd64'],
      }),
    );
    assert.equal(r.required, true);
    assert.deepEqual(r.reasons, [
      { type: 'kernel-newer', running: DEB_RELEASE, newest: '6.1.0-28-amd64' },
    ]);
  });

  it('kernel-newer compares numerically (26 > 9) and ignores older kernels', () => {
    const r = assess(
      debianHost({ root: { 'boot/vmlinuz-6.1.0-9-amd64': bzImage('6.1.0-9-amd64 (x@y) #1') } }),
    );
    assert.deepEqual(r.reasons, []);
  });

  it('another flavour (rt) is not a newer kernel for this one', () => {
    const r = assess(
      debianHost({ root: { 'boot/vmlinuz-6.1.0-28-rt-amd64': bzImage('6.1.0-28-rt-amd64 #1') } }),
    );
    assert.deepEqual(r.reasons, []);
  });

  it('a modules directory without an image is a leftover, not a kernel', () => {
    const r = assess(debianHost({ dirs: ['lib/modules/6.1.0-30-amd64/updates/dkms'] }));
    assert.deepEqual(r.reasons, []);
    assert.equal(r.notes.length, 1);
    assert.match(r.notes[0] ?? '', /6\.1\.0-30-amd64: modules without a kernel image/);
  });

  it('kernel-rebuilt: same release, different build in the image header', () => {
    const r = assess(
      debianHost({
        root: {
          [`boot/vmlinuz-${DEB_RELEASE}`]: bzImage(
            `${DEB_RELEASE} (debian-kernel@lists.debian.org) ${DEB_REBUILD}`,
          ),
        },
      }),
    );
    assert.deepEqual(r.reasons, [
      { type: 'kernel-rebuilt', release: DEB_RELEASE, running: DEB_BUILD, installed: DEB_REBUILD },
    ]);
  });

  it('an image without a readable header (not x86) only adds a note', () => {
    const r = assess(debianHost({ root: { [`boot/vmlinuz-${DEB_RELEASE}`]: 'MZ arm64 zboot' } }));
    assert.deepEqual(r.reasons, []);
    assert.match(r.notes.join('\n'), /no version string read from .*rebuilt kernels not checked/);
  });

  it('sentinel: /run/reboot-required with its package list', () => {
    const r = assess(
      debianHost({
        root: {
          'run/reboot-required': '*** System restart required ***\n',
          'run/reboot-required.pkgs': 'libc6\n\nlinux-image-6.1.0-28-amd64\nlibc6\n  udev  \n',
        },
      }),
    );
    assert.equal(r.required, true);
    assert.equal(r.reasons.length, 1);
    const reason = r.reasons[0];
    assert.equal(reason?.type, 'sentinel');
    assert.ok(reason?.type === 'sentinel');
    assert.match(reason.file, /\/run\/reboot-required$/);
    assert.deepEqual(reason.packages, ['libc6', 'linux-image-6.1.0-28-amd64', 'udev']);
  });

  it('sentinel: reboot-required without .pkgs, and SUSE’s reboot-needed', () => {
    const r = assess(debianHost({ root: { 'run/reboot-required': '', 'run/reboot-needed': '' } }));
    assert.deepEqual(
      r.reasons.map((x) => (x.type === 'sentinel' ? [basename(x.file), x.packages] : x.type)),
      [
        ['reboot-required', []],
        ['reboot-needed', []],
      ],
    );
  });

  it('a .pkgs file alone (no reboot-required) asks for nothing', () => {
    const r = assess(debianHost({ root: { 'run/reboot-required.pkgs': 'libc6\n' } }));
    assert.deepEqual(r.reasons, []);
  });

  it('stale-package: stale code in the message bus', () => {
    const r = assess(debianHost(), [
      {
        package: 'libc6',
        path: '/usr/lib/x86_64-linux-gnu/libc.so.6',
        pid: 612,
        pidIsInit: false,
        unit: 'dbus.service',
      },
      {
        package: 'libc6',
        path: '/usr/lib/x86_64-linux-gnu/libc.so.6',
        pid: 900,
        pidIsInit: false,
        unit: 'nginx.service',
      },
    ]);
    assert.deepEqual(r.reasons, [
      {
        type: 'stale-package',
        package: 'libc6',
        files: ['/usr/lib/x86_64-linux-gnu/libc.so.6'],
        pids: [612],
      },
    ]);
  });

  for (const [name, evidence, expected] of [
    [
      '/run/systemd/container',
      { root: { 'run/systemd/container': 'docker\n' } },
      /\/run\/systemd\/container: docker/,
    ],
    ['/.dockerenv', { root: { '.dockerenv': '' } }, /\/\.dockerenv/],
    ['/run/.containerenv', { root: { 'run/.containerenv': 'engine="podman"\n' } }, /containerenv/],
    ['PID 1 environment', { proc: { '1/environ': 'PATH=/bin\0container=lxc\0' } }, /container=lxc/],
    [
      'PID 1 cgroup',
      { proc: { '1/cgroup': `0::/system.slice/docker-${'ab'.repeat(32)}.scope\n` } },
      /docker container/,
    ],
    ['OpenVZ', { proc: { 'vz/version': '' } }, /OpenVZ/],
  ] as const) {
    it(`container (${name}): kernel checks not applicable, sentinels still count`, () => {
      const fixture: Fixture = {
        root: {
          'boot/vmlinuz-6.1.0-28-amd64': bzImage('6.1.0-28-amd64 #1'),
          'run/reboot-required': '',
          ...('root' in evidence ? evidence.root : {}),
        },
        proc: 'proc' in evidence ? evidence.proc : {},
      };
      const r = assess(debianHost(fixture));
      assert.equal(r.applicable, false);
      assert.equal(r.required, true);
      assert.deepEqual(
        r.reasons.map((x) => x.type),
        ['sentinel'],
      );
      assert.equal(r.notes.length, 1);
      assert.match(r.notes[0] ?? '', expected);
      assert.match(r.notes[0] ?? '', /kernel checks do not apply/);
    });
  }

  it('a container without sentinels needs no reboot, even with a newer kernel image around', () => {
    const r = assess(
      debianHost({
        root: { '.dockerenv': '', 'boot/vmlinuz-6.1.0-28-amd64': bzImage('6.1.0-28-amd64 #1') },
      }),
    );
    assert.deepEqual([r.required, r.applicable, r.reasons], [false, false, []]);
  });

  it('combination: newer kernel, rebuilt image, sentinel and stale bus code, in that order', () => {
    const r = assess(
      debianHost({
        root: {
          [`boot/vmlinuz-${DEB_RELEASE}`]: bzImage(`${DEB_RELEASE} (b@h) ${DEB_REBUILD}`),
          'boot/vmlinuz-6.1.0-28-amd64': bzImage('6.1.0-28-amd64 (b@h) #1 SMP'),
          'run/reboot-required': '',
          'run/reboot-required.pkgs': 'dbus-daemon\n',
        },
      }),
      [{ package: 'dbus-daemon', path: '/usr/bin/dbus-daemon', pid: 612, pidIsInit: false }],
    );
    assert.deepEqual(
      r.reasons.map((x) => x.type),
      ['kernel-newer', 'kernel-rebuilt', 'sentinel', 'stale-package'],
    );
    assert.equal(r.required, true);
    assert.equal(r.applicable, true);
  });

  it('an RPM host with images inside /lib/modules compares rpm-style', () => {
    const root = mkdtempSync(join(tmpdir(), 'afterpatch-reboot-rpm-'));
    const procRoot = mkdtempSync(join(tmpdir(), 'afterpatch-reboot-rpmproc-'));
    made.push(root, procRoot);
    const old = '5.14.0-427.13.1.el9_4.x86_64';
    const cur = '5.14.0-503.11.1.el9_5.x86_64';
    mkdirSync(join(root, 'var/lib/rpm'), { recursive: true });
    write(root, {
      [`lib/modules/${old}/vmlinuz`]: bzImage(`${old} (mockbuild@x) #1 SMP PREEMPT_DYNAMIC`),
      [`lib/modules/${cur}/vmlinuz`]: bzImage(`${cur} (mockbuild@x) #1 SMP PREEMPT_DYNAMIC`),
      [`lib/modules/${cur}+debug/vmlinuz`]: bzImage(`${cur}+debug #1`),
    });
    write(procRoot, {
      'sys/kernel/osrelease': `${old}\n`,
      'sys/kernel/version': '#1 SMP PREEMPT_DYNAMIC\n',
    });
    const input = gatherRebootInput({ root, procRoot });
    assert.equal(input.packaging, 'rpm');
    assert.deepEqual(assessReboot(input).reasons, [
      { type: 'kernel-newer', running: old, newest: cur },
    ]);
  });

  it('an unreadable /proc leaves the kernel unknown: the verdict is unknown, not "no reboot"', () => {
    const where = debianHost();
    const r = assess({ root: where.root, procRoot: join(where.procRoot, 'missing') });
    assert.deepEqual(r.reasons, []);
    assert.equal(r.required, false);
    assert.match((r.unknown ?? []).join('\n'), /running kernel release is unknown/);
    assert.equal(rebootExitCode(r), 3);
  });

  it('runs against this machine without throwing', () => {
    const r = assessReboot(gatherRebootInput());
    assert.equal(typeof r.required, 'boolean');
    assert.ok(Array.isArray(r.notes));
  });
});

describe('detectReboot (pure)', () => {
  const base: RebootInput = {
    packaging: 'deb',
    running: { release: DEB_RELEASE, version: DEB_BUILD },
    kernels: [{ release: DEB_RELEASE, image: `/boot/vmlinuz-${DEB_RELEASE}`, modules: null }],
    runningImageVersion: `${DEB_RELEASE} (b@h) ${DEB_BUILD}`,
    sentinels: [],
    container: null,
    stale: [],
  };
  const libc = '/usr/lib/x86_64-linux-gnu/libc.so.6';
  const stale = (s: Partial<StaleCode> & { pid: number }): StaleCode => ({
    package: 'libc6',
    path: libc,
    pidIsInit: false,
    ...s,
  });

  it('none', () => {
    assert.deepEqual(detectReboot(base), []);
  });

  it('stale libc in ordinary services: a restart fixes it, no reboot', () => {
    assert.deepEqual(
      detectReboot({
        ...base,
        stale: [stale({ pid: 900, unit: 'nginx.service' }), stale({ pid: 901 })],
      }),
      [],
    );
  });

  it('stale systemd code in PID 1: daemon-reexec, no reboot (a note)', () => {
    const r = assessReboot({
      ...base,
      stale: [
        stale({ pid: 1, pidIsInit: true, package: 'systemd', path: '/usr/lib/systemd/systemd' }),
        stale({ pid: 1, pidIsInit: true }),
      ],
    });
    assert.deepEqual(r.reasons, []);
    assert.match(r.notes.join('\n'), /daemon-reexec/);
  });

  it('stale systemd or udev code in other daemons: restartable, no reboot by default', () => {
    assert.deepEqual(
      detectReboot({
        ...base,
        stale: [
          stale({
            pid: 300,
            package: 'systemd',
            path: '/usr/lib/systemd/libsystemd-shared-252.so',
            unit: 'systemd-journald.service',
          }),
          stale({
            pid: 301,
            package: 'udev',
            path: '/usr/lib/systemd/systemd-udevd',
            unit: 'systemd-udevd.service',
          }),
          stale({
            pid: 302,
            package: 'libssl3',
            path: '/usr/lib/x86_64-linux-gnu/libssl.so.3',
            unit: 'sshd.service',
          }),
        ],
      }),
      [],
    );
  });

  it('the bus by unit: every stale package in it needs a reboot (dbus-broker too)', () => {
    assert.deepEqual(
      detectReboot({
        ...base,
        stale: [
          stale({ pid: 700, unit: 'dbus-broker.service' }),
          stale({
            pid: 701,
            unit: 'dbus-broker.service',
            package: 'expat',
            path: '/usr/lib64/libexpat.so.1',
          }),
          stale({ pid: 701, unit: 'dbus-broker.service' }),
          stale({ pid: 702, unit: 'dbus-broker.service', package: null, path: '/opt/x.so' }),
        ],
      }),
      [
        { type: 'stale-package', package: '(no package)', files: ['/opt/x.so'], pids: [702] },
        {
          type: 'stale-package',
          package: 'expat',
          files: ['/usr/lib64/libexpat.so.1'],
          pids: [701],
        },
        { type: 'stale-package', package: 'libc6', files: [libc], pids: [700, 701] },
      ],
    );
  });

  it('the bus by its binary when the unit is unknown; its other stale files come along', () => {
    assert.deepEqual(
      detectReboot({
        ...base,
        stale: [
          stale({ pid: 612, package: 'dbus-daemon', path: '/usr/bin/dbus-daemon' }),
          stale({ pid: 612 }),
          stale({ pid: 900 }),
        ],
      }),
      [
        {
          type: 'stale-package',
          package: 'dbus-daemon',
          files: ['/usr/bin/dbus-daemon'],
          pids: [612],
        },
        { type: 'stale-package', package: 'libc6', files: [libc], pids: [612] },
      ],
    );
  });

  it('a session bus (known unit, not the system bus) is fixed by logging out, no reboot', () => {
    assert.deepEqual(
      detectReboot({
        ...base,
        stale: [
          stale({
            pid: 2000,
            package: 'dbus-daemon',
            path: '/usr/bin/dbus-daemon',
            unit: 'user@1000.service',
          }),
          stale({ pid: 2001, package: 'dbus-daemon', path: '/usr/bin/dbus-daemon', unit: null }),
        ],
      }),
      [],
    );
  });

  it('kernel, firmware and microcode packages always need a reboot', () => {
    assert.deepEqual(
      detectReboot({
        ...base,
        stale: [
          stale({
            pid: 50,
            package: 'linux-firmware',
            path: '/usr/lib/firmware/x.bin',
            unit: 'foo.service',
          }),
          stale({ pid: 51, package: 'linux-image-6.1.0-26-amd64', path: '/lib/modules/x.ko' }),
        ],
      }).map((r) => (r.type === 'stale-package' ? r.package : r.type)),
      ['linux-firmware', 'linux-image-6.1.0-26-amd64'],
    );
  });

  it('the distributions’ coarse list, when chosen, flags libc anywhere but PID 1', () => {
    const policy = { ...DEFAULT_REBOOT_POLICY, packages: DISTRIBUTION_REBOOT_PACKAGES };
    assert.deepEqual(
      detectReboot({
        ...base,
        policy,
        stale: [stale({ pid: 900, unit: 'nginx.service' }), stale({ pid: 1, pidIsInit: true })],
      }),
      [{ type: 'stale-package', package: 'libc6', files: [libc], pids: [900] }],
    );
  });

  it('a custom policy with globs', () => {
    const policy = { packages: ['libssl*'], pinnedUnits: ['haproxy*.service'], pinnedPackages: [] };
    assert.deepEqual(
      detectReboot({
        ...base,
        policy,
        stale: [
          stale({ pid: 10, package: 'libssl3', path: '/usr/lib/libssl.so.3' }),
          stale({ pid: 11, unit: 'haproxy@a.service' }),
          stale({ pid: 12, unit: 'dbus.service' }),
        ],
      }).map((r) => (r.type === 'stale-package' ? [r.package, r.pids] : r.type)),
      [
        ['libc6', [11]],
        ['libssl3', [10]],
      ],
    );
  });

  it('kernel-newer falls back to every flavour when none matches the running one', () => {
    assert.deepEqual(
      detectReboot({
        ...base,
        running: { release: '6.1.0-26-cloud-amd64', version: DEB_BUILD },
        kernels: [
          { release: '6.1.0-28-amd64', image: '/boot/vmlinuz-6.1.0-28-amd64', modules: null },
        ],
        runningImageVersion: null,
      }),
      [{ type: 'kernel-newer', running: '6.1.0-26-cloud-amd64', newest: '6.1.0-28-amd64' }],
    );
  });

  it('a running kernel newer than anything installed (direct kernel boot) is no reason', () => {
    const r = assessReboot({
      ...base,
      running: { release: '6.18.44-custom', version: '#1' },
      runningImageVersion: null,
    });
    assert.deepEqual(r.reasons, []);
    assert.match(r.notes.join('\n'), /is not installed/);
  });

  it('no kernel images at all: not checked, noted', () => {
    const r = assessReboot({ ...base, kernels: [], runningImageVersion: null });
    assert.deepEqual(r.reasons, []);
    assert.match(r.notes.join('\n'), /no kernel image found/);
  });

  it('an unknown uname -v does not count as a rebuilt kernel', () => {
    const r = assessReboot({ ...base, running: { release: DEB_RELEASE, version: '' } });
    assert.deepEqual(r.reasons, []);
  });

  it('notes from gathering pass through', () => {
    assert.deepEqual(assessReboot({ ...base, notes: ['x'] }).notes, ['x']);
  });
});

describe('parsePackageList', () => {
  it('drops blanks and duplicates, keeps the first order', () => {
    assert.deepEqual(parsePackageList('b\na\n\n b \na'), ['b', 'a']);
  });
});
