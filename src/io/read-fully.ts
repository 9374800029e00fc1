// One bounded read loop for every file read whole: read(2) may return fewer bytes than asked.
import { Buffer } from 'node:buffer';
import { readSync } from 'node:fs';

/**
 * Up to `size` bytes of the open file `fd` from byte `position` on (null: from the file's current
 * offset, for /proc and /sys files read in sequence), fewer when the file ends first (it may
 * shrink between fstat and read). Never reads more than `size`.
 */
export function readFully(fd: number, size: number, position: number | null = 0): Buffer {
  const buf = Buffer.alloc(size);
  let got = 0;
  while (got < size) {
    const n = readSync(fd, buf, got, size - got, position === null ? null : position + got);
    if (n === 0) break;
    got += n;
  }
  return buf.subarray(0, got);
}
