// The dnf integration files (integrations/dnf/): their format. The hook itself is the apt hook
// under another name; real dnf 4 transactions run it in dnf-hook.integration.test.ts (dnf 5 is
// not in Debian 12: its file is checked here only).
import assert from 'node:assert/strict';
import { lstatSync, readFileSync, readlinkSync, realpathSync } from 'node:fs';
import { describe, it } from 'node:test';

const DIR = new URL('../../integrations/dnf/', import.meta.url).pathname;
const APT_HOOK = new URL('../../integrations/apt/afterpatch-apt-hook', import.meta.url).pathname;
const INSTALLED = '/usr/lib/afterpatch/dnf-hook';

/** Non-comment, non-empty lines (how both plugins read their files). */
function actionLines(name: string): string[] {
  return readFileSync(`${DIR}${name}`, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

describe('dnf integration files', () => {
  it('afterpatch.action (dnf 4 post-transaction-actions): one line, once per transaction', () => {
    const lines = actionLines('afterpatch.action');
    assert.equal(lines.length, 1);
    // The plugin splits on the first two colons: filter, state, shell command.
    const [filter, state, command] = (lines[0] ?? '').split(/:(.*?):(.*)/s).filter((x) => x);
    assert.equal(filter, '*');
    assert.equal(state, 'in', 'only when a package came in');
    assert.equal(command, INSTALLED);
    // No $variables: after substitution every match gives the same command, run once.
    assert.doesNotMatch(command ?? '', /\$/);
  });

  it('afterpatch.actions (dnf 5 actions plugin): five fields, empty filter', () => {
    const lines = actionLines('afterpatch.actions');
    assert.equal(lines.length, 1);
    const fields = (lines[0] ?? '').split(':');
    assert.equal(fields.length, 5);
    const [callback, filter, direction, options, command] = fields;
    assert.equal(callback, 'post_transaction');
    assert.equal(filter, '', 'empty filter: once per transaction');
    assert.equal(direction, '', 'a direction needs a filter');
    assert.equal(options, '');
    assert.equal(command, INSTALLED);
  });

  it('afterpatch-dnf-hook is the apt hook under the name that selects hooks.dnf', () => {
    assert.ok(lstatSync(`${DIR}afterpatch-dnf-hook`).isSymbolicLink());
    assert.equal(readlinkSync(`${DIR}afterpatch-dnf-hook`), '../apt/afterpatch-apt-hook');
    assert.equal(realpathSync(`${DIR}afterpatch-dnf-hook`), realpathSync(APT_HOOK));
    assert.match(
      readFileSync(APT_HOOK, 'utf8'),
      /\*dnf\*\)\n\s+me=afterpatch-dnf-hook\n\s+hook_key=dnf/,
    );
  });
});
