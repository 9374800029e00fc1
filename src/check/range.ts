// Nagios plugin threshold ranges (monitoring-plugins' development guidelines, "Threshold and
// ranges"): `N` alerts outside 0..N, `N:` below N, `~:N` above N, `N:M` outside N..M, `@N:M`
// inside N..M (inclusive). A missing start means 0; `~` means minus infinity.

export interface ThresholdRange {
  /** Lower bound; -Infinity for `~`. */
  start: number;
  /** Upper bound; Infinity when omitted (`N:`). */
  end: number;
  /** `@`: alert when the value is inside the range instead of outside it. */
  inside: boolean;
  /** The range as written (trimmed), repeated in the perfdata's warn/crit fields. */
  text: string;
}

/** A range that cannot be parsed; the message is one line for the user. */
export class ThresholdRangeError extends Error {
  override name = 'ThresholdRangeError';
}

const NUMBER = /^[-+]?(?:\d+(?:\.\d*)?|\.\d+)$/;

function parseNumber(s: string, what: string, range: string): number {
  if (!NUMBER.test(s)) throw new ThresholdRangeError(`"${range}": ${what} "${s}" is not a number`);
  return Number(s);
}

export function parseRange(input: string): ThresholdRange {
  const text = input.trim();
  if (text === '') throw new ThresholdRangeError('empty range');
  let body = text;
  const inside = body.startsWith('@');
  if (inside) body = body.slice(1);
  if (body === '') throw new ThresholdRangeError(`"${text}": nothing after "@"`);
  const colon = body.indexOf(':');
  let start: number;
  let end: number;
  if (colon < 0) {
    start = 0;
    end = parseNumber(body, 'end', text);
  } else {
    if (body.indexOf(':', colon + 1) >= 0)
      throw new ThresholdRangeError(`"${text}": more than one ":"`);
    const a = body.slice(0, colon);
    const b = body.slice(colon + 1);
    start = a === '~' ? Number.NEGATIVE_INFINITY : a === '' ? 0 : parseNumber(a, 'start', text);
    end = b === '' ? Number.POSITIVE_INFINITY : parseNumber(b, 'end', text);
  }
  if (start > end)
    throw new ThresholdRangeError(`"${text}": start ${start} is greater than end ${end}`);
  return { start, end, inside, text };
}

/** True when `value` raises the alert this range describes. */
export function alerts(r: ThresholdRange, value: number): boolean {
  const within = value >= r.start && value <= r.end;
  return r.inside ? within : !within;
}
