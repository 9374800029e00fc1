// Every output format of `scan`; the Record type makes the compiler check that each is handled.
import type { ScanReport } from '../scan/scan.ts';
import { formatJson } from './json.ts';
import type { Style } from './style.ts';
import { formatText } from './text.ts';

export type ScanFormat = 'text' | 'json';

export interface FormatContext {
  style: Style;
  all: boolean;
}

export const SCAN_FORMATS: Record<ScanFormat, (r: ScanReport, ctx: FormatContext) => string> = {
  text: (r, ctx) => formatText(r, ctx.style, { all: ctx.all }),
  json: (r) => formatJson(r),
};
