// History parsers on real log lines (dpkg.log from Debian 12, dnf.rpm.log from RHEL 9, yum.log
// from CentOS 7), rotations and gzip included, and the bounds on reading them.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import {
  mergeHistory,
  parseDnfRpmLog,
  parseDpkgLog,
  parseNevra,
  parseYumLog,
} from '../../src/advisory/history.ts';
import { dpkgHistory, readLog, rotations, rpmHistory } from '../../src/advisory/history-files.ts';

const utc = (y: number, mo: number, d: number, h: number, mi: number, s: number) =>
  Date.UTC(y, mo - 1, d, h, mi, s);

const DPKG_LOG = `2025-06-24 14:36:24 startup archives unpack
2025-06-24 14:36:25 upgrade libsystemd0:amd64 252.36-1~deb12u1 252.38-1~deb12u1
2025-06-24 14:36:25 status half-configured libsystemd0:amd64 252.36-1~deb12u1
2025-06-24 14:36:25 status unpacked libsystemd0:amd64 252.38-1~deb12u1
2025-06-24 14:36:25 status installed libsystemd0:amd64 252.38-1~deb12u1
2025-06-24 14:36:25 upgrade libudev1:amd64 252.36-1~deb12u1 252.38-1~deb12u1
2025-06-24 14:37:01 install afterpatch-x:all <none> 1.0
2025-06-24 14:37:01 status installed afterpatch-x:all 1.0
2025-06-24 14:38:10 remove afterpatch-x:all 1.0 <none>
2025-06-24 14:38:10 trigproc man-db:amd64 2.11.2-2 <none>
garbage line with 2025-06-24 14:36:25 upgrade x 1 2
`;

describe('dpkg.log', () => {
  it('keeps upgrade, install, remove and status installed of the wanted packages', () => {
    const ev = parseDpkgLog(DPKG_LOG, new Set(['libsystemd0', 'afterpatch-x']), utc);
    assert.deepEqual(
      ev.map((e) => [e.action, e.name, e.from, e.version]),
      [
        ['upgrade', 'libsystemd0', '252.36-1~deb12u1', '252.38-1~deb12u1'],
        ['installed', 'libsystemd0', null, '252.38-1~deb12u1'],
        ['install', 'afterpatch-x', null, '1.0'],
        ['installed', 'afterpatch-x', null, '1.0'],
        ['remove', 'afterpatch-x', null, null],
      ],
    );
    assert.equal(ev[0]?.time, Date.UTC(2025, 5, 24, 14, 36, 25));
    assert.equal(parseDpkgLog(DPKG_LOG, null, utc).length, 6);
  });
});

describe('dnf.rpm.log and yum.log', () => {
  const DNF = `2024-07-10T09:15:02+0000 SUBDEBUG Upgrade: openssl-libs-1:3.0.7-27.el9.x86_64
2024-07-10T09:15:03+0000 SUBDEBUG Upgrade: openssl-1:3.0.7-27.el9.x86_64
2024-07-10T09:15:04+0000 SUBDEBUG Upgraded: openssl-1:3.0.7-25.el9_3.x86_64
2024-07-10T09:15:04+0000 SUBDEBUG Upgraded: openssl-libs-1:3.0.7-25.el9_3.x86_64
2024-07-10T09:15:05+0200 SUBDEBUG Installed: curl-7.76.1-29.el9_4.x86_64
2024-07-10T09:16:00+0000 INFO --- logging initialized ---
2024-07-11T10:00:00+0000 SUBDEBUG Erase: openssl-libs-1:3.0.7-27.el9.x86_64
`;
  it('pairs Upgrade with Upgraded and reads the zone', () => {
    const ev = parseDnfRpmLog(DNF, new Set(['openssl-libs']));
    assert.deepEqual(
      ev.map((e) => [e.action, e.from, e.version, new Date(e.time).toISOString()]),
      [
        ['upgrade', '1:3.0.7-25.el9_3', '1:3.0.7-27.el9', '2024-07-10T09:15:02.000Z'],
        ['remove', null, null, '2024-07-11T10:00:00.000Z'],
      ],
    );
  });

  it('parses NEVRAs with and without epochs, in both orders', () => {
    assert.deepEqual(parseNevra('openssl-libs-1:3.0.7-27.el9.x86_64'), {
      name: 'openssl-libs',
      arch: 'x86_64',
      version: '1:3.0.7-27.el9',
    });
    assert.deepEqual(parseNevra('1:openssl-libs-1.0.2k-26.el7_9.x86_64'), {
      name: 'openssl-libs',
      arch: 'x86_64',
      version: '1:1.0.2k-26.el7_9',
    });
    assert.deepEqual(parseNevra('glibc-2.17-326.el7_9.x86_64')?.version, '2.17-326.el7_9');
    assert.equal(parseNevra('nonsense'), null);
  });

  it('gives yum.log entries a year, counting back over new year', () => {
    const YUM = `Dec 30 10:00:00 Updated: 1:openssl-libs-1.0.2k-25.el7_9.x86_64
Jan 02 11:00:00 Updated: 1:openssl-libs-1.0.2k-26.el7_9.x86_64
Jan 02 11:00:01 Installed: glibc-2.17-326.el7_9.x86_64
Mar  5 08:00:00 Erased: openssl-libs`;
    const ev = parseYumLog(YUM, new Set(['openssl-libs']), 2024, utc);
    assert.deepEqual(
      ev.map((e) => [e.action, e.version, new Date(e.time).toISOString()]),
      [
        ['install', '1:1.0.2k-25.el7_9', '2023-12-30T10:00:00.000Z'],
        ['install', '1:1.0.2k-26.el7_9', '2024-01-02T11:00:00.000Z'],
        ['remove', null, '2024-03-05T08:00:00.000Z'],
      ],
    );
  });

  it('merges rotations in time order', () => {
    const a = parseDpkgLog('2025-01-02 00:00:00 upgrade a 2 3\n', null, utc);
    const b = parseDpkgLog('2025-01-01 00:00:00 upgrade a 1 2\n', null, utc);
    assert.deepEqual(
      mergeHistory([a, b]).map((e) => e.version),
      ['2', '3'],
    );
  });
});

describe('reading the logs', () => {
  const root = mkdtempSync(join(tmpdir(), 'afterpatch-history-'));
  after(() => rmSync(root, { recursive: true, force: true }));
  const log = join(root, 'var/log');
  mkdirSync(log, { recursive: true });
  writeFileSync(join(log, 'dpkg.log'), '2025-03-01 00:00:00 upgrade libfoo1:amd64 2 3\n');
  writeFileSync(join(log, 'dpkg.log.1'), '2025-02-01 00:00:00 upgrade libfoo1:amd64 1 2\n');
  writeFileSync(
    join(log, 'dpkg.log.2.gz'),
    gzipSync(
      '2025-01-01 00:00:00 install libfoo1:amd64 <none> 1\n2025-01-01 00:00:00 install other:amd64 <none> 9\n',
    ),
  );
  writeFileSync(join(log, 'dpkg.log.3.gz'), 'not gzip');

  it('reads dpkg.log, .1 and .N.gz, keeping the wanted packages only', () => {
    assert.deepEqual(
      rotations(log, 'dpkg.log').map((p) => p.slice(log.length + 1)),
      ['dpkg.log', 'dpkg.log.1', 'dpkg.log.2.gz', 'dpkg.log.3.gz'],
    );
    const ev = dpkgHistory(root, new Set(['libfoo1']));
    assert.deepEqual(
      ev.map((e) => [e.action, e.from, e.version]),
      [
        ['install', null, '1'],
        ['upgrade', '1', '2'],
        ['upgrade', '2', '3'],
      ],
    );
  });

  it('reads only the newest part of a huge log, and nothing that is not a plain file', () => {
    const big = join(root, 'big.log');
    writeFileSync(big, `${'x'.repeat(100)}\nline two\nline three\n`);
    const r = readLog(big, 20);
    assert.deepEqual(r && { text: r.text, truncated: r.truncated }, {
      text: 'line three\n',
      truncated: true,
    });
    symlinkSync(big, join(root, 'link.log'));
    assert.equal(readLog(join(root, 'link.log')), null);
    assert.equal(readLog(root), null);
    assert.equal(readLog(join(root, 'absent.log')), null);
    // A FIFO neither blocks nor counts as a log.
    execFileSync('mkfifo', [join(root, 'fifo.log')]);
    assert.equal(readLog(join(root, 'fifo.log')), null);
    // A gzip bomb stops at the bound instead of filling memory.
    const bomb = join(root, 'bomb.log.gz');
    writeFileSync(bomb, gzipSync(Buffer.alloc(10_000_000)));
    assert.equal(readLog(bomb, 1_000_000), null);
  });

  it('finds no rpm history where there is none', () => {
    assert.deepEqual(rpmHistory(root, null), []);
  });
});
