// A D-Bus peer connection to systemd's private socket (/run/systemd/private: PID 1 answers there
// itself, no dbus-daemon needed; root only). Calls are pipelined (written back to back, replies
// matched by serial); signals PID 1 sends to every direct connection go to `onSignal`. Any trouble
// on the connection (refused, malformed, closed) fails every call still waiting for its reply.
import { createConnection, type Socket } from 'node:net';
import {
  DbusFormatError,
  type DbusMessage,
  DbusWriter,
  decodeMessage,
  ERROR,
  METHOD_RETURN,
  type MethodCall,
  SIGNAL,
  writeCall,
} from './dbus-wire.ts';

export const SYSTEMD_PRIVATE_SOCKET = '/run/systemd/private';

export type CallResult =
  | { ok: true; body: DbusMessage['body'] }
  | { ok: false; error: string; message: string };

type Waiter = { resolve: (r: CallResult) => void; reject: (e: Error) => void };

export interface BusConnectionOptions {
  /** The bodies of which signals to read (others arrive with an empty body). Default: none. */
  signalBodies?: (m: DbusMessage) => boolean;
}

export class BusConnection {
  readonly #sock: Socket;
  readonly #waiting = new Map<number, Waiter>();
  readonly #bodies: (m: DbusMessage) => boolean;
  #serial = 0;
  #buf: Buffer = Buffer.alloc(0);
  #error: Error | null = null;
  /** Every signal, in the order received (set it before acting: none is kept for later). */
  onSignal: (m: DbusMessage) => void = () => {};
  /** Called once when the connection fails or closes, with why. */
  onError: (e: Error) => void = () => {};

  private constructor(sock: Socket, o: BusConnectionOptions) {
    this.#sock = sock;
    this.#bodies = o.signalBodies ?? (() => false);
  }

  /** Connects and authenticates (SASL EXTERNAL) within `timeoutMs`; rejects on any trouble. */
  static open(
    socketPath: string,
    timeoutMs: number,
    o: BusConnectionOptions = {},
  ): Promise<BusConnection> {
    return new Promise((resolve, reject) => {
      const sock = createConnection({ path: socketPath });
      const conn = new BusConnection(sock, o);
      let authed = false;
      const timer = setTimeout(
        () => conn.#fail(new Error(`no answer on ${socketPath} within ${timeoutMs} ms`)),
        timeoutMs,
      );
      conn.onError = (e) => {
        clearTimeout(timer);
        if (!authed) reject(e);
      };
      sock.on('error', (e) => conn.#fail(e));
      sock.on('close', () => conn.#fail(new Error(`${socketPath} closed the connection`)));
      sock.on('connect', () => {
        // SASL EXTERNAL: the kernel tells systemd who we are; the identity is our UID in hex.
        const uid = Buffer.from(String(process.getuid?.() ?? 0)).toString('hex');
        sock.write(`\0AUTH EXTERNAL ${uid}\r\n`);
      });
      sock.on('data', (chunk: Buffer) => {
        conn.#buf = conn.#buf.length === 0 ? chunk : Buffer.concat([conn.#buf, chunk]);
        try {
          if (!authed) {
            const nl = conn.#buf.indexOf('\r\n');
            if (nl === -1) {
              if (conn.#buf.length > 4096) throw new DbusFormatError('no end of the auth reply');
              return;
            }
            const line = conn.#buf.toString('latin1', 0, nl);
            if (!line.startsWith('OK '))
              throw new DbusFormatError(`authentication refused: ${line}`);
            conn.#buf = conn.#buf.subarray(nl + 2);
            authed = true;
            clearTimeout(timer);
            conn.onError = () => {};
            sock.write('BEGIN\r\n');
            resolve(conn);
          }
          conn.#read();
        } catch (e) {
          conn.#fail(e as Error);
        }
      });
    });
  }

  #read(): void {
    for (;;) {
      const got = decodeMessage(this.#buf, (m) => m.type === SIGNAL && this.#bodies(m));
      if (got === null) return;
      this.#buf = this.#buf.subarray(got.size);
      const m = got.message;
      if (m.type === SIGNAL) {
        this.onSignal(m);
        continue;
      }
      const w = m.replySerial === null ? undefined : this.#waiting.get(m.replySerial);
      if (w === undefined) continue; // not a reply to us
      if (m.type === METHOD_RETURN) {
        this.#waiting.delete(m.replySerial as number);
        w.resolve({ ok: true, body: m.body });
      } else if (m.type === ERROR) {
        this.#waiting.delete(m.replySerial as number);
        const text = typeof m.body[0] === 'string' ? m.body[0] : '';
        w.resolve({ ok: false, error: m.errorName ?? 'unnamed', message: text });
      }
    }
  }

  #fail(e: Error): void {
    if (this.#error) return;
    this.#error = e;
    this.#sock.destroy();
    for (const w of this.#waiting.values()) w.reject(e);
    this.#waiting.clear();
    this.onError(e);
  }

  /** Sends the calls in one write; one promise per call, in order. */
  callMany(calls: readonly MethodCall[]): Promise<CallResult>[] {
    if (this.#error) return calls.map(() => Promise.reject(this.#error as Error));
    const w = new DbusWriter();
    const out = calls.map((c) => {
      const serial = ++this.#serial;
      writeCall(w, c, serial);
      return new Promise<CallResult>((resolve, reject) =>
        this.#waiting.set(serial, { resolve, reject }),
      );
    });
    if (calls.length > 0) this.#sock.write(w.bytes());
    return out;
  }

  call(c: MethodCall): Promise<CallResult> {
    return this.callMany([c])[0] as Promise<CallResult>;
  }

  /** Fails what still waits (with `why`) and hangs up; idempotent. */
  close(why = 'connection closed by afterpatch'): void {
    this.#fail(new Error(why));
  }
}

/** Sends every call on one fresh connection and returns the replies in the order of `calls`. */
export async function callAll(
  socketPath: string,
  calls: readonly MethodCall[],
  timeoutMs: number,
): Promise<CallResult[]> {
  const t0 = performance.now();
  const conn = await BusConnection.open(socketPath, timeoutMs);
  const left = Math.max(1, timeoutMs - (performance.now() - t0));
  const timer = setTimeout(
    () => conn.close(`no answer on ${socketPath} within ${timeoutMs} ms`),
    left,
  );
  try {
    return await Promise.all(conn.callMany(calls));
  } finally {
    clearTimeout(timer);
    conn.close();
  }
}
