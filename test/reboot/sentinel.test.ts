import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { writeFileAtomic } from '../../src/io/fs-atomic.ts';
import { gatherRebootInput } from '../../src/reboot/gather.ts';
import { SENTINEL_TEXT, writeSentinel } from '../../src/reboot/sentinel.ts';

const made: string[] = [];
after(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

function runDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'afterpatch-sentinel-'));
  made.push(dir);
  return dir;
}

const read = (dir: string, name: string): string => readFileSync(join(dir, name), 'utf8');

describe('writeSentinel', () => {
  it('creates both files on a clean /run', () => {
    const dir = runDir();
    assert.deepEqual(writeSentinel(dir, ['libc6', 'dbus']), {
      created: true,
      added: ['libc6', 'dbus'],
    });
    assert.equal(read(dir, 'reboot-required'), SENTINEL_TEXT);
    assert.equal(read(dir, 'reboot-required.pkgs'), 'libc6\ndbus\n');
    assert.deepEqual(readdirSync(dir).sort(), ['reboot-required', 'reboot-required.pkgs']);
  });

  it('de-duplicates against the list already there and within the call', () => {
    const dir = runDir();
    writeFileSync(join(dir, 'reboot-required.pkgs'), 'linux-image-6.1.0-28-amd64\nlibc6\n');
    assert.deepEqual(writeSentinel(dir, ['libc6', 'dbus', 'dbus', 'udev']).added, ['dbus', 'udev']);
    assert.equal(
      read(dir, 'reboot-required.pkgs'),
      'linux-image-6.1.0-28-amd64\nlibc6\ndbus\nudev\n',
    );
  });

  it('keeps existing content exactly, adding a missing final newline before appending', () => {
    const dir = runDir();
    writeFileSync(join(dir, 'reboot-required'), '*** System restart required ***\n');
    writeFileSync(join(dir, 'reboot-required.pkgs'), 'a\na\n\nb');
    const r = writeSentinel(dir, ['c', 'b']);
    assert.deepEqual(r, { created: false, added: ['c'] });
    assert.equal(read(dir, 'reboot-required'), '*** System restart required ***\n');
    assert.equal(read(dir, 'reboot-required.pkgs'), 'a\na\n\nb\nc\n');
  });

  it('touches an existing reboot-required without rewriting it', () => {
    const dir = runDir();
    const flag = join(dir, 'reboot-required');
    writeFileSync(flag, 'kept\n');
    const old = new Date('2020-01-01T00:00:00Z');
    utimesSync(flag, old, old);
    const inode = statSync(flag).ino;
    writeSentinel(dir, []);
    assert.equal(statSync(flag).ino, inode, 'same file');
    assert.ok(statSync(flag).mtimeMs > old.getTime(), 'mtime updated');
    assert.equal(read(dir, 'reboot-required'), 'kept\n');
  });

  it('does not rewrite the list when nothing is new', () => {
    const dir = runDir();
    writeSentinel(dir, ['libc6']);
    const inode = statSync(join(dir, 'reboot-required.pkgs')).ino;
    assert.deepEqual(writeSentinel(dir, ['libc6']).added, []);
    assert.equal(statSync(join(dir, 'reboot-required.pkgs')).ino, inode);
  });

  it('replaces the list by rename (a new inode, never the old one written in place), mode 0644', () => {
    const dir = runDir();
    const pkgs = join(dir, 'reboot-required.pkgs');
    writeFileSync(pkgs, 'libc6\n');
    chmodSync(pkgs, 0o6755); // a mode is never copied from an existing file (issue 12.3)
    const before = statSync(pkgs).ino;
    writeSentinel(dir, ['dbus']);
    assert.notEqual(statSync(pkgs).ino, before);
    assert.equal(statSync(pkgs).mode & 0o7777, 0o644);
    assert.deepEqual(
      readdirSync(dir).filter((n) => n.endsWith('.tmp')),
      [],
      'no temp file left',
    );
  });

  it('an empty package list still asks for a reboot', () => {
    const dir = runDir();
    assert.deepEqual(writeSentinel(dir, []), { created: true, added: [] });
    assert.deepEqual(readdirSync(dir), ['reboot-required']);
  });

  it('rejects names that would break the one-name-a-line format, writing nothing', () => {
    const dir = runDir();
    assert.throws(() => writeSentinel(dir, ['ok', 'bad\nname']), /not a package name/);
    assert.throws(() => writeSentinel(dir, ['']), /not a package name/);
    assert.deepEqual(readdirSync(dir), []);
  });

  it('fails cleanly, leaving no temp file, when the directory is missing', () => {
    const dir = runDir();
    assert.throws(() => writeSentinel(join(dir, 'nope'), ['libc6']), { code: 'ENOENT' });
    assert.deepEqual(readdirSync(dir), []);
  });

  it('is read back by gatherRebootInput as a sentinel reason', () => {
    const root = runDir();
    const procRoot = runDir();
    const run = join(root, 'run');
    mkdirSync(run);
    writeSentinel(run, ['libc6']);
    writeSentinel(run, ['libc6', 'systemd']);
    const input = gatherRebootInput({ root, procRoot, packaging: 'deb' });
    assert.deepEqual(input.sentinels, [
      { file: join(run, 'reboot-required'), packages: ['libc6', 'systemd'] },
    ]);
  });
});

describe('writeFileAtomic', () => {
  it('readers see the old or the new content, never a partial file', () => {
    const dir = runDir();
    const path = join(dir, 'f');
    const big = 'x'.repeat(1 << 20);
    writeFileAtomic(path, 'old\n');
    writeFileAtomic(path, big);
    assert.equal(readFileSync(path, 'utf8').length, big.length);
    assert.deepEqual(readdirSync(dir), ['f']);
  });

  it('replaces a file repeatedly, leaving only the file itself', () => {
    const dir = runDir();
    for (let i = 0; i < 20; i++) writeFileAtomic(join(dir, 'a'), String(i));
    assert.equal(readFileSync(join(dir, 'a'), 'utf8'), '19');
    assert.deepEqual(readdirSync(dir), ['a']);
  });

  it('when the rename fails the old content stays and the temp file is removed', () => {
    const dir = runDir();
    mkdirSync(join(dir, 'occupied'));
    writeFileSync(join(dir, 'occupied', 'x'), 'old');
    assert.throws(() => writeFileAtomic(join(dir, 'occupied'), 'new'));
    assert.deepEqual(readdirSync(dir), ['occupied']);
    assert.equal(readFileSync(join(dir, 'occupied', 'x'), 'utf8'), 'old');
  });
});

describe('writeSentinel with planted files (issue 12.3)', () => {
  const secretFile = () => {
    const d = runDir();
    const f = join(d, 'shadow');
    writeFileSync(f, 'root:hunter2:19000::::::\n', { mode: 0o600 });
    return f;
  };

  it('never reads a list that is a symlink (a root-only file is not copied), nor replaces it', () => {
    const dir = runDir();
    const secret = secretFile();
    symlinkSync(secret, join(dir, 'reboot-required.pkgs'));
    assert.throws(() => writeSentinel(dir, ['libc6']), /reboot-required\.pkgs is a symbolic link/);
    assert.equal(readlinkSync(join(dir, 'reboot-required.pkgs')), secret, 'the link is left alone');
    assert.equal(readFileSync(secret, 'utf8'), 'root:hunter2:19000::::::\n');
    assert.equal(statSync(secret).mode & 0o7777, 0o600);
    for (const name of readdirSync(dir)) {
      if (lstatSync(join(dir, name)).isFile()) {
        assert.doesNotMatch(readFileSync(join(dir, name), 'utf8'), /hunter2/, name);
      }
    }
  });

  it('a symlink to a setuid file gives no file of mode 6755', () => {
    const dir = runDir();
    const target = join(runDir(), 'suid');
    writeFileSync(target, 'x\n');
    chmodSync(target, 0o6755);
    symlinkSync(target, join(dir, 'reboot-required.pkgs'));
    assert.throws(() => writeSentinel(dir, ['libc6']), /symbolic link/);
    for (const name of readdirSync(dir)) {
      const st = lstatSync(join(dir, name));
      if (st.isFile()) assert.equal(st.mode & 0o7000, 0, name);
    }
  });

  it('never touches the target of a symlinked flag', () => {
    const dir = runDir();
    const target = join(runDir(), 'target');
    writeFileSync(target, 'x\n');
    const old = new Date('2020-01-01T00:00:00Z');
    utimesSync(target, old, old);
    writeFileSync(join(dir, 'reboot-required.pkgs'), 'libc6\n');
    symlinkSync(target, join(dir, 'reboot-required'));
    assert.throws(() => writeSentinel(dir, ['libc6']), /reboot-required is a symbolic link/);
    assert.equal(statSync(target).mtimeMs, old.getTime(), "the target's time is unchanged");
  });

  it('refuses a FIFO at once instead of blocking on it', () => {
    for (const name of ['reboot-required.pkgs', 'reboot-required']) {
      const dir = runDir();
      if (name === 'reboot-required') writeFileSync(join(dir, 'reboot-required.pkgs'), 'a\n');
      const r = spawnSync('mkfifo', [join(dir, name)]);
      assert.equal(r.status, 0, String(r.stderr));
      const t0 = Date.now();
      assert.throws(() => writeSentinel(dir, ['a']), /is not a regular file/);
      assert.ok(Date.now() - t0 < 2000);
      assert.ok(lstatSync(join(dir, name)).isFIFO(), 'left in place');
    }
  });

  it('refuses a directory in place of the list', () => {
    const dir = runDir();
    mkdirSync(join(dir, 'reboot-required.pkgs'));
    assert.throws(() => writeSentinel(dir, ['a']), /is not a regular file/);
  });
});

describe('writeSentinel on a full or read-only file system (root: a small tmpfs)', () => {
  const mounted: string[] = [];
  after(() => {
    for (const m of mounted.reverse()) spawnSync('umount', [m]);
  });
  /** A fresh tmpfs of `size`, or null when this machine cannot mount one. */
  function tmpfs(size: string): string | null {
    if (process.getuid?.() !== 0) return null;
    const dir = runDir();
    const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0755`, 'tmpfs', dir]);
    if (r.status !== 0) return null;
    mounted.push(dir);
    return dir;
  }
  const mountable = tmpfs('16k') !== null;
  const skip = mountable ? false : 'needs root and permission to mount a tmpfs';

  it('a full file system: an error, the old list intact, no temporary file left', { skip }, () => {
    const dir = tmpfs('8k') ?? '';
    writeFileSync(join(dir, 'reboot-required.pkgs'), 'libc6\n');
    // Fill what is left with one file.
    try {
      writeFileSync(join(dir, 'fill'), Buffer.alloc(64 * 1024));
    } catch {}
    assert.throws(() => writeSentinel(dir, [`pkg-${'x'.repeat(5000)}`]), /ENOSPC/);
    assert.equal(readFileSync(join(dir, 'reboot-required.pkgs'), 'utf8'), 'libc6\n');
    assert.deepEqual(
      readdirSync(dir).filter((n) => n.endsWith('.tmp')),
      [],
    );
  });

  it('a read-only file system: an error, nothing changed', { skip }, () => {
    const dir = tmpfs('16k') ?? '';
    writeFileSync(join(dir, 'reboot-required.pkgs'), 'libc6\n');
    const r = spawnSync('mount', ['-o', 'remount,ro', dir]);
    assert.equal(r.status, 0, String(r.stderr));
    assert.throws(() => writeSentinel(dir, ['dbus']), /EROFS/);
    assert.deepEqual(readdirSync(dir), ['reboot-required.pkgs']);
    assert.equal(readFileSync(join(dir, 'reboot-required.pkgs'), 'utf8'), 'libc6\n');
  });
});
