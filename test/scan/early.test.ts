// What a scanning command sets up before its command line is parsed: the JIT's budget for every
// command that scans, prewarmed threads only when it reads the host's whole /proc itself.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cachedDataVersionTag } from 'node:v8';
import { prepareForScan } from '../../src/scan/early.ts';

const argv = (...args: string[]) => ['node', 'afterpatch', ...args];
const twoThreads = () => 2;

describe('prepareForScan', () => {
  it('prepares the commands that scan the whole process table', () => {
    for (const cmd of ['scan', 'check', 'metrics', 'restart', 'reboot-required'])
      assert.deepEqual(
        prepareForScan(argv(cmd, '--json'), twoThreads),
        { jit: true, threads: 2 },
        cmd,
      );
  });

  it('changes no V8 flag itself (a flag set before a thread starts costs it the code cache)', () => {
    const before = cachedDataVersionTag();
    assert.deepEqual(prepareForScan(argv('scan'), twoThreads), { jit: true, threads: 2 });
    assert.equal(cachedDataVersionTag(), before);
  });

  it('leaves the other commands, help and an empty command line alone', () => {
    for (const args of [
      ['report', 'a.json'],
      ['config'],
      ['serve'],
      ['scan', '--help'],
      ['-h'],
      [],
    ])
      assert.deepEqual(
        prepareForScan(argv(...args), twoThreads),
        { jit: false, threads: 0 },
        args.join(' '),
      );
  });

  it('a thread that cannot be started early is no error (the scan starts its own)', () => {
    const failing = () => {
      throw new Error('pthread_create: Resource temporarily unavailable');
    };
    assert.deepEqual(prepareForScan(argv('scan'), failing), { jit: true, threads: 0 });
  });

  it('starts no thread when the options change what is read or how many threads read it', () => {
    for (const flag of ['--threads', '--threads=1', '--proc-root', '--pid=1'])
      assert.deepEqual(
        prepareForScan(argv('scan', flag, '1'), twoThreads),
        { jit: true, threads: 0 },
        flag,
      );
  });
});
