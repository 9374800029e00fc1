import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hasCapability, isPartialScan, unreadableNote } from '../../src/scan/coverage.ts';

describe('scan coverage: partial or whole, and why', () => {
  const cov = (asRoot: boolean, ptrace: boolean | undefined, unreadable: number) => ({
    asRoot,
    ptrace,
    summary: { unreadable, scanned: 100 },
  });

  it('is partial when processes could not be read without root, or as root without CAP_SYS_PTRACE (was: whole as root)', () => {
    assert.equal(isPartialScan(cov(false, false, 3)), true);
    assert.equal(isPartialScan(cov(false, true, 3)), true);
    assert.equal(isPartialScan(cov(true, false, 3)), true);
    // As root with the capability the kernel refused root itself: a note, not a gap.
    assert.equal(isPartialScan(cov(true, true, 3)), false);
    // A report read back from JSON has no ptrace field: its `partial` decides, else as root has.
    assert.equal(isPartialScan(cov(true, undefined, 3)), false);
    assert.equal(isPartialScan({ ...cov(true, undefined, 3), partial: true }), true);
    assert.equal(isPartialScan({ ...cov(false, undefined, 3), partial: false }), false);
    for (const [root, ptrace] of [
      [false, false],
      [true, false],
      [true, true],
    ] as const)
      assert.equal(isPartialScan(cov(root, ptrace, 0)), false);
  });

  it('says what to do in each case', () => {
    assert.equal(unreadableNote(cov(true, true, 0)), null);
    assert.equal(
      unreadableNote(cov(false, false, 3)),
      '3 of 103 processes could not be read: run as root to see all.',
    );
    assert.equal(
      unreadableNote(cov(true, false, 3)),
      "3 of 103 processes could not be read: afterpatch runs without CAP_SYS_PTRACE, which reading other users' processes needs.",
    );
    assert.equal(
      unreadableNote(cov(true, true, 1)),
      '1 of 101 processes could not be read (access denied even to root).',
    );
  });

  it('reads CAP_SYS_PTRACE (bit 19) from the CapEff line only', () => {
    const status = (eff: string, prm = 'ffffffffff') =>
      `Name:\tx\nCapInh:\t0000000000000000\nCapPrm:\t${prm}\nCapEff:\t${eff}\nCapBnd:\t000001ffffffffff\n`;
    assert.equal(hasCapability(status('000001ffffffffff'), 19), true);
    assert.equal(hasCapability(status('000001fffff7ffff'), 19), false);
    assert.equal(hasCapability(status('0000000000080000', '0'), 19), true);
    assert.equal(hasCapability(status('0000000000000000'), 19), false);
    // No or a malformed CapEff line: not known to have it.
    assert.equal(hasCapability('Name:\tx\nCapPrm:\tffffffffff\n', 19), false);
    assert.equal(hasCapability(status('zz'), 19), false);
  });
});
