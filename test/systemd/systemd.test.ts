import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { systemdCgroupMount } from '../../src/systemd/cgroupfs.ts';
import { managerArgs } from '../../src/systemd/client.ts';
import { parseShow } from '../../src/systemd/properties.ts';

describe('systemctl show parsing', () => {
  it('splits blocks per unit and keeps values with = signs', () => {
    const text =
      'Id=a.service\nActiveState=active\nEnvironment=A=1 B=2\n\nId=b.service\nActiveState=failed\n';
    assert.deepEqual(parseShow(text), [
      { Id: 'a.service', ActiveState: 'active', Environment: 'A=1 B=2' },
      { Id: 'b.service', ActiveState: 'failed' },
    ]);
  });
  it('talks to a user manager with -M UID@', () => {
    assert.deepEqual(managerArgs({ type: 'user', uid: 1000 }), ['--user', '-M', '1000@']);
    assert.deepEqual(managerArgs({ type: 'system' }), []);
  });
});

describe('finding systemd’s cgroup hierarchy in mountinfo', () => {
  const v1 =
    '30 25 0:26 / /sys/fs/cgroup/systemd rw,nosuid - cgroup cgroup rw,xattr,name=systemd\n' +
    '31 25 0:27 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory\n';
  it('prefers cgroup2 (unified and hybrid hosts)', () => {
    const hybrid = `${v1}32 25 0:28 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n`;
    assert.equal(systemdCgroupMount(hybrid), '/sys/fs/cgroup/unified');
    assert.equal(
      systemdCgroupMount('25 1 0:22 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n'),
      '/sys/fs/cgroup',
    );
  });
  it('falls back to the name=systemd v1 hierarchy', () => {
    assert.equal(systemdCgroupMount(v1), '/sys/fs/cgroup/systemd');
  });
  it('decodes octal escapes and reports nothing without cgroups', () => {
    assert.equal(
      systemdCgroupMount('25 1 0:22 / /mnt/cg\\040x rw - cgroup2 cgroup2 rw\n'),
      '/mnt/cg x',
    );
    assert.equal(systemdCgroupMount('20 1 0:1 / / rw - ext4 /dev/vda rw\n'), null);
  });
});
