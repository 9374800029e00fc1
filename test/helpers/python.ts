// The python3 tests run: the system's (Debian's, with ansible-core and PyYAML), not whatever
// PATH finds first; a pyenv shim there costs a few bash runs per start and lacks those modules.
import { existsSync } from 'node:fs';
import { which } from '../../harness/tools.ts';

export const PYTHON3: string | undefined = existsSync('/usr/bin/python3')
  ? '/usr/bin/python3'
  : which('python3');
