// /proc/PID/stat's fields: counted after the command name, whatever it holds.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { statFields } from '../../src/procfs/status.ts';

describe('statFields', () => {
  it('starts at the state, after a command name with spaces and parentheses', () => {
    assert.deepEqual(statFields('42 (a) R (b) S 1 42 42'), ['S', '1', '42', '42']);
    assert.equal(statFields('7 (node) R 1 7')?.[0], 'R');
  });

  it('is null for a line without a command name', () => {
    assert.equal(statFields('42 S 1'), null);
  });
});
