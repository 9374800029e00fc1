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
  peekMessage,
  SIGNAL,
  writeCall,
} from './dbus-wire.ts';

export const SYSTEMD_PRIVATE_SOCKET = '/run/systemd/private';

export type CallResult =
  | { ok: true; body: DbusMessage['body'] }
  | { ok: false; error: string; message: string };

/** Calls written together wait together: one promise for the lot, not one per call. */
interface Batch {
  results: CallResult[];
  pending: number;
  resolve: (r: CallResult[]) => void;
  reject: (e: Error) => void;
}

export interface BusConnectionOptions {
  /**
   * The members of the signals to read (with their bodies) and pass to onSignal. PID 1 sends
   * every unit's PropertiesChanged to every direct connection (~20 a restarted unit): the others
   * are skipped by their size, without being decoded. Default: none.
   */
  signals?: readonly string[];
}

export class BusConnection {
  readonly #sock: Socket;
  /** Serial → its batch and its place in it. */
  readonly #waiting = new Map<number, { batch: Batch; i: number }>();
  readonly #signals: ReadonlySet<string>;
  readonly #needles: readonly Buffer[];
  #serial = 0;
  #buf: Buffer = Buffer.alloc(0);
  #error: Error | null = null;
  /** Every signal, in the order received (set it before acting: none is kept for later). */
  onSignal: (m: DbusMessage) => void = () => {};
  /** Called once when the connection fails or closes, with why. */
  onError: (e: Error) => void = () => {};

  private constructor(sock: Socket, o: BusConnectionOptions) {
    this.#sock = sock;
    this.#signals = new Set(o.signals);
    this.#needles = [...this.#signals].map((m) => Buffer.from(m, 'latin1'));
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
        // BEGIN goes with it, as sd-bus's own clients send it: written after the OK, it could
        // reach PID 1 in one read with the first call, which sd-bus then leaves unread in its
        // buffer until more bytes arrive (seen: a lone RestartUnit never answered, ~1 in 15).
        const uid = Buffer.from(String(process.getuid?.() ?? 0)).toString('hex');
        sock.write(`\0AUTH EXTERNAL ${uid}\r\nBEGIN\r\n`);
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
            resolve(conn);
          }
          conn.#read();
        } catch (e) {
          conn.#fail(e as Error);
        }
      });
    });
  }

  /** Whether the signal at the start of the buffer may be one asked for (a cheap pre-filter). */
  #maybeWanted(fieldsEnd: number): boolean {
    // A member name travels in the header fields as a plain string.
    const fields = this.#buf.subarray(16, fieldsEnd);
    return this.#needles.some((m) => fields.includes(m));
  }

  #read(): void {
    for (;;) {
      const peek = peekMessage(this.#buf);
      if (peek === null) return;
      if (peek.type === SIGNAL && !this.#maybeWanted(peek.fieldsEnd)) {
        this.#buf = this.#buf.subarray(peek.size);
        continue;
      }
      // Only the bodies of the signals asked for: others may hold types the reader does not know.
      const got = decodeMessage(
        this.#buf,
        (m) => m.type === SIGNAL && this.#signals.has(m.member ?? ''),
      );
      if (got === null) return;
      this.#buf = this.#buf.subarray(got.size);
      const m = got.message;
      if (m.type === SIGNAL) {
        if (this.#signals.has(m.member ?? '')) this.onSignal(m);
        continue;
      }
      const w = m.replySerial === null ? undefined : this.#waiting.get(m.replySerial);
      if (w === undefined) continue; // not a reply to us
      let r: CallResult;
      if (m.type === METHOD_RETURN) r = { ok: true, body: m.body };
      else if (m.type === ERROR) {
        const text = typeof m.body[0] === 'string' ? m.body[0] : '';
        r = { ok: false, error: m.errorName ?? 'unnamed', message: text };
      } else continue;
      this.#waiting.delete(m.replySerial as number);
      w.batch.results[w.i] = r;
      if (--w.batch.pending === 0) w.batch.resolve(w.batch.results);
    }
  }

  #fail(e: Error): void {
    if (this.#error) return;
    this.#error = e;
    this.#sock.destroy();
    for (const w of new Set([...this.#waiting.values()].map((x) => x.batch))) w.reject(e);
    this.#waiting.clear();
    this.onError(e);
  }

  /** Sends the calls in one write; resolves with every reply, in the order of `calls`. */
  callMany(calls: readonly MethodCall[]): Promise<CallResult[]> {
    if (this.#error) return Promise.reject(this.#error);
    if (calls.length === 0) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      const batch: Batch = {
        results: new Array(calls.length),
        pending: calls.length,
        resolve,
        reject,
      };
      const w = new DbusWriter();
      calls.forEach((c, i) => {
        const serial = ++this.#serial;
        writeCall(w, c, serial);
        this.#waiting.set(serial, { batch, i });
      });
      this.#sock.write(w.bytes());
    });
  }

  async call(c: MethodCall): Promise<CallResult> {
    return (await this.callMany([c]))[0] as CallResult;
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
    return await conn.callMany(calls);
  } finally {
    clearTimeout(timer);
    conn.close();
  }
}
