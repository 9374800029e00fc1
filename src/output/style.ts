// ANSI styling, only for a terminal and never when NO_COLOR is set (https://no-color.org).
export interface Style {
  bold(s: string): string;
  red(s: string): string;
  yellow(s: string): string;
  dim(s: string): string;
}

const wrap = (open: number, close: number) => (s: string) => `\x1b[${open}m${s}\x1b[${close}m`;

export const PLAIN: Style = { bold: (s) => s, red: (s) => s, yellow: (s) => s, dim: (s) => s };
export const ANSI: Style = {
  bold: wrap(1, 22),
  red: wrap(31, 39),
  yellow: wrap(33, 39),
  dim: wrap(2, 22),
};

export function styleFor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv): Style {
  return stream.isTTY === true && !env.NO_COLOR && env.TERM !== 'dumb' ? ANSI : PLAIN;
}

const ANSI_SEQUENCE = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');

/** Visible width, ignoring ANSI sequences. */
export function visibleLength(s: string): number {
  return s.replace(ANSI_SEQUENCE, '').length;
}

/** Lays rows out in columns separated by two spaces; the last column is not padded. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, visibleLength(cell));
    });
  }
  return rows
    .map((row) =>
      row
        .map((cell, i) =>
          i === row.length - 1 ? cell : cell + ' '.repeat((widths[i] ?? 0) - visibleLength(cell)),
        )
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/**
 * True for a code point a terminal may act on or that can hide text: C0 controls, DEL, C1 controls
 * (U+0080–U+009F: 8-bit CSI/OSC on some terminals), line/paragraph separators and the bidi
 * overrides/isolates that reorder what is shown (Trojan Source), and lone surrogates (invalid
 * UTF-16, i.e. no character; UTF-8 that was invalid is already U+FFFD once decoded).
 */
function unsafe(c: number): boolean {
  return (
    c < 0x20 ||
    (c >= 0x7f && c <= 0x9f) ||
    c === 0x2028 ||
    c === 0x2029 ||
    (c >= 0x202a && c <= 0x202e) ||
    (c >= 0x2066 && c <= 0x2069) ||
    (c >= 0xd800 && c <= 0xdfff)
  );
}

/**
 * Makes a string from the system (unit, container id, command, argv, path, a message from another
 * host) safe for a terminal: every unsafe code point is shown escaped (`\x1b`, `\u{202e}`).
 * The one escaping function of every text output (docs/security.md).
 */
export function printable(s: string): string {
  let out = '';
  for (const ch of s) {
    const c = ch.codePointAt(0) ?? 0;
    if (!unsafe(c)) out += ch;
    else out += c < 0x100 ? `\\x${c.toString(16).padStart(2, '0')}` : `\\u{${c.toString(16)}}`;
  }
  return out;
}
