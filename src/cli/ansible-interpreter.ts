// The standalone binary as the interpreter of afterpatch's own Ansible module, for hosts without
// Node.js. The module starts with `#!/usr/bin/env node`; with `ansible_env_interpreter` set to
// the binary, Ansible replaces only `/usr/bin/env` and runs `afterpatch node MODULE ARGS`
// (docs/fleet.md). Only that module runs this way: the binary is no general JavaScript runtime.
import { readFileSync } from 'node:fs';
import { runInThisContext } from 'node:vm';
import { errnoCode } from '../errors.ts';

/** A line of the module's header comment; a file without it is refused. */
export const MODULE_MARKER = 'Ansible module `afterpatch` (WANT_JSON)';

/** True when argv (SEA layout: [binary, binary, …]) asks for the module interpreter. */
export function wantsModuleInterpreter(argv: readonly string[]): boolean {
  return argv[2] === 'node' && argv.length >= 4 && argv.length <= 5;
}

export function runAnsibleModule(argv: readonly string[], req: NodeJS.Require): void {
  const file = argv[3] ?? '';
  let source: string;
  try {
    source = readFileSync(file, 'utf8');
  } catch (e) {
    process.stderr.write(
      `afterpatch: cannot read the Ansible module ${file} (${errnoCode(e) ?? e}).\n`,
    );
    process.exitCode = 2;
    return;
  }
  if (!source.includes(MODULE_MARKER)) {
    process.stderr.write(
      `afterpatch: ${file} is not afterpatch's Ansible module; "afterpatch node FILE ARGS" runs only that module (use node for anything else).\n`,
    );
    process.exitCode = 2;
    return;
  }
  // The shebang is no JavaScript inside a function; blank it and keep the line numbers.
  const body = source.startsWith('#!') ? source.replace(/^#![^\n]*/, '') : source;
  process.argv = [process.execPath, file, ...argv.slice(4)];
  // The module calls this binary for scan/restart unless its `afterpatch` option says otherwise.
  process.env.AFTERPATCH_ANSIBLE_CLI = process.execPath;
  const run = runInThisContext(`(function (require) {${body}\n})`, { filename: file });
  run(req);
}
