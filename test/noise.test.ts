import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NOISE_RULES, noiseMatcher, unknownRules } from '../src/scan/noise.ts';

describe('noise rules', () => {
  const match = noiseMatcher();
  const cases: [string, string | null][] = [
    ['/memfd:jit-cache', 'memfd'],
    ['/memfd:', 'memfd'],
    ['/SYSV00000000', 'sysv-shm'],
    ['/SYSV1a2b3c4d', 'sysv-shm'],
    ['/anon_hugepage', 'anon-hugepage'],
    ['/drm mm object', 'drm'],
    ['/[aio]', 'aio'],
    ['/dev/shm/pulse-shm-1234', 'dev-shm'],
    ['/dev/zero', 'dev'],
    ['/dev/nvidia0', 'dev'],
    ['/tmp/libfoo.so', 'tmp'],
    ['/var/tmp/x/lib.so', 'tmp'],
    ['/run/user/1000/x', 'run'],
    ['/var/run/x', 'run'],
    ['/home/u/.cache/JNA/temp/jna123.tmp', 'jna'],
    ['/opt/app/jna3456789012345.tmp', 'jna'],
    ['/home/u/orcexec.AbC123', 'orcexec'],
    ['/#1234', 'plasmashell'],
    ['/usr/lib/x86_64-linux-gnu/libssl.so.3', null],
    ['/usr/sbin/nginx', null],
    ['/opt/tmp/lib.so', null],
    ['/srv/run/lib.so', null],
    ['/SYSV0000', null],
    ['/usr/lib/devel/lib.so', null],
  ];
  for (const [path, rule] of cases) {
    it(`${path} → ${rule ?? 'kept'}`, () => assert.equal(match(path), rule));
  }

  it('can switch a rule off by id', () => {
    const m = noiseMatcher({ disabled: ['tmp'] });
    assert.equal(m('/tmp/libfoo.so'), null);
    assert.equal(m('/memfd:x'), 'memfd');
  });

  it('adds rules from configuration as regular expressions', () => {
    const m = noiseMatcher({ extra: ['^/opt/scratch/', 'cache\\.so$'] });
    assert.equal(m('/opt/scratch/a.so'), 'config:1');
    assert.equal(m('/usr/lib/cache.so'), 'config:2');
    assert.equal(m('/usr/lib/libz.so'), null);
  });

  it('has unique ids and reports unknown ones', () => {
    const ids = NOISE_RULES.map((r) => r.id);
    assert.equal(new Set(ids).size, ids.length);
    assert.deepEqual(unknownRules(['tmp', 'nope']), ['nope']);
  });
});
