// The README's quick start, run verbatim in a fresh clone: the first command installs, builds and
// scans; the second is .ci/run, which is what runs this very suite (checked, not re-entered).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const readme = readFileSync(join(repo, 'README.md'), 'utf8');
const quickStart = readme.slice(
  readme.indexOf('## Quick start'),
  readme.indexOf('\n## ', readme.indexOf('## Quick start') + 1),
);
const blocks = [...quickStart.matchAll(/```sh\n([^\n]+)\n```/g)].map((m) => m[1] ?? '');

function run(file: string, args: string[], cwd: string, timeoutMs: number) {
  return new Promise<{ code: number; out: string }>((resolve) => {
    execFile(
      file,
      args,
      { cwd, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 },
      (e, stdout, stderr) => {
        resolve({
          code: e ? (typeof e.code === 'number' ? e.code : 127) : 0,
          out: `${stdout}${stderr}`,
        });
      },
    );
  });
}

const isRoot = process.geteuid?.() === 0;
const hasGit = (() => {
  try {
    return statSync(join(repo, '.git')).isDirectory();
  } catch {
    return false;
  }
})();

describe('README quick start, from a fresh clone', {
  skip: !isRoot ? 'needs root (the scan runs with sudo)' : !hasGit ? 'not a git checkout' : false,
}, () => {
  const dir = mkdtempSync(join(tmpdir(), 'afterpatch-readme-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('has exactly the two commands', () => {
    assert.equal(blocks.length, 2, quickStart);
    assert.match(
      blocks[0] ?? '',
      /^npm ci && npm run build && sudo node dist\/afterpatch\.cjs scan$/,
    );
    assert.match(blocks[1] ?? '', /^sudo \.ci\/run\b/);
  });

  it('installs, builds and scans with the first command', async () => {
    const clone = join(dir, 'afterpatch');
    const c = await run('git', ['clone', '-q', repo, clone], dir, 60_000);
    assert.equal(c.code, 0, c.out);
    // Run as written; as root, `sudo` is only a prefix (and may not be installed): drop it.
    const command = (blocks[0] ?? '').replaceAll('sudo ', '');
    const r = await run('/bin/sh', ['-c', command], clone, 300_000);
    assert.ok(r.code === 0 || r.code === 1, `exit ${r.code}: ${r.out.slice(-2000)}`);
    assert.match(r.out, /No process runs outdated code|run outdated code/);
  });

  it('names .ci/run as the test entry, and .ci/run runs npm test', () => {
    const ci = readFileSync(join(repo, '.ci/run'), 'utf8');
    assert.ok(statSync(join(repo, '.ci/run')).mode & 0o100, '.ci/run is executable');
    assert.match(ci, /^npm ci\b/m);
    assert.match(ci, /^npm test$/m);
  });
});
