// Version ordering as dpkg and rpm define it, for deciding which installed kernel is the newest.
// Both functions are total (they never throw): malformed versions compare by the same rules.

export type Ordering = -1 | 0 | 1;

function sign(n: number): Ordering {
  return n < 0 ? -1 : n > 0 ? 1 : 0;
}

function isDigit(c: string): boolean {
  return c >= '0' && c <= '9';
}

function isAsciiLetter(c: string): boolean {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/** Compares two runs of decimal digits by value, without overflow (leading zeros ignored). */
function compareDigitRuns(a: string, b: string): Ordering {
  const x = a.replace(/^0+/, '');
  const y = b.replace(/^0+/, '');
  if (x.length !== y.length) return sign(x.length - y.length);
  return x < y ? -1 : x > y ? 1 : 0;
}

// ---------------------------------------------------------------------------------------------
// Debian (deb-version(7), Debian policy 5.6.12)

/**
 * Weight of one character in a non-digit run: `~` below everything (even the end of the string),
 * then the end of the run, then letters in ASCII order, then every other character in ASCII order.
 */
function debWeight(c: string | undefined): number {
  if (c === undefined) return 0;
  if (c === '~') return -1;
  if (isAsciiLetter(c)) return c.charCodeAt(0);
  return c.charCodeAt(0) + 256;
}

/** Length of the run starting at `from` whose characters are (`digits`) or are not digits. */
function runEnd(s: string, from: number, digits: boolean): number {
  let i = from;
  while (i < s.length && isDigit(s.charAt(i)) === digits) i++;
  return i;
}

/** Compares an upstream version or a revision: alternating non-digit and digit runs. */
function debPartCompare(a: string, b: string): Ordering {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const aEnd = runEnd(a, i, false);
    const bEnd = runEnd(b, j, false);
    // Compare the non-digit runs character by character; a shorter run is padded with "end" (0).
    const width = Math.max(aEnd - i, bEnd - j);
    for (let k = 0; k < width; k++) {
      const x = debWeight(i + k < aEnd ? a.charAt(i + k) : undefined);
      const y = debWeight(j + k < bEnd ? b.charAt(j + k) : undefined);
      if (x !== y) return sign(x - y);
    }
    i = aEnd;
    j = bEnd;
    const aNum = runEnd(a, i, true);
    const bNum = runEnd(b, j, true);
    // A missing digit run counts as 0.
    const cmp = compareDigitRuns(a.slice(i, aNum), b.slice(j, bNum));
    if (cmp !== 0) return cmp;
    i = aNum;
    j = bNum;
  }
  return 0;
}

export interface DebVersion {
  epoch: string;
  upstream: string;
  revision: string;
}

/**
 * `[epoch:]upstream[-revision]`: the epoch is the digits before the first colon, the revision
 * everything after the last hyphen. A missing epoch is 0; a missing revision compares equal to "0".
 */
export function parseDebVersion(version: string): DebVersion {
  let rest = version.trim();
  let epoch = '0';
  const colon = rest.indexOf(':');
  if (colon > 0 && /^\d+$/.test(rest.slice(0, colon))) {
    epoch = rest.slice(0, colon);
    rest = rest.slice(colon + 1);
  }
  const hyphen = rest.lastIndexOf('-');
  if (hyphen === -1) return { epoch, upstream: rest, revision: '' };
  return { epoch, upstream: rest.slice(0, hyphen), revision: rest.slice(hyphen + 1) };
}

/** Orders two Debian package versions as `dpkg --compare-versions` does. */
export function compareDebVersions(a: string, b: string): Ordering {
  const x = parseDebVersion(a);
  const y = parseDebVersion(b);
  return (
    compareDigitRuns(x.epoch, y.epoch) ||
    debPartCompare(x.upstream, y.upstream) ||
    debPartCompare(x.revision, y.revision)
  );
}

// ---------------------------------------------------------------------------------------------
// RPM (rpmvercmp and EVR comparison)

function isAsciiAlnum(c: string): boolean {
  return isDigit(c) || isAsciiLetter(c);
}

/**
 * rpm's segment comparison. Characters other than ASCII letters, digits, `~` and `^` only separate
 * segments. `~` sorts before everything, even the end of the string (`1.0~rc1` < `1.0`); `^` sorts
 * after the end of the string but before any further segment (`1.0` < `1.0^git1` < `1.0.1`).
 * A digit segment is newer than a letter segment; digit segments compare by value, letter segments
 * by ASCII order. When one string runs out, the one with segments left is newer.
 */
export function rpmVerCmp(a: string, b: string): Ordering {
  if (a === b) return 0;
  let i = 0;
  let j = 0;
  const skipSeparators = (s: string, k: number): number => {
    let n = k;
    while (n < s.length && !isAsciiAlnum(s.charAt(n)) && s.charAt(n) !== '~' && s.charAt(n) !== '^')
      n++;
    return n;
  };
  while (i < a.length || j < b.length) {
    i = skipSeparators(a, i);
    j = skipSeparators(b, j);
    const ca = a.charAt(i); // '' at the end
    const cb = b.charAt(j);
    if (ca === '~' || cb === '~') {
      if (ca !== '~') return 1;
      if (cb !== '~') return -1;
      i++;
      j++;
      continue;
    }
    if (ca === '^' || cb === '^') {
      if (ca === '') return -1;
      if (cb === '') return 1;
      if (ca !== '^') return 1;
      if (cb !== '^') return -1;
      i++;
      j++;
      continue;
    }
    if (ca === '' || cb === '') break;
    const numeric = isDigit(ca);
    const take = (s: string, k: number): number => {
      let n = k;
      while (n < s.length && (numeric ? isDigit(s.charAt(n)) : isAsciiLetter(s.charAt(n)))) n++;
      return n;
    };
    const aEnd = take(a, i);
    const bEnd = take(b, j);
    // b's segment is of the other kind: a numeric segment beats a letter segment.
    if (bEnd === j) return numeric ? 1 : -1;
    const sa = a.slice(i, aEnd);
    const sb = b.slice(j, bEnd);
    const cmp = numeric ? compareDigitRuns(sa, sb) : sa < sb ? -1 : sa > sb ? 1 : 0;
    if (cmp !== 0) return cmp;
    i = aEnd;
    j = bEnd;
  }
  const aLeft = i < a.length;
  const bLeft = j < b.length;
  if (!aLeft && !bLeft) return 0;
  return aLeft ? 1 : -1;
}

export interface RpmEvr {
  /** null when the string has no `epoch:` prefix (compares as 0). */
  epoch: string | null;
  version: string;
  /** null when there is no `-release` part. */
  release: string | null;
}

/** `[epoch:]version[-release]`, split as rpm does: the epoch is leading digits before a colon, the release follows the last hyphen. */
export function parseRpmEvr(evr: string): RpmEvr {
  let rest = evr.trim();
  let epoch: string | null = null;
  const colon = rest.indexOf(':');
  if (colon > 0 && /^\d+$/.test(rest.slice(0, colon))) {
    epoch = rest.slice(0, colon);
    rest = rest.slice(colon + 1);
  }
  const hyphen = rest.lastIndexOf('-');
  if (hyphen === -1) return { epoch, version: rest, release: null };
  return { epoch, version: rest.slice(0, hyphen), release: rest.slice(hyphen + 1) };
}

/**
 * Orders two `[epoch:]version[-release]` strings as rpm 4.18's `rpm.vercmp` does: epochs (missing =
 * 0), then versions, then releases, where a missing release is older than any release (`1.0` <
 * `1.0-3`). (rpm's dependency matching instead ignores a missing release — `>= 1.0` accepts
 * `1.0-3` — but that is a range test, not an ordering; a total order needs a decision.)
 */
export function compareRpmVersions(a: string, b: string): Ordering {
  const x = parseRpmEvr(a);
  const y = parseRpmEvr(b);
  const epoch = compareDigitRuns(x.epoch ?? '0', y.epoch ?? '0');
  if (epoch !== 0) return epoch;
  const version = rpmVerCmp(x.version, y.version);
  if (version !== 0) return version;
  if (x.release === null || y.release === null) {
    return x.release === y.release ? 0 : x.release === null ? -1 : 1;
  }
  return rpmVerCmp(x.release, y.release);
}
