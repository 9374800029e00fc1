// Every output format of `scan`; the Record type makes the compiler check that each is handled.
import type { RebootReport } from '../reboot/reboot.ts';
import type { ScanReport } from '../scan/scan.ts';
import { scanJsonChunks } from './json.ts';
import type { Style } from './style.ts';
import { formatText } from './text.ts';

export type ScanFormat = 'text' | 'json';

export interface FormatContext {
  style: Style;
  all: boolean;
  /**
   * `scan --reboot`: the verdict (in the document) and its text (after the scan's), rendered by
   * the caller so that a scan without --reboot loads none of the reboot code.
   */
  reboot?: { report: RebootReport; text: string } | undefined;
}

/** Each format yields its output in pieces (text, or UTF-8 already encoded), written as they come. */
export const SCAN_FORMATS: Record<
  ScanFormat,
  (r: ScanReport, ctx: FormatContext) => Iterable<string | Uint8Array>
> = {
  text: (r, ctx) => [
    formatText(r, ctx.style, { all: ctx.all }),
    ...(ctx.reboot === undefined ? [] : [`\n${ctx.reboot.text}`]),
  ],
  json: (r, ctx) => scanJsonChunks(r, ctx.reboot?.report),
};
