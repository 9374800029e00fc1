// Asserts how a bad configuration is refused: a UserError, one line, naming file, line and key.
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config/load.ts';
import { UserError } from '../../src/errors.ts';

export function assertConfigRefused(text: string, message: RegExp): void {
  assert.throws(
    () => parseConfig(text, 'f.toml'),
    (e: unknown) => {
      assert.ok(e instanceof UserError);
      assert.match(e.message, message);
      assert.ok(!e.message.includes('\n'), 'one line');
      return true;
    },
  );
}
