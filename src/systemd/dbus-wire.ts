// The D-Bus wire format (spec "Message Protocol"), only as far as afterpatch needs it: method calls
// whose arguments are strings, and replies whose values are basic types, arrays and variants.
// Anything else in a reply is an error (the caller then falls back to systemctl): never a guess.

export type DbusValue = string | number | bigint | boolean | DbusValue[];

export interface DbusMessage {
  type: number;
  serial: number;
  replySerial: number | null;
  errorName: string | null;
  path?: string;
  interface?: string;
  member?: string;
  signature: string;
  body: DbusValue[];
}

export const METHOD_CALL = 1;
export const METHOD_RETURN = 2;
export const ERROR = 3;
export const SIGNAL = 4;

/** A reply larger than this is refused: nothing afterpatch asks for comes near it. */
const MAX_MESSAGE = 16 * 1024 * 1024;

export interface MethodCall {
  path: string;
  interface: string;
  member: string;
  destination: string;
  /** String arguments only ("s" each). */
  args: readonly string[];
}

/**
 * Little-endian marshalling into a growing buffer that may hold many messages back to back:
 * alignment counts from `base`, the start of the message being written.
 */
export class DbusWriter {
  buf: Buffer = Buffer.alloc(4096);
  length = 0;
  base = 0;
  #room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const bigger = Buffer.alloc(Math.max(this.buf.length * 2, this.length + n));
    this.buf.copy(bigger, 0, 0, this.length);
    this.buf = bigger;
  }
  pad(n: number): void {
    const to = this.base + Math.ceil((this.length - this.base) / n) * n;
    this.#room(to - this.length);
    this.length = to; // Buffer.alloc: the padding is already zero
  }
  byte(b: number): void {
    this.#room(1);
    this.buf[this.length++] = b;
  }
  u32(v: number): void {
    this.pad(4);
    this.#room(4);
    this.buf.writeUInt32LE(v, this.length);
    this.length += 4;
  }
  u64(v: bigint): void {
    this.pad(8);
    this.#room(8);
    this.buf.writeBigUInt64LE(v, this.length);
    this.length += 8;
  }
  /** Overwrites a u32 written earlier (a length known only afterwards). */
  setU32(at: number, v: number): void {
    this.buf.writeUInt32LE(v, at);
  }
  /** Everything written so far. */
  bytes(): Buffer {
    return this.buf.subarray(0, this.length);
  }
  string(s: string): void {
    const n = Buffer.byteLength(s, 'utf8');
    this.u32(n);
    this.#room(n + 1);
    this.buf.write(s, this.length, 'utf8');
    this.length += n + 1;
  }
  signature(s: string): void {
    this.byte(s.length);
    this.#room(s.length + 1);
    this.buf.write(s, this.length, 'latin1');
    this.length += s.length + 1;
  }
}

export interface OutgoingMessage {
  type: number;
  serial: number;
  /** Header fields: code, signature of the value ('o', 's', 'g' or 'u'), value. */
  fields: readonly [number, 'o' | 's' | 'g' | 'u', string | number][];
  signature: string;
  body: (w: DbusWriter) => void;
}

/** Appends a little-endian message to `w` (one writer for many messages: no garbage per call). */
export function writeMessage(w: DbusWriter, m: OutgoingMessage): void {
  w.base = w.length;
  const at = w.base;
  w.byte(0x6c); // 'l'
  w.byte(m.type);
  w.byte(0); // flags
  w.byte(1); // protocol version
  w.u32(0); // body length, set below
  w.u32(m.serial);
  w.u32(0); // header fields' length, set below
  const start = w.length;
  const fields = m.signature ? [...m.fields, [8, 'g', m.signature] as const] : m.fields;
  for (const [code, sig, value] of fields) {
    w.pad(8);
    w.byte(code);
    w.signature(sig);
    if (sig === 'u') w.u32(value as number);
    else if (sig === 'g') w.signature(String(value));
    else w.string(String(value));
  }
  w.setU32(at + 12, w.length - start);
  w.pad(8);
  const bodyStart = w.length;
  m.body(w);
  w.setU32(at + 4, w.length - bodyStart);
}

export function encodeMessage(m: OutgoingMessage): Buffer {
  const w = new DbusWriter();
  writeMessage(w, m);
  return w.bytes();
}

/** Appends a METHOD_CALL with serial `serial`. */
export function writeCall(w: DbusWriter, call: MethodCall, serial: number): void {
  writeMessage(w, {
    type: METHOD_CALL,
    serial,
    fields: [
      [1, 'o', call.path],
      [2, 's', call.interface],
      [3, 's', call.member],
      [6, 's', call.destination],
    ],
    signature: 's'.repeat(call.args.length),
    body: (w) => {
      for (const a of call.args) w.string(a);
    },
  });
}

export function encodeCall(call: MethodCall, serial: number): Buffer {
  const w = new DbusWriter();
  writeCall(w, call, serial);
  return w.bytes();
}

export class DbusFormatError extends Error {}

class Reader {
  pos = 0;
  constructor(
    readonly buf: Buffer,
    readonly little: boolean,
    readonly end: number,
  ) {}
  need(n: number): void {
    if (this.pos + n > this.end) throw new DbusFormatError('truncated D-Bus message');
  }
  align(n: number): void {
    this.pos = Math.ceil(this.pos / n) * n;
    if (this.pos > this.end) throw new DbusFormatError('truncated D-Bus message');
  }
  byte(): number {
    this.need(1);
    return this.buf[this.pos++] as number;
  }
  u32(): number {
    this.align(4);
    this.need(4);
    const v = this.little ? this.buf.readUInt32LE(this.pos) : this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  string(len: number): string {
    this.need(len + 1);
    const s = this.buf.toString('utf8', this.pos, this.pos + len);
    if (this.buf[this.pos + len] !== 0) throw new DbusFormatError('string without its NUL');
    this.pos += len + 1;
    return s;
  }
}

/** The alignment of the first type of a signature (spec: "Marshaling"). */
function alignOf(c: string): number {
  if ('ybg'.includes(c)) return c === 'b' ? 4 : 1;
  if ('nq'.includes(c)) return 2;
  if ('iuhsoab'.includes(c) || c === 'a') return 4;
  if ('xtd(e{'.includes(c)) return 8;
  return 1; // 'v'
}

/** The end of the single complete type starting at sig[i] (basic, array or variant only). */
function typeEnd(sig: string, i: number): number {
  const c = sig[i];
  if (c === undefined) throw new DbusFormatError('incomplete signature');
  if (c === 'a') return typeEnd(sig, i + 1);
  if ('ybnqiuxtsogvh'.includes(c)) return i + 1;
  throw new DbusFormatError(`unsupported D-Bus type ${JSON.stringify(c)}`);
}

function readValue(r: Reader, sig: string, depth: number): DbusValue {
  if (depth > 16) throw new DbusFormatError('D-Bus value nested too deep');
  const c = sig[0] ?? '';
  r.align(alignOf(c));
  switch (c) {
    case 'y':
      return r.byte();
    case 'b': {
      const v = r.u32();
      if (v > 1) throw new DbusFormatError('boolean out of range');
      return v === 1;
    }
    case 'n':
    case 'q': {
      r.need(2);
      const v = r.little ? r.buf.readUInt16LE(r.pos) : r.buf.readUInt16BE(r.pos);
      r.pos += 2;
      return c === 'n' && v > 0x7fff ? v - 0x10000 : v;
    }
    case 'i':
    case 'u':
    case 'h': {
      const v = r.u32();
      return c === 'i' && v > 0x7fffffff ? v - 0x100000000 : v;
    }
    case 'x':
    case 't': {
      r.need(8);
      const b = r.buf;
      const v =
        c === 'x'
          ? r.little
            ? b.readBigInt64LE(r.pos)
            : b.readBigInt64BE(r.pos)
          : r.little
            ? b.readBigUInt64LE(r.pos)
            : b.readBigUInt64BE(r.pos);
      r.pos += 8;
      return v;
    }
    case 's':
    case 'o':
      return r.string(r.u32());
    case 'g':
      return r.string(r.byte());
    case 'v': {
      const inner = r.string(r.byte());
      if (typeEnd(inner, 0) !== inner.length) throw new DbusFormatError('bad variant signature');
      return readValue(r, inner, depth + 1);
    }
    case 'a': {
      const len = r.u32();
      const elem = sig.slice(1, typeEnd(sig, 1));
      r.align(alignOf(elem[0] ?? ''));
      const stop = r.pos + len;
      if (stop > r.end) throw new DbusFormatError('array past the end of the message');
      const out: DbusValue[] = [];
      while (r.pos < stop) out.push(readValue(r, elem, depth + 1));
      if (r.pos !== stop) throw new DbusFormatError('array length mismatch');
      return out;
    }
    default:
      throw new DbusFormatError(`unsupported D-Bus type ${JSON.stringify(c)}`);
  }
}

/**
 * The type and total size of the message at the start of `buf` from its fixed header alone, or
 * null when `buf` does not hold all of it yet (decodeMessage checks the rest).
 */
export function peekMessage(buf: Buffer): { type: number; size: number; fieldsEnd: number } | null {
  if (buf.length < 16) return null;
  const little = buf[0] === 0x6c;
  if (!little && buf[0] !== 0x42) throw new DbusFormatError('bad endianness byte');
  if (buf[3] !== 1) throw new DbusFormatError('unknown D-Bus protocol version');
  const u32 = (at: number) => (little ? buf.readUInt32LE(at) : buf.readUInt32BE(at));
  const fieldsEnd = 16 + u32(12);
  const size = Math.ceil(fieldsEnd / 8) * 8 + u32(4);
  if (size > MAX_MESSAGE) throw new DbusFormatError('D-Bus message too large');
  return buf.length < size ? null : { type: buf[1] as number, size, fieldsEnd };
}

/**
 * One message from the start of `buf`: the message and the bytes it took, or null when `buf` does
 * not hold all of it yet; bodies only of replies, and of other messages when `bodies` says so
 * (true: all). Throws DbusFormatError on anything malformed or unsupported.
 */
export function decodeMessage(
  buf: Buffer,
  bodies: boolean | ((m: DbusMessage) => boolean) = false,
): { message: DbusMessage; size: number } | null {
  const peek = peekMessage(buf);
  if (peek === null) return null;
  const { size, fieldsEnd } = peek;
  const little = buf[0] === 0x6c;
  const u32 = (at: number) => (little ? buf.readUInt32LE(at) : buf.readUInt32BE(at));
  const r = new Reader(buf, little, fieldsEnd);
  r.pos = 16;
  const message: DbusMessage = {
    type: buf[1] as number,
    serial: u32(8),
    replySerial: null,
    errorName: null,
    signature: '',
    body: [],
  };
  while (r.pos < r.end) {
    r.align(8);
    const code = r.byte();
    const v = readValue(r, 'v', 0);
    if (code === 4 && typeof v === 'string') message.errorName = v;
    if (code === 5 && typeof v === 'number') message.replySerial = v;
    if (code === 8 && typeof v === 'string') message.signature = v;
    if (code === 1 && typeof v === 'string') message.path = v;
    if (code === 2 && typeof v === 'string') message.interface = v;
    if (code === 3 && typeof v === 'string') message.member = v;
  }
  // Replies, and only the signals asked for: a signal PID 1 broadcasts may carry types this
  // reader does not know (PropertiesChanged's a{sv}).
  const reply = message.type === METHOD_RETURN || message.type === ERROR;
  if (!reply && !(typeof bodies === 'function' ? bodies(message) : bodies)) {
    return { message, size };
  }
  const body = new Reader(buf, little, size);
  body.pos = Math.ceil(fieldsEnd / 8) * 8;
  for (let i = 0; i < message.signature.length; ) {
    const j = typeEnd(message.signature, i);
    message.body.push(readValue(body, message.signature.slice(i, j), 0));
    i = j;
  }
  return { message, size };
}
