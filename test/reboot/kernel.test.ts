import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  bootableKernels,
  installedKernels,
  kernelFlavour,
  kernelImageVersion,
  newestKernel,
  parseKernelVersionString,
  readKernelImageVersion,
} from '../../src/reboot/kernel.ts';

const DEBIAN_HEADER =
  '6.1.0-26-amd64 (debian-kernel@lists.debian.org) #1 SMP PREEMPT_DYNAMIC Debian 6.1.112-1 (2024-09-30)';

/** A buffer laid out like the start of an x86 bzImage: setup header magic, protocol, kernel_version. */
function fakeBzImage(
  version: string,
  opts: { offset?: number; protocol?: number; magic?: string; size?: number; nul?: boolean } = {},
): Buffer {
  const offset = opts.offset ?? 0x3a0;
  const buf = Buffer.alloc(opts.size ?? 0x1000, 0x90);
  buf[0x1fe] = 0x55;
  buf[0x1ff] = 0xaa;
  buf.write(opts.magic ?? 'HdrS', 0x202, 'latin1');
  buf.writeUInt16LE(opts.protocol ?? 0x020f, 0x206);
  buf.writeUInt16LE(offset, 0x20e);
  const at = 0x200 + offset;
  if (at < buf.length) {
    const written = buf.write(version, at, 'latin1');
    if (opts.nul !== false && at + written < buf.length) buf[at + written] = 0;
  }
  return buf;
}

describe('kernelImageVersion', () => {
  it('reads the version string of a synthetic bzImage', () => {
    assert.equal(kernelImageVersion(fakeBzImage(DEBIAN_HEADER)), DEBIAN_HEADER);
  });

  it('follows the 16-bit offset wherever it points', () => {
    const buf = fakeBzImage('6.10.6-200.fc40.x86_64 (mockbuild@x) #1 SMP', {
      offset: 0x2ff0,
      size: 0x4000,
    });
    assert.equal(kernelImageVersion(buf), '6.10.6-200.fc40.x86_64 (mockbuild@x) #1 SMP');
  });

  it('returns null for input that is not a bzImage', () => {
    assert.equal(kernelImageVersion(Buffer.alloc(0)), null);
    assert.equal(kernelImageVersion(Buffer.alloc(0x20f)), null, 'too short for the field');
    assert.equal(kernelImageVersion(Buffer.alloc(0x1000)), null, 'zeros');
    assert.equal(kernelImageVersion(fakeBzImage(DEBIAN_HEADER, { magic: 'HdrT' })), null);
    const elf = Buffer.alloc(0x1000);
    elf.write('\x7fELF', 0, 'latin1');
    assert.equal(kernelImageVersion(elf), null, 'an uncompressed vmlinux');
    const arm64 = Buffer.alloc(0x1000);
    arm64.write('ARMd', 0x38, 'latin1');
    assert.equal(kernelImageVersion(arm64), null, 'an arm64 Image');
  });

  it('returns null for a malformed header', () => {
    assert.equal(kernelImageVersion(fakeBzImage(DEBIAN_HEADER, { offset: 0 })), null);
    assert.equal(kernelImageVersion(fakeBzImage(DEBIAN_HEADER, { protocol: 0x0100 })), null);
    assert.equal(kernelImageVersion(fakeBzImage(DEBIAN_HEADER, { offset: 0xff00 })), null);
    assert.equal(
      kernelImageVersion(fakeBzImage('x'.repeat(600), { size: 0x2000 })),
      null,
      'no NUL within 512 bytes',
    );
    const cut = fakeBzImage(DEBIAN_HEADER, { size: 0x200 + 0x3a0 + 10, nul: false });
    assert.equal(kernelImageVersion(cut), null, 'truncated before the NUL');
    assert.equal(kernelImageVersion(fakeBzImage('6.1\x01bad')), null, 'control characters');
    assert.equal(kernelImageVersion(fakeBzImage('')), null, 'empty string');
  });

  it('reads this machine’s kernel images under /boot', (t) => {
    let names: string[] = [];
    try {
      names = readdirSync('/boot').filter((n) => /^vmlinuz-\d/.test(n));
    } catch {
      // No /boot at all.
    }
    if (names.length === 0) {
      t.skip('no /boot/vmlinuz-* on this machine (a container or a directly booted VM)');
      return;
    }
    for (const name of names) {
      let text: string | null;
      try {
        text = readKernelImageVersion(join('/boot', name));
      } catch (err) {
        t.diagnostic(`${name}: ${(err as Error).message} (not root?)`);
        continue;
      }
      if (process.arch === 'x64' || process.arch === 'ia32') {
        assert.ok(text !== null, `${name} has a version string`);
        assert.equal(parseKernelVersionString(text).release, name.slice('vmlinuz-'.length));
      }
      t.diagnostic(`${name}: ${text}`);
    }
  });
});

describe('parseKernelVersionString', () => {
  it('splits release, builder and uname -v', () => {
    assert.deepEqual(parseKernelVersionString(DEBIAN_HEADER), {
      release: '6.1.0-26-amd64',
      builder: 'debian-kernel@lists.debian.org',
      version: '#1 SMP PREEMPT_DYNAMIC Debian 6.1.112-1 (2024-09-30)',
    });
  });

  it('copes with a missing builder', () => {
    assert.deepEqual(parseKernelVersionString('6.9.0 #3 SMP'), {
      release: '6.9.0',
      builder: null,
      version: '#3 SMP',
    });
    assert.deepEqual(parseKernelVersionString('6.9.0'), {
      release: '6.9.0',
      builder: null,
      version: '',
    });
  });
});

describe('installedKernels', () => {
  const root = mkdtempSync(join(tmpdir(), 'afterpatch-kernels-'));
  after(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, 'boot'));
  mkdirSync(join(root, 'lib/modules/6.1.0-26-amd64/kernel'), { recursive: true });
  mkdirSync(join(root, 'lib/modules/6.1.0-30-amd64/updates/dkms'), { recursive: true });
  mkdirSync(join(root, 'usr/lib/modules/6.9.7-1.fc40.x86_64'), { recursive: true });
  writeFileSync(join(root, 'boot/vmlinuz-6.1.0-26-amd64'), fakeBzImage('6.1.0-26-amd64 #1'));
  writeFileSync(join(root, 'boot/vmlinuz-6.1.0-28-amd64'), fakeBzImage('6.1.0-28-amd64 #1'));
  writeFileSync(join(root, 'boot/vmlinuz-0-rescue-0123456789abcdef'), 'rescue');
  writeFileSync(join(root, 'boot/vmlinuz-linux'), 'arch names its image after the package');
  writeFileSync(join(root, 'boot/config-6.1.0-26-amd64'), '');
  symlinkSync('vmlinuz-6.1.0-28-amd64', join(root, 'boot/vmlinuz'));
  writeFileSync(join(root, 'usr/lib/modules/6.9.7-1.fc40.x86_64/vmlinuz'), 'image');

  it('lists images and module directories by release', () => {
    assert.deepEqual(installedKernels(root), [
      {
        release: '6.1.0-26-amd64',
        image: join(root, 'boot/vmlinuz-6.1.0-26-amd64'),
        modules: join(root, 'lib/modules/6.1.0-26-amd64'),
      },
      {
        release: '6.1.0-28-amd64',
        image: join(root, 'boot/vmlinuz-6.1.0-28-amd64'),
        modules: null,
      },
      { release: '6.1.0-30-amd64', image: null, modules: join(root, 'lib/modules/6.1.0-30-amd64') },
      {
        release: '6.9.7-1.fc40.x86_64',
        image: join(root, 'usr/lib/modules/6.9.7-1.fc40.x86_64/vmlinuz'),
        modules: join(root, 'usr/lib/modules/6.9.7-1.fc40.x86_64'),
      },
    ]);
  });

  it('counts only kernels with an image as bootable', () => {
    assert.deepEqual(
      bootableKernels(installedKernels(root)).map((k) => k.release),
      ['6.1.0-26-amd64', '6.1.0-28-amd64', '6.9.7-1.fc40.x86_64'],
    );
  });

  it('returns nothing for an empty root', () => {
    const empty = mkdtempSync(join(tmpdir(), 'afterpatch-kernels-empty-'));
    try {
      assert.deepEqual(installedKernels(empty), []);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});

describe('newestKernel', () => {
  it('uses dpkg ordering for deb', () => {
    assert.equal(
      newestKernel(['6.1.0-9-amd64', '6.1.0-26-amd64', '6.1.0-10-amd64'], 'deb'),
      '6.1.0-26-amd64',
    );
    assert.equal(newestKernel(['6.12.9-amd64', '6.12.12-amd64'], 'deb'), '6.12.12-amd64');
  });

  it('uses rpm ordering for rpm', () => {
    assert.equal(
      newestKernel(
        [
          '5.14.0-427.13.1.el9_4.x86_64',
          '5.14.0-503.11.1.el9_5.x86_64',
          '5.14.0-427.40.1.el9_4.x86_64',
        ],
        'rpm',
      ),
      '5.14.0-503.11.1.el9_5.x86_64',
    );
  });

  it('returns null for no releases', () => {
    assert.equal(newestKernel([], 'deb'), null);
  });
});

describe('kernelFlavour', () => {
  const cases: [string, 'deb' | 'rpm', string][] = [
    ['6.1.0-26-amd64', 'deb', 'amd64'],
    ['6.1.0-26-rt-amd64', 'deb', 'rt-amd64'],
    ['6.1.0-26-cloud-amd64', 'deb', 'cloud-amd64'],
    ['6.10.6+bpo-amd64', 'deb', 'amd64'],
    ['6.12.12-amd64', 'deb', 'amd64'],
    ['6.8.0-45-generic', 'deb', 'generic'],
    ['6.8.0-1015-aws', 'deb', 'aws'],
    ['6.6.51+rpt-rpi-v8', 'deb', 'rpi-v8'],
    ['6.9.0', 'deb', ''],
    ['5.14.0-427.13.1.el9_4.x86_64', 'rpm', ''],
    ['5.14.0-427.13.1.el9_4.x86_64+debug', 'rpm', '+debug'],
    ['5.14.0-427.13.1.el9_4.x86_64+rt', 'rpm', '+rt'],
    ['3.10.0-1160.el7.x86_64.debug', 'rpm', '.debug'],
    ['5.14.21-150500.55.39-default', 'rpm', 'default'],
  ];
  for (const [release, packaging, want] of cases) {
    it(`${release} (${packaging}) → ${JSON.stringify(want)}`, () => {
      assert.equal(kernelFlavour(release, packaging), want);
    });
  }
});
