import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FAKE_INIT, makeProcTree, mapsLine } from './helpers/fakeproc.ts';

const require = createRequire(import.meta.url);
const repo = fileURLToPath(new URL('..', import.meta.url));

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

  it('ships type declarations a CommonJS TypeScript consumer compiles against', async () => {
    const args = [
      'node_modules/typescript/bin/tsc',
      '--noEmit',
      '--strict',
      '--module',
      'nodenext',
      '--moduleResolution',
      'nodenext',
      '--types',
      'node',
      'test/fixtures/consumer/consumer.cts',
    ];
    const out = await new Promise<string>((resolve) => {
      execFile(process.execPath, args, { cwd: repo }, (err, stdout, stderr) =>
        resolve(err ? `${stdout}${stderr}` || String(err) : ''),
      );
    });
    assert.equal(out, '');
  });
});
