import assert from 'node:assert/strict';
import { closeSync, openSync, readSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { readFully } from '../../src/io/read-fully.ts';
import { scratchDirs } from '../helpers/scratch.ts';

describe('readFully', () => {
  const scratch = scratchDirs('afterpatch-read-fully');
  const withFile = <T>(bytes: string, f: (fd: number) => T): T => {
    const path = join(scratch(), 'f');
    writeFileSync(path, bytes);
    const fd = openSync(path, 'r');
    try {
      return f(fd);
    } finally {
      closeSync(fd);
    }
  };

  it('reads the whole file when asked for its size', () => {
    const big = 'x'.repeat(300_000);
    assert.equal(
      withFile(big, (fd) => readFully(fd, big.length).toString()),
      big,
    );
  });

  it('stops at the end of a file shorter than asked (it shrank after fstat)', () => {
    assert.equal(
      withFile('abc', (fd) => readFully(fd, 10).toString()),
      'abc',
    );
  });

  it('never reads more than asked', () => {
    assert.equal(
      withFile('abcdef', (fd) => readFully(fd, 4).toString()),
      'abcd',
    );
  });

  it('starts at the given position', () => {
    assert.equal(
      withFile('abcdef', (fd) => readFully(fd, 3, 2).toString()),
      'cde',
    );
  });

  it('with position null reads on from the current offset', () => {
    const got = withFile('abcdef', (fd) => {
      readSync(fd, Buffer.alloc(2), 0, 2, null);
      return readFully(fd, 10, null).toString();
    });
    assert.equal(got, 'cdef');
  });
});
