// Writing a format's chunks in batches (src/output/batches.ts): the bytes are the chunks' bytes,
// whatever the stream; a batch's buffer is filled again only when the stream is done with it.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { writeBatched } from '../../src/output/batches.ts';

/** Chunks like a scan's: short strings, multi-byte text, bytes, one longer than a batch. */
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

/** A stream that keeps what it is given (as Node's do while a write is pending). */
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

describe('writeBatched', () => {
  it('writes the chunks’ bytes to a stream that copies them', () => {
    const parts: Buffer[] = [];
    writeBatched({ write: (b) => parts.push(Buffer.from(b as Uint8Array)) }, chunks());
    assert.ok(Buffer.concat(parts).equals(expected));
    assert.ok(parts.length > 1 && parts.length < 100, `${parts.length} writes`);
  });

  it('never refills a buffer a stream still holds', async () => {
    const { stream, kept } = keeping(false);
    writeBatched(stream, chunks());
    await new Promise((resolve) => stream.end(resolve));
    // Had a held buffer been filled again, what the stream kept would differ.
    assert.ok(Buffer.concat(kept).equals(expected));
    assert.equal(new Set(kept.map((b) => b.buffer)).size, kept.length);
  });

  it('refills the buffer once the stream is done with it', async () => {
    const { stream, kept } = keeping(true);
    const seen: Buffer[] = [];
    const write = stream.write.bind(stream);
    stream.write = ((b: Buffer) => {
      seen.push(Buffer.from(b));
      return write(b);
    }) as typeof stream.write;
    writeBatched(stream, chunks());
    await new Promise((resolve) => stream.end(resolve));
    assert.ok(Buffer.concat(seen).equals(expected));
    // Fewer distinct buffers than writes: one was used again.
    assert.ok(new Set(kept.map((b) => b.buffer)).size < kept.length);
  });
});
