// A D-Bus peer on a Unix socket for tests of src/systemd/bus-client.ts where no systemd runs:
// accepts SASL EXTERNAL, decodes each method call with the real decoder and answers as the test
// says — a value, a D-Bus error, garbage, a hang-up or silence. Counts connections and calls.
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import {
  type DbusMessage,
  type DbusValue,
  type DbusWriter,
  decodeMessage,
  ERROR,
  encodeMessage,
  METHOD_RETURN,
} from '../../src/systemd/dbus-wire.ts';

/** A typed value to answer with: 'b', 's', 'o', 'u', 't' or 'as'. */
export type Typed = { sig: 'b' | 's' | 'o' | 'u' | 't' | 'as'; value: DbusValue };

export type Answer =
  | Typed
  | { error: string }
  | 'garbage'
  | 'hang-up'
  | 'silence'
  | { raw: (serial: number) => Buffer; hangUpAfterMs?: number };

export interface FakeBus {
  path: string;
  connections: number;
  /** The first bytes of each connection (latin1): what the client sent before any answer. */
  firstChunks: string[];
  calls: DbusMessage[];
  close(): Promise<void>;
}

function writeTyped(w: DbusWriter, t: Typed): void {
  if (t.sig === 'b') w.u32(t.value ? 1 : 0);
  else if (t.sig === 'u') w.u32(t.value as number);
  else if (t.sig === 't') w.u64(t.value as bigint);
  else if (t.sig === 'as') {
    w.u32(0);
    const at = w.length - 4;
    const start = w.length;
    for (const s of t.value as string[]) w.string(s);
    w.setU32(at, w.length - start);
  } else w.string(String(t.value));
}

/** A Properties.Get reply (signature "v") to `serial`. */
export function variantReply(serial: number, t: Typed): Buffer {
  return encodeMessage({
    type: METHOD_RETURN,
    serial: 1000 + serial,
    fields: [[5, 'u', serial]],
    signature: 'v',
    body: (w) => {
      w.signature(t.sig);
      writeTyped(w, t);
    },
  });
}

export async function fakeBus(
  dir: string,
  answer: (call: DbusMessage) => Answer,
  auth: 'ok' | 'refuse' = 'ok',
): Promise<FakeBus> {
  const path = join(dir, 'private');
  const bus: FakeBus = {
    path,
    connections: 0,
    firstChunks: [],
    calls: [],
    close: async () => {},
  };
  const server: Server = createServer((sock) => {
    bus.connections++;
    let buf: Buffer = Buffer.alloc(0);
    let stage: 'auth' | 'begin' | 'messages' = 'auth';
    sock.on('error', () => {});
    sock.once('data', (chunk: Buffer) => bus.firstChunks.push(chunk.toString('latin1')));
    sock.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (stage === 'auth') {
        const nl = buf.indexOf('\r\n');
        if (nl === -1) return;
        sock.write(auth === 'ok' ? 'OK 0123456789abcdef0123456789abcdef\r\n' : 'REJECTED\r\n');
        buf = buf.subarray(nl + 2);
        stage = 'begin';
      }
      if (stage === 'begin') {
        const nl = buf.indexOf('\r\n');
        if (nl === -1) return;
        buf = buf.subarray(nl + 2);
        stage = 'messages';
      }
      for (;;) {
        const got = decodeMessage(buf, true);
        if (got === null) return;
        buf = buf.subarray(got.size);
        bus.calls.push(got.message);
        const a = answer(got.message);
        const serial = got.message.serial;
        if (a === 'hang-up') return void sock.destroy();
        if (a === 'silence') continue;
        if (a === 'garbage') sock.write(Buffer.from('this is not a D-Bus message at all'));
        else if ('raw' in a) {
          sock.write(a.raw(serial));
          if (a.hangUpAfterMs !== undefined) setTimeout(() => sock.destroy(), a.hangUpAfterMs);
        } else if ('error' in a) {
          sock.write(
            encodeMessage({
              type: ERROR,
              serial: 1000 + serial,
              fields: [
                [4, 's', a.error],
                [5, 'u', serial],
              ],
              signature: 's',
              body: (w) => w.string('fake error'),
            }),
          );
        } else sock.write(variantReply(serial, a));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  bus.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return bus;
}
