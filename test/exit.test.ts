import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RESTART_EXIT, restartExitCode } from '../src/exit.ts';

describe('restartExitCode and the plan scan’s coverage', () => {
  const nothing = { plan: [], results: [] };
  const scan = (asRoot: boolean, unreadable: number) => ({ asRoot, summary: { unreadable } });

  it('never says "nothing to do" (0) when, without root, processes could not be read (was: 0)', () => {
    assert.equal(restartExitCode({ ...nothing, scan: scan(false, 12) }), RESTART_EXIT.needsHuman);
    const verified = { plan: [{ needsHuman: false }], results: [{ outcome: 'verified' }] };
    assert.equal(restartExitCode({ ...verified, scan: scan(false, 1) }), RESTART_EXIT.needsHuman);
  });

  it('as root without CAP_SYS_PTRACE, processes it could not read count as for a user', () => {
    const noPtrace = { asRoot: true, ptrace: false, summary: { unreadable: 2 } };
    assert.equal(restartExitCode({ ...nothing, scan: noPtrace }), RESTART_EXIT.needsHuman);
    assert.equal(restartExitCode({ ...nothing, scan: { ...noPtrace, ptrace: true } }), 0);
  });

  it('as root, a process even root cannot read is a note, as for scan', () => {
    assert.equal(restartExitCode({ ...nothing, scan: scan(true, 1) }), RESTART_EXIT.ok);
    assert.equal(restartExitCode({ ...nothing, scan: scan(false, 0) }), RESTART_EXIT.ok);
  });

  it('keeps the stronger statuses first', () => {
    const failed = { plan: [{ needsHuman: false }], results: [{ outcome: 'failed' }] };
    assert.equal(restartExitCode({ ...failed, scan: scan(false, 3) }), RESTART_EXIT.failed);
    assert.equal(
      restartExitCode({ ...nothing, stateError: 'EACCES', scan: scan(false, 3) }),
      RESTART_EXIT.stateNotSaved,
    );
  });
});
