import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { candidatePaths, usrMergeAliases } from '../../src/packages/usrmerge.ts';

describe('usrMergeAliases', () => {
  const cases: [string, string[]][] = [
    ['/lib/x86_64-linux-gnu/libc.so.6', ['/usr/lib/x86_64-linux-gnu/libc.so.6']],
    ['/usr/lib/x86_64-linux-gnu/libc.so.6', ['/lib/x86_64-linux-gnu/libc.so.6']],
    ['/bin/bash', ['/usr/bin/bash']],
    ['/usr/sbin/sshd', ['/sbin/sshd']],
    ['/lib64/ld-linux-x86-64.so.2', ['/usr/lib64/ld-linux-x86-64.so.2']],
    ['/usr/lib32/libc.so.6', ['/lib32/libc.so.6']],
    ['/libx32/libc.so.6', ['/usr/libx32/libc.so.6']],
    ['/usr/libexec/x', []],
    ['/usr/local/lib/libfoo.so', []],
    ['/opt/lib/libfoo.so', []],
    ['/library/x', []],
    ['/lib', []],
    ['/usr/lib', []],
    ['/usr', []],
  ];
  for (const [path, aliases] of cases) {
    it(`${path} → ${aliases.join(', ') || 'none'}`, () =>
      assert.deepEqual(usrMergeAliases(path), aliases));
  }

  it('tries the path as asked first', () => {
    assert.deepEqual(candidatePaths('/usr/bin/perl'), ['/usr/bin/perl', '/bin/perl']);
  });
});
