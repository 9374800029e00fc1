// Every output format of `scan`; the Record type makes the compiler check that each is handled.
import type { ScanReport } from '../scan/scan.ts';
import { scanJsonChunks } from './json.ts';
import type { Style } from './style.ts';
import { formatText } from './text.ts';

export type ScanFormat = 'text' | 'json';

export interface FormatContext {
  style: Style;
  all: boolean;
}

/** Each format yields its output in pieces, written as they come. */
export const SCAN_FORMATS: Record<
  ScanFormat,
  (r: ScanReport, ctx: FormatContext) => Iterable<string>
> = {
  text: (r, ctx) => [formatText(r, ctx.style, { all: ctx.all })],
  json: (r) => scanJsonChunks(r),
};
