import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FAKE_INIT, makeProcTree, mapsLine } from './helpers/fakeproc.ts';

const require = createRequire(import.meta.url);
const _repo = fileURLToPath(new URL('..', import.meta.url));

describe('library API (the built CommonJS bundle)', () => {
  let fx: ReturnType<typeof makeProcTree>;
  before(() => {
    fx = makeProcTree({
      1: FAKE_INIT,
      7: {
        name: 'nginx',
        maps: [
          mapsLine('/usr/sbin/nginx'),
          mapsLine('/usr/lib/libssl.so.3', { deleted: true, addr: 0x7f9000 }),
        ].join('\n'),
        cgroup: '0::/system.slice/nginx.service\n',
      },
    });
  });
  after(() => fx.cleanup());

  it('scans through require("afterpatch")', async () => {
    const api = require('afterpatch') as typeof import('../src/index.ts');
    const report = await api.scan({ procRoot: fx.root, packages: false });
    assert.deepEqual(
      report.groups.map((g) => g.key),
      ['system-unit:nginx.service'],
    );
    assert.equal(api.scanExitCode(report), 1);
    assert.equal(
      (api.scanToJson(report) as { formatVersion: number }).formatVersion,
      api.SCAN_FORMAT_VERSION,
    );
  });
});
