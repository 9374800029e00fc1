// Virtual machine guests (issue 15): a qemu process is an entry of its own kind, advised and
// never restarted, counted in its own bucket — in libvirt's machine scope and outside libvirt.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../../harness/cli.ts';
import { guestOwner, mayBeQemu, qemuGuestName } from '../../src/cgroup/vm.ts';
import { suggestAction } from '../../src/grouping/action.ts';
import { scan } from '../../src/scan/scan.ts';
import { writeFakeSystemctl } from '../helpers/fake-systemctl.ts';
import { FAKE_INIT, makeProcTree, mapsLine } from '../helpers/fakeproc.ts';
import { validateScanJson } from '../helpers/schema.ts';

const LIBSSL = '/usr/lib/x86_64-linux-gnu/libssl.so.3';
const staleSsl = [
  mapsLine('/usr/bin/qemu-system-x86_64', { addr: 0x55e000, inode: 99 }),
  mapsLine(LIBSSL, { deleted: true, addr: 0x7f2000 }),
].join('\n');

const tree = {
  1: FAKE_INIT,
  // libvirt: machined's scope, qemu in its emulator sub-cgroup, the domain name in -name.
  500: {
    name: 'qemu-system-x86',
    maps: staleSsl,
    cgroup: '0::/machine.slice/machine-qemu\\x2d1\\x2dweb\\x2d01.scope/libvirt/emulator\n',
    cmdline: [
      '/usr/bin/qemu-system-x86_64',
      '-name',
      'guest=web-01,debug-threads=on',
      '-m',
      '2048',
    ],
  },
  // A qemu a user started by hand in a login session: outside libvirt, no -name.
  600: {
    name: 'qemu-system-x86',
    maps: staleSsl,
    cgroup: '0::/user.slice/user-1000.slice/session-3.scope\n',
    cmdline: ['qemu-system-x86_64', '-enable-kvm', 'disk.img'],
  },
  // qemu-kvm run by a unit of its own: still a guest, never `systemctl restart`.
  650: {
    name: 'qemu-kvm',
    maps: staleSsl,
    cgroup: '0::/system.slice/build-vm.service\n',
    cmdline: ['/usr/libexec/qemu-kvm', '-name', 'builder'],
  },
  // An nspawn container registered with machined: stays a container.
  700: {
    name: 'nginx',
    maps: staleSsl,
    cgroup: '0::/machine.slice/machine-box.scope\n',
  },
  // qemu inside a docker container: the container's image, not the host's guest.
  800: {
    name: 'qemu-system-x86',
    maps: staleSsl,
    cgroup: `0::/system.slice/docker-${'c'.repeat(64)}.scope\n`,
  },
};

describe('virtual machine guests', () => {
  let fx: ReturnType<typeof makeProcTree>;
  let bin: string;
  before(() => {
    fx = makeProcTree(tree);
    bin = mkdtempSync(join(tmpdir(), 'afterpatch-vm-bin-'));
    mkdirSync(join(bin, 'ok'));
    writeFakeSystemctl(join(bin, 'ok'));
  });
  after(() => {
    fx.cleanup();
    rmSync(bin, { recursive: true, force: true });
  });

  it('classifies qemu in libvirt’s machine scope and qemu anywhere else as vm, other machines and containers not', async () => {
    const r = await scan({ procRoot: fx.root, packages: false, interpreted: false });
    const byPid = new Map(r.processes.map((p) => [p.pid, p.owner]));
    assert.deepEqual(byPid.get(500), {
      type: 'vm',
      hypervisor: 'libvirt',
      name: 'web-01',
      cgroup: '/machine.slice/machine-qemu\\x2d1\\x2dweb\\x2d01.scope/libvirt/emulator',
    });
    assert.deepEqual(byPid.get(600), {
      type: 'vm',
      hypervisor: 'qemu',
      name: 'pid-600',
      cgroup: '/user.slice/user-1000.slice/session-3.scope',
    });
    const builder = byPid.get(650);
    assert.equal(builder?.type === 'vm' && builder.name, 'builder');
    assert.equal(byPid.get(700)?.type, 'container');
    assert.equal(byPid.get(800)?.type, 'container');
    assert.equal(r.summary.vms, 3);
    assert.equal(r.summary.containers, 2);
    assert.equal(r.summary.sessions, 0);
    assert.equal(r.summary.units, 0);
    const libvirt = r.groups.find((g) => g.key === 'vm:libvirt:web-01');
    assert.deepEqual(libvirt?.action, {
      kind: 'vm',
      advice:
        'virtual machine web-01: live-migrate it (virsh migrate), or shut it down and start it again (virsh shutdown web-01, then virsh start web-01); a reboot inside the guest keeps the same qemu process',
    });
    const plain = r.groups.find((g) => g.key === 'vm:qemu:pid-600');
    assert.match(
      plain?.action.kind === 'vm' ? plain.action.advice : '',
      /^virtual machine pid-600: live-migrate it, or shut the guest down and start it again through what started it \(qemu PID 600\); a reboot inside the guest keeps the same qemu process$/,
    );
    for (const g of r.groups.filter((x) => x.owner.type === 'vm')) {
      assert.doesNotMatch(JSON.stringify(g.action), /rebuild its image|systemctl/);
      // A guest runs the host's binaries: its files keep their host path for the package lookup.
      assert.ok(
        r.processes
          .filter((p) => g.pids.includes(p.pid))
          .every((p) => p.files[0]?.hostPath === LIBSSL),
      );
    }
  });

  it('a process that only names itself qemu (comm) while its executable is another is no guest', async () => {
    const own = makeProcTree({
      1: FAKE_INIT,
      900: {
        name: 'qemu-system-x86',
        maps: [
          mapsLine('/usr/sbin/nginx', { addr: 0x55e000, inode: 98 }),
          mapsLine(LIBSSL, { deleted: true, addr: 0x7f2000 }),
        ].join('\n'),
        cgroup: '0::/system.slice/nginx.service\n',
      },
    });
    try {
      const r = await scan({ procRoot: own.root, packages: false, interpreted: false });
      assert.equal(r.processes[0]?.owner.type, 'system-unit');
      assert.equal(r.summary.vms, 0);
    } finally {
      own.cleanup();
    }
  });

  it('mayBeQemu: the executable as the maps show it, deleted or not', () => {
    assert.equal(mayBeQemu('/usr/bin/qemu-system-x86_64'), true);
    assert.equal(mayBeQemu('/usr/bin/qemu-system-x86_64 (deleted)'), true);
    assert.equal(mayBeQemu('/usr/libexec/qemu-kvm'), true);
    assert.equal(mayBeQemu('/usr/bin/kvm'), true);
    assert.equal(mayBeQemu('/usr/sbin/nginx'), false);
    assert.equal(mayBeQemu('/opt/qemu/bin/run'), false);
  });

  it('scan: a VM row and count in the text, the vm type in schema-valid JSON', async () => {
    const text = await runCli(['scan', '--no-packages', '--proc-root', fx.root]);
    assert.equal(text.code, 1, text.stderr);
    assert.match(text.stdout, /^web-01\s+libvirt guest\s+500\s/m);
    assert.match(text.stdout, /^pid-600\s+virtual machine\s+600\s/m);
    assert.match(text.stdout, /2 containers, 3 virtual machines run outdated code/);
    const json = await runCli(['scan', '--json', '--no-packages', '--proc-root', fx.root]);
    const doc = JSON.parse(json.stdout);
    validateScanJson(doc);
    assert.deepEqual(
      doc.entries
        .filter((e: { type: string }) => e.type === 'vm')
        .map((e: { key: string }) => e.key),
      ['vm:libvirt:web-01', 'vm:qemu:builder', 'vm:qemu:pid-600'],
    );
  });

  it('restart: advises every guest, restarts none of them, exits 1 (needs a human)', async () => {
    const r = await runCli(
      ['restart', '--dry-run', '--json', '--proc-root', fx.root, '--state-dir', join(bin, 'state')],
      { env: { ...process.env, PATH: `${join(bin, 'ok')}:${process.env.PATH}` } },
    );
    assert.equal(r.code, 1, r.stderr);
    const doc = JSON.parse(r.stdout);
    const vms = doc.plan.filter((e: { type: string }) => e.type === 'vm');
    assert.equal(vms.length, 3);
    for (const e of vms) {
      assert.equal(e.action, 'advise');
      assert.equal(e.unit, null);
      assert.equal(e.needsHuman, true);
      assert.match(
        e.reason,
        /live-migrate it.*a reboot inside the guest keeps the same qemu process$/,
      );
    }
    assert.equal(doc.summary.planned, 0);
  });

  it('check: the vms bucket warns on its own and is in the perfdata', async () => {
    const r = await runCli(['check', '--proc-root', fx.root, '--state-dir', join(bin, 'state')], {
      env: { ...process.env, PATH: `${join(bin, 'ok')}:${process.env.PATH}` },
    });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /2 containers, 3 virtual machines/);
    assert.match(r.stdout, /'containers'=2;0;;0 'vms'=3;0;;0 /);
  });

  it('metrics: afterpatch_vms_outdated', async () => {
    const r = await runCli(['metrics', '--proc-root', fx.root, '--state-dir', join(bin, 'state')], {
      env: { ...process.env, PATH: `${join(bin, 'ok')}:${process.env.PATH}` },
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^afterpatch_vms_outdated 3$/m);
    assert.match(r.stdout, /^afterpatch_containers_outdated 2$/m);
  });
});

describe('qemuGuestName and guestOwner', () => {
  it('reads -name guest=NAME, a bare -name, qemu’s doubled commas; nothing from an option list without a name', () => {
    assert.equal(qemuGuestName(['qemu', '-name', 'guest=db,debug-threads=on']), 'db');
    assert.equal(qemuGuestName(['qemu', '-name', 'plain']), 'plain');
    assert.equal(qemuGuestName(['qemu', '-name', 'a,,b,process=x']), 'a,b');
    assert.equal(qemuGuestName(['qemu', '-name', 'process=x']), null);
    assert.equal(qemuGuestName(['qemu', '-name']), null);
    assert.equal(qemuGuestName(['qemu', 'disk.img']), null);
    assert.equal(qemuGuestName(['qemu', '-name', 'x'.repeat(5000)])?.length, 255);
  });

  it('quotes a guest name from argv in the virsh advice, as a shell would need it', () => {
    const advice = (name: string) => {
      const a = suggestAction({ type: 'vm', hypervisor: 'libvirt', name, cgroup: null }, [5]);
      return 'advice' in a ? a.advice : '';
    };
    assert.match(advice('web-01.example'), /virsh shutdown web-01\.example,/);
    assert.match(
      advice("x;rm -rf / 'y'"),
      /virsh shutdown 'x;rm -rf \/ '\\''y'\\''', then virsh start 'x;rm/,
    );
  });

  it('reads comm and argv only when it must, and never for another runtime’s container', () => {
    const read: string[] = [];
    const proc = (comm: string) => ({
      pid: 9,
      cgroup: null,
      comm: () => {
        read.push('comm');
        return comm;
      },
      argv: () => {
        read.push('argv');
        return ['x'];
      },
    });
    const docker = { type: 'container', runtime: 'docker', id: 'c', cgroup: null } as const;
    assert.equal(guestOwner(docker, proc('qemu-system-x86')), null);
    assert.deepEqual(read, []);
    assert.equal(guestOwner({ type: 'system-unit', unit: 'nginx.service' }, proc('nginx')), null);
    assert.deepEqual(read, ['comm']);
    // A machine scope machined registered for something else, whose process is qemu.
    assert.deepEqual(
      guestOwner({ type: 'container', runtime: 'machine', id: 'box', cgroup: '/m' }, proc('kvm')),
      { type: 'vm', hypervisor: 'machined', name: 'box', cgroup: null },
    );
  });
});
