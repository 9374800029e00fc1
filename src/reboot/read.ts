// Bounded reads for the reboot checks: files under /proc, /sys and /lib/firmware are read at most
// up to a limit, so a huge or endless file can neither exhaust memory nor block the verdict.

import type { Buffer } from 'node:buffer';
import { closeSync } from 'node:fs';
import { errnoCode } from '../errors.ts';
import { readFully } from '../io/read-fully.ts';
import { openRegularSync } from '../procfs/reader.ts';

/**
 * The first `max` bytes of a file, and whether there was more. Throws on I/O errors, and on
 * what is not a regular file (a FIFO planted under --root would otherwise block the open).
 */
export function readBounded(path: string, max: number): { data: Buffer; truncated: boolean } {
  const fd = openRegularSync(path);
  try {
    // One byte more than allowed tells "exactly max bytes" from "longer than max".
    const data = readFully(fd, max + 1, null);
    return { data: data.subarray(0, Math.min(data.length, max)), truncated: data.length > max };
  } finally {
    closeSync(fd);
  }
}

export function errorCode(err: unknown): string {
  return errnoCode(err) ?? String(err);
}

/** Missing files are absent facts, not errors. */
export function isMissing(err: unknown): boolean {
  const code = errorCode(err);
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/**
 * A small text file (sysfs attribute, /proc file) up to `max` bytes: null when it does not exist;
 * other errors and oversized files become a note and null.
 */
export function readSmallText(path: string, max: number, notes: string[]): string | null {
  try {
    const { data, truncated } = readBounded(path, max);
    if (truncated) {
      notes.push(`${path} is larger than ${max} bytes: not read`);
      return null;
    }
    return data.toString('utf8');
  } catch (err) {
    if (!isMissing(err)) notes.push(`cannot read ${path}: ${errorCode(err)}`);
    return null;
  }
}
