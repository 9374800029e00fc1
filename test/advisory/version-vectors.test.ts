// The reference vectors of both version orderings the advisories use (src/reboot/version.ts, one
// implementation each): rpm's own rpmvercmp.at table and the comparison table of dpkg's test
// suite (Dpkg_Version.t), written out here as data. Where the real tool is installed, every row
// is also checked against it, so a wrong row cannot hide.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { compareDebVersions, rpmVerCmp } from '../../src/reboot/version.ts';

type Row = readonly [string, string, -1 | 0 | 1];

/** rpm's tests/rpmvercmp.at (RPMVERCMP(a, b, result)). */
const RPMVERCMP: readonly Row[] = [
  ['1.0', '1.0', 0],
  ['1.0', '2.0', -1],
  ['2.0', '1.0', 1],
  ['2.0.1', '2.0.1', 0],
  ['2.0', '2.0.1', -1],
  ['2.0.1', '2.0', 1],
  ['2.0.1a', '2.0.1a', 0],
  ['2.0.1a', '2.0.1', 1],
  ['2.0.1', '2.0.1a', -1],
  ['5.5p1', '5.5p1', 0],
  ['5.5p1', '5.5p2', -1],
  ['5.5p2', '5.5p1', 1],
  ['5.5p10', '5.5p10', 0],
  ['5.5p1', '5.5p10', -1],
  ['5.5p10', '5.5p1', 1],
  ['10xyz', '10.1xyz', -1],
  ['10.1xyz', '10xyz', 1],
  ['xyz10', 'xyz10', 0],
  ['xyz10', 'xyz10.1', -1],
  ['xyz10.1', 'xyz10', 1],
  ['xyz.4', 'xyz.4', 0],
  ['xyz.4', '8', -1],
  ['8', 'xyz.4', 1],
  ['xyz.4', '2', -1],
  ['2', 'xyz.4', 1],
  ['5.5p2', '5.6p1', -1],
  ['5.6p1', '5.5p2', 1],
  ['5.6p1', '6.5p1', -1],
  ['6.5p1', '5.6p1', 1],
  ['6.0.rc1', '6.0', 1],
  ['6.0', '6.0.rc1', -1],
  ['10b2', '10a1', 1],
  ['10a1', '10b2', -1],
  ['1.0aa', '1.0aa', 0],
  ['1.0a', '1.0aa', -1],
  ['1.0aa', '1.0a', 1],
  ['10.0001', '10.0001', 0],
  ['10.0001', '10.1', 0],
  ['10.1', '10.0001', 0],
  ['10.0001', '10.0039', -1],
  ['10.0039', '10.0001', 1],
  ['4.999.9', '5.0', -1],
  ['5.0', '4.999.9', 1],
  ['20101121', '20101121', 0],
  ['20101121', '20101122', -1],
  ['20101122', '20101121', 1],
  ['2_0', '2_0', 0],
  ['2.0', '2_0', 0],
  ['2_0', '2.0', 0],
  ['a', 'a', 0],
  ['a+', 'a+', 0],
  ['a+', 'a_', 0],
  ['a_', 'a+', 0],
  ['+a', '+a', 0],
  ['+a', '_a', 0],
  ['_a', '+a', 0],
  ['+_', '+_', 0],
  ['_+', '+_', 0],
  ['_+', '_+', 0],
  ['+', '_', 0],
  ['_', '+', 0],
  ['1.0~rc1', '1.0~rc1', 0],
  ['1.0~rc1', '1.0', -1],
  ['1.0', '1.0~rc1', 1],
  ['1.0~rc1', '1.0~rc2', -1],
  ['1.0~rc2', '1.0~rc1', 1],
  ['1.0~rc1~git123', '1.0~rc1~git123', 0],
  ['1.0~rc1~git123', '1.0~rc1', -1],
  ['1.0~rc1', '1.0~rc1~git123', 1],
  ['1.0^', '1.0^', 0],
  ['1.0^', '1.0', 1],
  ['1.0', '1.0^', -1],
  ['1.0^git1', '1.0^git1', 0],
  ['1.0^git1', '1.0', 1],
  ['1.0', '1.0^git1', -1],
  ['1.0^git1', '1.0^git2', -1],
  ['1.0^git2', '1.0^git1', 1],
  ['1.0^git1', '1.01', -1],
  ['1.01', '1.0^git1', 1],
  ['1.0^20160101', '1.0^20160101', 0],
  ['1.0^20160101', '1.0.1', -1],
  ['1.0.1', '1.0^20160101', 1],
  ['1.0^20160101^git1', '1.0^20160101^git1', 0],
  ['1.0^20160102', '1.0^20160101^git1', 1],
  ['1.0^20160101^git1', '1.0^20160102', -1],
  ['1.0~rc1^git1', '1.0~rc1^git1', 0],
  ['1.0~rc1^git1', '1.0~rc1', 1],
  ['1.0~rc1', '1.0~rc1^git1', -1],
  ['1.0^git1~pre', '1.0^git1~pre', 0],
  ['1.0^git1', '1.0^git1~pre', 1],
  ['1.0^git1~pre', '1.0^git1', -1],
  ['1b.fc17', '1b.fc17', 0],
  ['1b.fc17', '1.fc17', -1],
  ['1.fc17', '1b.fc17', 1],
  ['1g.fc17', '1g.fc17', 0],
  ['1g.fc17', '1.fc17', 1],
  ['1.fc17', '1g.fc17', -1],
];

/** The version comparison table of dpkg's test suite (Dpkg_Version.t). */
const DPKG: readonly Row[] = [
  ['1.0-1', '2.0-2', -1],
  ['2.2~rc-4', '2.2-1', -1],
  ['2.2-1', '2.2~rc-4', 1],
  ['1.0000-1', '1.0-1', 0],
  ['1', '0:1', 0],
  ['0', '0:0-0', 0],
  ['2:2.5', '1:7.5', 1],
  ['1:0foo', '0foo', 1],
  ['0:0foo', '0foo', 0],
  ['0foo', '0foo', 0],
  ['0foo-0', '0foo', 0],
  ['0foo', '0foo-0', 0],
  ['0foo', '0fo', 1],
  ['0foo-0', '0foo+', -1],
  ['0foo~1', '0foo', -1],
  ['0foo~foo+Bar', '0foo~foo+bar', -1],
  ['0foo~~', '0foo~', -1],
  ['1~', '1', -1],
  ['12345+that-really-is+some-10', '12345+that-really-is+some-11', -1],
  ['0.9.7-3', '0.9.7-3.1', -1],
  ['1.2.3', '1.2.3-0', 0],
  ['7.2', '7.11', -1],
  ['0:3.0~rc1-1', '0:3.0-1', -1],
  ['1.0.0~alpha-1', '1.0.0-1', -1],
  ['1.0', '1.0-0', 0],
  ['1:1.0-0', '1:1.0', 0],
  ['2:2.10-3', '2:2.9-2', 1],
  ['1.1-20080727-1', '1.1-20080316-1', 1],
  ['1.1-20080316-1', '1.1-20080727-1', -1],
  ['9.9-1', '10-1', -1],
  ['1.0a', '1.0', 1],
  ['1.0~a', '1.0', -1],
  ['1.0+a', '1.0a', 1],
  ['1.0-1~', '1.0-1', -1],
];

function hasTool(file: string, args: readonly string[]): boolean {
  try {
    execFileSync(file, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const hasRpm = hasTool('rpm', ['--version']);
const hasDpkg = hasTool('dpkg', ['--version']);

describe('rpmvercmp reference vectors', () => {
  it('rpmVerCmp agrees with every row of rpmvercmp.at', () => {
    for (const [a, b, want] of RPMVERCMP) assert.equal(rpmVerCmp(a, b), want, `${a} vs ${b}`);
  });
  it('every row is what the installed rpm says', {
    skip: hasRpm ? false : 'rpm not installed',
  }, () => {
    // rpm's Lua print() adds no newline: collect the answers and print them once.
    const calls = RPMVERCMP.map(
      ([a, b]) => `r[#r + 1] = rpm.vercmp(${JSON.stringify(a)}, ${JSON.stringify(b)})`,
    );
    const lua = `local r = {} ${calls.join(' ')} print(table.concat(r, ' '))`;
    const out = execFileSync('rpm', ['--eval', `%{lua: ${lua}}`], { encoding: 'utf8' });
    const got = out.trim().split(' ').map(Number);
    assert.deepEqual(
      got,
      RPMVERCMP.map((r) => r[2]),
    );
  });
});

describe('dpkg reference vectors', () => {
  it('compareDebVersions agrees with every row of the dpkg table', () => {
    for (const [a, b, want] of DPKG) assert.equal(compareDebVersions(a, b), want, `${a} vs ${b}`);
  });
  it('every row is what the installed dpkg says', {
    skip: hasDpkg ? false : 'dpkg not installed',
  }, () => {
    const op = { [-1]: 'lt', 0: 'eq', 1: 'gt' } as const;
    // One shell runs dpkg for every row (a start of the test process's size per row cost more).
    const loop =
      'while [ $# -gt 0 ]; do if dpkg --compare-versions "$1" "$2" "$3"; then echo y; else echo n; fi; shift 3; done';
    const rows = DPKG.flatMap(([a, b, want]) => [a, op[want], b]);
    const out = execFileSync('sh', ['-c', loop, 'sh', ...rows], { encoding: 'utf8' }).split('\n');
    DPKG.forEach(([a, b, want], i) => {
      assert.equal(out[i], 'y', `dpkg: ${a} ${op[want]} ${b}`);
    });
  });
});
