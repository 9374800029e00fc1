// What a scan loads: the CLI may run every minute, so code it does not need stays unloaded. The
// bundle (built by npm test first) runs with a probe that lists Node's modules it loaded.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

const bundle = new URL('../dist/afterpatch.cjs', import.meta.url).pathname;

describe('start-up', () => {
  let dir: string;
  let probe: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'afterpatch-startup-'));
    probe = join(dir, 'modules-probe.cjs');
    writeFileSync(
      probe,
      "process.on('exit', () => process.stderr.write(JSON.stringify(process.moduleLoadList)));",
    );
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** Node's own modules loaded by one run of the program with `args`. */
  const loaded = (args: string[]) =>
    new Promise<string[]>((resolve, reject) =>
      execFile(process.execPath, ['-r', probe, bundle, ...args], (e, _out, err) => {
        // scan exits 1 when it finds stale code: only the probe's output matters here.
        if (e && typeof e.code !== 'number') reject(e);
        else resolve((JSON.parse(err) as string[]).map((m) => m.replace(/^NativeModule /, '')));
      }),
    );

  it('a scan to JSON loads neither zlib nor the advisory readers behind it', async () => {
    const modules = await loaded(['scan', '--json', '--pid', String(process.pid)]);
    assert.ok(modules.includes('worker_threads') || modules.includes('fs'), 'the probe ran');
    assert.equal(modules.includes('zlib'), false, 'zlib is loaded only for package history');
  });
});
