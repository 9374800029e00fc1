// Writing a format's chunks in batches (src/output/batches.ts): the bytes are the chunks' bytes,
// whatever the stream; a batch's buffer is filled again only when the stream is done with it.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { refillable, writeBatched } from '../../src/output/batches.ts';

/** Chunks like a scan's: short strings, multi-byte text, bytes, some longer than a batch. */
function chunks(): (string | Uint8Array)[] {
  const out: (string | Uint8Array)[] = [];
  for (let i = 0; i < 3000; i++) {
    out.push(`{"pid": ${i}, "name": "dæmon-${i} ✓ 😀"}`);
    out.push(Buffer.from(`, "files": [${'x'.repeat(i % 97)}]\n`));
  }
  out.push('é'.repeat(100_000));
  out.push(Buffer.alloc(200_000, 0x61));
  out.push('end');
  return out;
}

const expected = Buffer.concat(
  chunks().map((c) => (typeof c === 'string' ? Buffer.from(c, 'utf8') : c)),
);

/** A stream that keeps the buffers it is given, done with each at once or later. */
function keeping(sync: boolean) {
  const kept: Buffer[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      kept.push(chunk);
      if (sync) done();
      else setImmediate(done);
    },
  });
  return { stream, kept };
}

/** Runs writeBatched in a child process whose stdout is `stdio`; returns what it wrote there. */
const CHILD = `import(${JSON.stringify(new URL('../../src/output/batches.ts', import.meta.url).href)}).then((m) => {
  const out = [];
  for (let i = 0; i < 3000; i++) {
    out.push('{"pid": ' + i + ', "name": "dæmon-' + i + ' ✓ 😀"}');
    out.push(Buffer.from(', "files": [' + 'x'.repeat(i % 97) + ']\\n'));
  }
  out.push('é'.repeat(100000), Buffer.alloc(200000, 0x61), 'end');
  m.writeBatched(process.stdout, out);
})`;

describe('writeBatched', () => {
  it('writes the chunks’ bytes to a stream that copies them', () => {
    const parts: Buffer[] = [];
    writeBatched({ write: (b) => parts.push(Buffer.from(b as Uint8Array)) }, chunks());
    assert.ok(Buffer.concat(parts).equals(expected));
    assert.ok(parts.length > 1 && parts.length < 100, `${parts.length} writes`);
  });

  it('never refills a buffer another stream may hold, even one done with it at once', async () => {
    for (const sync of [false, true]) {
      const { stream, kept } = keeping(sync);
      writeBatched(stream, chunks());
      await new Promise((resolve) => stream.end(resolve));
      // Had a kept buffer been filled again, what the stream kept would differ.
      assert.ok(Buffer.concat(kept).equals(expected), `callback ${sync ? 'at once' : 'later'}`);
    }
    const pass = new PassThrough();
    const read: Buffer[] = [];
    pass.on('data', (b: Buffer) => read.push(b));
    writeBatched(pass, chunks());
    pass.end();
    await new Promise((resolve) => pass.on('end', resolve));
    assert.ok(Buffer.concat(read).equals(expected), 'PassThrough');
  });

  it('refills only for this process’s own stdout and stderr with nothing queued', () => {
    assert.equal(refillable(new PassThrough()), false);
    assert.equal(refillable(keeping(true).stream), false);
    assert.equal(refillable({ write: () => true }), false);
    assert.equal(refillable(process.stderr), process.stderr.writableLength === 0);
  });

  it('writes the same bytes to a file and to a pipe read slowly (the buffer refilled or not)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'afterpatch-batches-'));
    try {
      const file = join(dir, 'out');
      const r = spawnSync(
        'sh',
        ['-c', `exec "$0" --import tsx -e "$1" > "$2"`, process.execPath, CHILD, file],
        { encoding: 'utf8', timeout: 60_000 },
      );
      assert.equal(r.status, 0, r.stderr);
      assert.ok(readFileSync(file).equals(expected), 'to a file');
      // A pipe that fills: the writes queue, and queued buffers must stay as they were.
      const child = spawn(process.execPath, ['--import', 'tsx', '-e', CHILD], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const got: Buffer[] = [];
      child.stdout.pause();
      await new Promise((resolve) => setTimeout(resolve, 1500));
      child.stdout.on('data', (b: Buffer) => got.push(b));
      child.stdout.resume();
      await new Promise((resolve) => child.on('close', resolve));
      assert.ok(Buffer.concat(got).equals(expected), 'to a pipe');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
