import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { containerFromCgroup } from '../../src/cgroup/container.ts';
import { parseCgroupFile, parseCgroupLine } from '../../src/cgroup/parse.ts';

const ID = '3f1c0b9a7e6d5c4b3a29180f7e6d5c4b3a29180f7e6d5c4b3a29180f7e6d5c4b';

describe('parseCgroupFile', () => {
  const table: { name: string; text: string; expected: string | null }[] = [
    { name: 'v2 only', text: '0::/system.slice/a.service\n', expected: '/system.slice/a.service' },
    { name: 'v2 without a trailing newline', text: '0::/init.scope', expected: '/init.scope' },
    { name: 'v2 kernel thread', text: '0::/\n', expected: '/' },
    {
      name: 'v1 name=systemd only',
      text: '3:cpu,cpuacct:/x\n2:memory:/y\n1:name=systemd:/system.slice/b.service\n',
      expected: '/system.slice/b.service',
    },
    {
      name: 'name=systemd within a longer controller list',
      text: '1:foo,name=systemd:/system.slice/c.service\n',
      expected: '/system.slice/c.service',
    },
    {
      name: 'hybrid: v1 says /, 0:: has the path',
      text: '1:name=systemd:/\n0::/system.slice/d.service\n',
      expected: '/system.slice/d.service',
    },
    {
      name: 'hybrid: both real, 0:: wins',
      text: '1:name=systemd:/system.slice/old.service\n0::/system.slice/new.service\n',
      expected: '/system.slice/new.service',
    },
    {
      name: 'hybrid: 0:: is /, name=systemd has the path',
      text: '1:name=systemd:/system.slice/e.service\n0::/\n',
      expected: '/system.slice/e.service',
    },
    { name: 'both say /', text: '1:name=systemd:/\n0::/\n', expected: '/' },
    { name: 'name=systemd says / alone', text: '1:name=systemd:/\n', expected: '/' },
    {
      name: 'deleted suffix is stripped',
      text: '0::/system.slice/f.service (deleted)\n',
      expected: '/system.slice/f.service',
    },
    {
      name: 'deleted suffix on the v1 line is stripped before comparing with /',
      text: '1:name=systemd:/system.slice/g.service (deleted)\n0::/\n',
      expected: '/system.slice/g.service',
    },
    {
      name: 'colon inside the path is kept',
      text: '0::/system.slice/dbus-:1.2-x.scope\n',
      expected: '/system.slice/dbus-:1.2-x.scope',
    },
    { name: 'empty text', text: '', expected: null },
    { name: 'only other controllers', text: '4:memory:/a\n3:pids:/b\n', expected: null },
    { name: 'named hierarchy that is not systemd', text: '1:name=elogind:/c\n', expected: null },
    { name: 'garbage', text: 'not a cgroup file\n\n:\n', expected: null },
    { name: 'relative path is rejected', text: '0::system.slice/a.service\n', expected: null },
    {
      name: 'first 0:: line wins',
      text: '0::/system.slice/first.service\n0::/system.slice/second.service\n',
      expected: '/system.slice/first.service',
    },
    {
      name: 'outside the namespace kept as is',
      text: '0::/../../x.service\n',
      expected: '/../../x.service',
    },
  ];
  for (const c of table) {
    it(c.name, () => assert.equal(parseCgroupFile(c.text), c.expected));
  }
});

describe('parseCgroupLine', () => {
  it('splits hierarchy, controllers and path', () => {
    assert.deepEqual(parseCgroupLine('3:cpu,cpuacct:/a/b'), {
      hierarchy: '3',
      controllers: ['cpu', 'cpuacct'],
      path: '/a/b',
    });
  });
  it('rejects a non-numeric hierarchy id', () => assert.equal(parseCgroupLine('x::/a'), null));
});

describe('containerFromCgroup', () => {
  const table: { path: string; expected: ReturnType<typeof containerFromCgroup> }[] = [
    { path: `/system.slice/docker-${ID}.scope`, expected: { runtime: 'docker', id: ID } },
    { path: `/docker/${ID}/sub`, expected: { runtime: 'docker', id: ID } },
    { path: `/docker/${ID}/docker/abcdefabcdef`, expected: { runtime: 'docker', id: ID } },
    { path: `/libpod_parent/libpod-${ID}`, expected: { runtime: 'podman', id: ID } },
    {
      path: `/machine.slice/machine-libpod_pod_abc.slice/libpod-${ID}.scope`,
      expected: { runtime: 'podman', id: ID },
    },
    { path: `/system.slice/crio-conmon-${ID}.scope`, expected: { runtime: 'cri-o', id: ID } },
    {
      path: `/kubepods/burstable/podaaaa-bbbb/${ID}`,
      expected: { runtime: 'kubernetes', id: `aaaa-bbbb/${ID}` },
    },
    {
      path: `/kubepods.slice/kubepods-pod0a1b_2c3d.slice/crio-${ID}.scope`,
      expected: { runtime: 'kubernetes', id: `0a1b-2c3d/${ID}` },
    },
    {
      path: '/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0a1b.slice',
      expected: { runtime: 'kubernetes', id: '0a1b' },
    },
    {
      path: `/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-podfe01.slice/cri-containerd-${ID}.scope`,
      expected: { runtime: 'kubernetes', id: `fe01/${ID}` },
    },
    {
      path: '/machine.slice/machine-qemu\\x2d1\\x2dvm1.scope/libvirt/vcpu0',
      expected: { runtime: 'machine', id: 'qemu-1-vm1' },
    },
    {
      path: '/machine.slice/systemd-nspawn@my\\x2dbox.service/payload',
      expected: { runtime: 'nspawn', id: 'my-box' },
    },
    { path: '/lxc.monitor.web', expected: { runtime: 'lxc', id: 'web' } },
    { path: '/lxc.payload/web/init.scope', expected: { runtime: 'lxc', id: 'web' } },
    { path: `/default/${ID}`, expected: { runtime: 'containerd', id: `default/${ID}` } },
    { path: '/system.slice/docker.service', expected: null },
    { path: '/system.slice/docker.socket', expected: null },
    { path: '/system.slice/containerd.service', expected: null },
    { path: '/system.slice/docker-compose.scope', expected: null },
    { path: '/docker', expected: null },
    { path: '/docker/not-an-id', expected: null },
    { path: '/lxc', expected: null },
    { path: '/kubepods.slice', expected: null },
    { path: `/system.slice/${ID}`, expected: null },
    { path: '/default/abcdef0123456789', expected: null },
    { path: '/', expected: null },
  ];
  for (const c of table) {
    it(c.path, () => assert.deepEqual(containerFromCgroup(c.path), c.expected));
  }
});
