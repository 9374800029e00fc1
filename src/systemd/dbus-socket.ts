// A D-Bus peer connection to systemd's private socket (/run/systemd/private: PID 1 answers there
// itself, no dbus-daemon needed; root only). Calls are pipelined: all written at once, replies
// matched by serial. Any trouble (refused, malformed, timed out) rejects the whole batch.
import { createConnection } from 'node:net';
import {
  DbusFormatError,
  type DbusMessage,
  DbusWriter,
  decodeMessage,
  ERROR,
  METHOD_RETURN,
  type MethodCall,
  writeCall,
} from './dbus-wire.ts';

export const SYSTEMD_PRIVATE_SOCKET = '/run/systemd/private';

export type CallResult = { ok: true; body: DbusMessage['body'] } | { ok: false; error: string };

/** Sends every call on one fresh connection and returns the replies in the order of `calls`. */
export function callAll(
  socketPath: string,
  calls: readonly MethodCall[],
  timeoutMs: number,
): Promise<CallResult[]> {
  return new Promise((resolve, reject) => {
    const sock = createConnection({ path: socketPath });
    const results: (CallResult | undefined)[] = new Array(calls.length);
    let pending = calls.length;
    let stage: 'auth' | 'messages' = 'auth';
    let buf: Buffer = Buffer.alloc(0);
    let settled = false;
    const finish = (err: Error | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(results as CallResult[]);
    };
    const timer = setTimeout(
      () => finish(new Error(`no answer on ${socketPath} within ${timeoutMs} ms`)),
      timeoutMs,
    );
    sock.on('error', (e) => finish(e));
    sock.on('close', () => finish(new Error(`${socketPath} closed the connection`)));
    sock.on('connect', () => {
      // SASL EXTERNAL: the kernel tells systemd who we are; the identity is our UID in hex.
      const uid = Buffer.from(String(process.getuid?.() ?? 0)).toString('hex');
      sock.write(`\0AUTH EXTERNAL ${uid}\r\n`);
    });
    sock.on('data', (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      try {
        if (stage === 'auth') {
          const nl = buf.indexOf('\r\n');
          if (nl === -1) {
            if (buf.length > 4096) throw new DbusFormatError('no end of the auth reply');
            return;
          }
          const line = buf.toString('latin1', 0, nl);
          if (!line.startsWith('OK ')) throw new DbusFormatError(`authentication refused: ${line}`);
          buf = buf.subarray(nl + 2);
          stage = 'messages';
          if (pending === 0) return finish(null);
          sock.write('BEGIN\r\n');
          const w = new DbusWriter();
          for (const [i, c] of calls.entries()) writeCall(w, c, i + 1);
          sock.write(w.bytes());
        }
        for (;;) {
          const got = decodeMessage(buf);
          if (got === null) break;
          buf = buf.subarray(got.size);
          const m = got.message;
          // Serials are 1..calls.length; anything else (a signal) is not ours to read.
          const i = (m.replySerial ?? 0) - 1;
          if (i < 0 || i >= calls.length || results[i] !== undefined) continue;
          if (m.type === METHOD_RETURN) results[i] = { ok: true, body: m.body };
          else if (m.type === ERROR) results[i] = { ok: false, error: m.errorName ?? 'unnamed' };
          else continue;
          if (--pending === 0) return finish(null);
        }
      } catch (e) {
        finish(e as Error);
      }
    });
  });
}
