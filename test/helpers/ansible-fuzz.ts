// The Ansible modules as the fuzz tests run them (test/fuzz/parsers.test.ts: fixed inputs;
// test/fuzz/ansible-module.integration.test.ts: the property over many inputs), and the hostile
// text both generate from.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import fc from 'fast-check';

/** Any code unit, including controls, C1, surrogates and the bytes the kernel escapes. */
export const hostile = fc.string({ unit: 'binary', maxLength: 300 });
export const controlHeavy = fc.string({
  unit: fc.oneof(
    fc.constantFrom(
      '\x1b',
      '\x07',
      '\x9b',
      '\u202e',
      '\u2028',
      '\ud800',
      '\n',
      '\0',
      ':',
      '/',
      ' ',
    ),
    fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 1 }),
  ),
  maxLength: 200,
});
export const text = fc.oneof(hostile, controlHeavy);

// Both modules: the Node.js one (WANT_JSON, the arguments as they are) and the Python one
// (AnsibleModule: the arguments under ANSIBLE_MODULE_ARGS, as AnsiballZ passes them).
const LIBRARY = new URL('../../integrations/ansible/library/', import.meta.url).pathname;
export const MODULES = [
  {
    name: 'afterpatch_node',
    argv: [process.execPath, join(LIBRARY, 'afterpatch_node')],
    wrap: false,
  },
  {
    name: 'afterpatch (Python)',
    argv: ['/usr/bin/python3', join(LIBRARY, 'afterpatch.py')],
    wrap: true,
  },
] as const;
export type FuzzModule = (typeof MODULES)[number];
const hasAnsible = existsSync('/usr/lib/python3/dist-packages/ansible/module_utils/basic.py');

/** Why this module cannot run here (a describe's skip), or false. */
export const skipModule = (mod: FuzzModule): string | false =>
  mod.wrap && !hasAnsible ? 'ansible-core not installed for /usr/bin/python3' : false;

/**
 * Runs `mod` on an arguments file holding `args`, in a scratch directory of the calling suite
 * (call it inside a describe). No CLI on the PATH: the module stops at "not installed" after
 * parsing the arguments.
 */
export function moduleRunner(
  mod: FuzzModule,
): (args: string) => Promise<{ stdout: string; ms: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'afterpatch-fuzz-module-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  let n = 0;
  return (args) =>
    new Promise((resolve) => {
      const file = join(dir, `args-${n++}.json`);
      // A JSON object goes under ANSIBLE_MODULE_ARGS for the Python module; anything else as is.
      let text = args;
      try {
        const v: unknown = JSON.parse(args);
        if (mod.wrap && v !== null && typeof v === 'object' && !Array.isArray(v))
          text = JSON.stringify({ ANSIBLE_MODULE_ARGS: v });
      } catch {}
      writeFileSync(file, text);
      const t0 = Date.now();
      const [cmd, ...argv] = mod.argv;
      execFile(
        cmd,
        [...argv, file],
        { env: { PATH: '/nonexistent' }, cwd: dir, timeout: 20_000 },
        (_e, stdout) => resolve({ stdout, ms: Date.now() - t0 }),
      );
    });
}
