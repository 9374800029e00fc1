// The dnf integration files (integrations/dnf/): their format. The hook itself is the apt hook
// under another name; real dnf 4 transactions run it in dnf-hook.integration.test.ts (dnf 5 is
// not in Debian 12: its file is checked here only).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { lstatSync, readFileSync, readlinkSync, realpathSync } from 'node:fs';
import { describe, it } from 'node:test';
import { which } from '../../harness/tools.ts';

const DIR = new URL('../../integrations/dnf/', import.meta.url).pathname;
const APT_HOOK = new URL('../../integrations/apt/afterpatch-apt-hook', import.meta.url).pathname;
const INSTALLED = '/usr/lib/afterpatch/dnf-hook';

/** Non-comment, non-empty lines (how dnf reads these files). */
function actionLines(name: string): string[] {
  return readFileSync(`${DIR}${name}`, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

describe('dnf integration files', () => {
  it('afterpatch.py (dnf 4 plugin) runs the installed hook without a shell; afterpatch.conf enables it', () => {
    const plugin = readFileSync(`${DIR}afterpatch.py`, 'utf8');
    assert.match(plugin, new RegExp(`^HOOK = "${INSTALLED}"$`, 'm'));
    assert.match(plugin, /^class Afterpatch\(dnf\.Plugin\):\n {4}name = "afterpatch"$/m);
    assert.match(plugin, /stdin=subprocess\.DEVNULL/);
    assert.doesNotMatch(plugin, /shell\s*=|os\.system|os\.popen/);
    const conf = actionLines('afterpatch.conf');
    assert.deepEqual(conf, ['[main]', 'enabled = 1']);
  });

  it('afterpatch.py is valid Python 3.6 syntax and passes pyflakes (when python3 is here)', {
    skip: which('python3') === undefined ? 'no python3' : false,
  }, () => {
    const compile = spawnSync('python3', [
      '-c',
      'import ast, sys; ast.parse(open(sys.argv[1]).read(), feature_version=(3, 6))',
      `${DIR}afterpatch.py`,
    ]);
    assert.equal(compile.status, 0, String(compile.stderr));
    const flakes = spawnSync('python3', ['-m', 'pyflakes', `${DIR}afterpatch.py`]);
    if (/No module named pyflakes/.test(String(flakes.stderr))) return;
    assert.equal(flakes.status, 0, `${flakes.stdout}${flakes.stderr}`);
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
