// The python3 tests run: the system's (Debian's, with ansible-core and PyYAML), not whatever
// PATH finds first; a pyenv shim there costs a few bash runs per start and lacks those modules.
import { existsSync } from 'node:fs';
import { which } from '../../harness/tools.ts';

export const PYTHON3: string | undefined = existsSync('/usr/bin/python3')
  ? '/usr/bin/python3'
  : which('python3');

/**
 * A Python holder program (run with the harness's spawnHolders: argv[1] its lifetime, argv[2]
 * the test's PID, argv[3:] its own arguments): `body` runs first, then it says ready and waits.
 */
export function pythonHolder(imports: string, body: readonly string[]): string {
  return [
    '#!/usr/bin/python3',
    `import ${imports}, sys, time`,
    ...body,
    'print("ready", flush=True)',
    'end = time.time() + int(sys.argv[1])',
    'while time.time() < end: time.sleep(0.1)',
    '',
  ].join('\n');
}
