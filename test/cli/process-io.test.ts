// The real process's streams: process.stdin is built on first use only (building it loads fs
// streams, net and tty: ~10 ms of every run's start-up, for the two commands that read it).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { processIo } from '../../src/cli/io.ts';

describe('processIo', () => {
  it('does not touch process.stdin until a command reads it', () => {
    const real = Object.getOwnPropertyDescriptor(process, 'stdin');
    assert.ok(real);
    let touched = 0;
    Object.defineProperty(process, 'stdin', {
      configurable: true,
      get() {
        touched++;
        return real.get ? real.get.call(process) : real.value;
      },
    });
    try {
      const io = processIo();
      assert.equal(io.stdout, process.stdout);
      assert.equal(touched, 0);
      assert.equal(io.stdin, process.stdin);
      assert.equal(touched, 2);
    } finally {
      Object.defineProperty(process, 'stdin', real);
    }
  });
});
