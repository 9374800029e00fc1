// Opening a file that someone else may have planted (a state file, a reboot sentinel) without
// following a symlink and without blocking on a FIFO.
import { constants, openSync } from 'node:fs';
import { errnoCode } from '../errors.ts';

/** The fd, null when the file does not exist, 'symlink' when it is one; other errors throw. */
export function openNoFollow(path: string): number | null | 'symlink' {
  try {
    return openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT') return null;
    if (code === 'ELOOP') return 'symlink';
    throw err;
  }
}
