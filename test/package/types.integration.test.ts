// The library's type declarations (dist/types, built by `npm run build`, not by the bundle-only
// build of test:fast): a CommonJS TypeScript consumer compiles against them. tsc is slow.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('../..', import.meta.url));

describe('library API type declarations', () => {
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
