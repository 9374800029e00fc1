import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  compareDebVersions,
  compareRpmVersions,
  parseDebVersion,
  parseRpmEvr,
  rpmVerCmp,
} from '../../src/reboot/version.ts';

// Expected orderings; every row was checked against `dpkg --compare-versions` (dpkg 1.21) and
// rpm 4.18's `rpm.vercmp` when the table was written.

/** [a, b, compare(a, b)] */
type Case = readonly [string, string, -1 | 0 | 1];

const DEB_CASES: readonly Case[] = [
  ['1.0', '1.0', 0],
  ['1.0', '1.1', -1],
  ['1.10', '1.9', 1],
  ['1.0', '1.0.0', -1],
  ['1.01', '1.1', 0],
  ['0001', '1', 0],
  ['1.0~rc1', '1.0', -1],
  ['1.0~rc1', '1.0~rc2', -1],
  ['1.0~~', '1.0~', -1],
  ['1.0~~a', '1.0~~', 1],
  ['1.0~', '1.0', -1],
  ['1.0~rc1-1', '1.0-1', -1],
  ['1.0+dfsg', '1.0', 1],
  ['1.0+dfsg-1', '1.0-1', 1],
  ['1.0a', '1.0', 1],
  ['1.0a', '1.0+', -1],
  ['1.0a', '1.0.', -1],
  ['1.0A', '1.0a', -1],
  ['1.0z-1', '1.0-a-1', -1],
  ['1:0.1', '2.0', 1],
  ['0:1.0', '1.0', 0],
  ['1:1.0', '1:1.0-0', 0],
  ['2:1.0', '10:0.1', -1],
  ['10:1.0', '9:9.9', 1],
  ['1.0', '1.0-0', 0],
  ['1.0-1', '1.0-2', -1],
  ['1.0-10', '1.0-9', 1],
  ['1.0-1', '1.0-1.1', -1],
  ['1.0-1ubuntu1', '1.0-1', 1],
  ['1.0-1ubuntu1', '1.0-2', -1],
  ['1.0-1~bpo1', '1.0-1', -1],
  ['1.0-1+deb12u1', '1.0-1', 1],
  ['2.36-9+deb12u4', '2.36-9+deb12u10', -1],
  ['3.0.11-1~deb12u2', '3.0.11-1', -1],
  ['1.2-3-4', '1.2-3-5', -1],
  ['1.2-3-4', '1.2-3', 1],
  ['6.1.0-26-amd64', '6.1.0-9-amd64', 1],
  ['6.1.0-26-amd64', '6.1.0-26-amd64', 0],
  ['6.1.0-28-amd64', '6.10.6+bpo-amd64', -1],
  ['6.12.12-amd64', '6.12.9-amd64', 1],
  ['6.8.0-45-generic', '6.8.0-100-generic', -1],
  ['5.15.0-91-generic', '6.8.0-45-generic', -1],
  ['6.1.0-0.deb11.13-amd64', '6.1.0-0.deb11.9-amd64', 1],
  ['6.1.112-1', '6.1.106-3', 1],
  ['1.18446744073709551616', '1.18446744073709551615', 1],
  ['a', 'b', -1],
  ['0', '00', 0],
  ['1.0~rc1', '1.0~RC1', 1],
  [' 1.0 ', '1.0', 0],
];

const RPM_CASES: readonly Case[] = [
  ['1.0', '1.0', 0],
  ['1.0', '1.1', -1],
  ['1.10', '1.9', 1],
  ['1.0', '1.0.0', -1],
  ['1.01', '1.1', 0],
  ['2.0.1a', '2.0.1', 1],
  ['2.0.1a', '2.0.1b', -1],
  ['5.5p1', '5.5p2', -1],
  ['5.5p10', '5.5p2', 1],
  ['10xyz', '10.1xyz', -1],
  ['xyz10', 'xyz10.1', -1],
  ['xyz.4', '8', -1],
  ['1.0a', '1.0.1', -1],
  ['1.0', '1.0a', -1],
  ['a', '1', -1],
  ['1', 'a', 1],
  ['1.0', '1_0', 0],
  ['1.0', '1..0', 0],
  ['1.0', '1.0.', 0],
  ['1b.fc17', '1.fc17', -1],
  ['1.0~rc1', '1.0', -1],
  ['1.0~rc1', '1.0~rc2', -1],
  ['1.0~rc1~git', '1.0~rc1', -1],
  ['1.0~', '1.0', -1],
  ['1.0^', '1.0', 1],
  ['1.0^git1', '1.0', 1],
  ['1.0^git1', '1.0.1', -1],
  ['1.0^git1', '1.0^git2', -1],
  ['1.0^git1', '1.01', -1],
  ['1.0^git1', '1.00', 1],
  ['1.0^20160101', '1.0.1', -1],
  ['1.0~rc1^git1', '1.0~rc1', 1],
  ['1.0~rc1^git1', '1.0', -1],
  ['1.0^git1~pre', '1.0^git1', -1],
  ['1:0.1', '2.0', 1],
  ['0:1.0', '1.0', 0],
  ['1:1.0-1', '1:1.0-2', -1],
  ['2:1.0', '10:0.1', -1],
  ['1.0', '1.0-3', -1],
  ['1.0-', '1.0', 1],
  ['a:1.0', '1.0', -1],
  ['1.0-1', '1.0-1.el9', -1],
  ['1.0-1.el9', '1.0-1.el9_4', -1],
  ['5.14.0-427.13.1.el9_4', '5.14.0-427.13.1.el9_4', 0],
  ['5.14.0-427.13.1.el9_4', '5.14.0-503.11.1.el9_5', -1],
  ['5.14.0-427.40.1.el9_4', '5.14.0-427.13.1.el9_4', 1],
  ['5.14.0-427.13.1.el9_4.x86_64', '5.14.0-362.24.1.el9_3.x86_64', 1],
  ['6.10.6-200.fc40.x86_64', '6.9.12-200.fc40.x86_64', 1],
  ['4.18.0-553.el8_10', '4.18.0-513.24.1.el8_9', 1],
  ['3.0.7-27.el9', '1:3.0.7-27.el9', -1],
  ['2.34-100.el9_4.2', '2.34-100.el9_4.10', -1],
  ['1.18446744073709551616', '1.18446744073709551615', 1],
  ['1.0-1-2', '1.0-1-3', -1],
  ['1.0-1-2', '1.0-1', 1],
];

function checkTable(name: string, cases: readonly Case[], cmp: (a: string, b: string) => number) {
  describe(name, () => {
    it(`has a large table (${cases.length} cases)`, () => {
      assert.ok(cases.length >= 40);
    });
    for (const [a, b, want] of cases) {
      it(`${JSON.stringify(a)} vs ${JSON.stringify(b)} → ${want}`, () => {
        assert.equal(cmp(a, b), want);
        assert.equal(cmp(b, a), -want || 0, 'antisymmetric');
      });
    }
  });
}

checkTable('compareDebVersions', DEB_CASES, compareDebVersions);
checkTable('compareRpmVersions', RPM_CASES, compareRpmVersions);

describe('sorting with the comparators', () => {
  it('orders Debian kernel releases', () => {
    const releases = ['6.1.0-9-amd64', '6.1.0-26-amd64', '5.10.0-32-amd64', '6.1.0-10-amd64'];
    assert.deepEqual(releases.sort(compareDebVersions), [
      '5.10.0-32-amd64',
      '6.1.0-9-amd64',
      '6.1.0-10-amd64',
      '6.1.0-26-amd64',
    ]);
  });

  it('orders a Debian upload sequence', () => {
    const sequence = [
      '1.0~beta1-1',
      '1.0~rc1-1',
      '1.0-1~bpo12+1',
      '1.0-1',
      '1.0-1+deb12u1',
      '1.0-2',
      '1:0.9-1',
    ];
    const shuffled = [...sequence].reverse();
    assert.deepEqual(shuffled.sort(compareDebVersions), sequence);
  });

  it('orders an rpm snapshot sequence', () => {
    const sequence = ['1.0~rc1', '1.0~rc1^git2', '1.0', '1.0^git1', '1.0^git2', '1.0.1', '1:0.1'];
    const shuffled = [...sequence].reverse();
    assert.deepEqual(shuffled.sort(compareRpmVersions), sequence);
  });
});

describe('parsing', () => {
  it('splits Debian versions at the first colon and the last hyphen', () => {
    assert.deepEqual(parseDebVersion('1:2.3-4-5'), {
      epoch: '1',
      upstream: '2.3-4',
      revision: '5',
    });
    assert.deepEqual(parseDebVersion('2.36'), { epoch: '0', upstream: '2.36', revision: '' });
  });

  it('splits rpm EVRs and keeps a missing epoch/release apart from an empty one', () => {
    assert.deepEqual(parseRpmEvr('3:5.14.0-427.13.1.el9_4'), {
      epoch: '3',
      version: '5.14.0',
      release: '427.13.1.el9_4',
    });
    assert.deepEqual(parseRpmEvr('1.0'), { epoch: null, version: '1.0', release: null });
    assert.deepEqual(parseRpmEvr('1.0-'), { epoch: null, version: '1.0', release: '' });
  });

  it('rpmVerCmp compares bare version strings (a colon is only a separator there)', () => {
    assert.equal(rpmVerCmp('1:0.1', '2.0'), -1);
    assert.equal(rpmVerCmp('1.0', '1.0'), 0);
  });
});
