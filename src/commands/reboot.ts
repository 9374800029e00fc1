import { hostname } from 'node:os';
import { loadConfig } from '../config/load.ts';
import { rebootExitCode } from '../exit.ts';
import { rebootDocument } from '../formats/reboot.ts';
import { printable } from '../output/style.ts';
import { rebootSettingsFromConfig } from '../reboot/detect.ts';
import { describeReason, rebootRequired } from '../reboot/reboot.ts';

export interface RebootCliOptions {
  quiet?: true;
  json?: true;
  format?: 'text' | 'json';
  sentinel?: true;
  config?: string;
  procRoot: string;
  root: string;
}

export async function runRebootRequired(o: RebootCliOptions): Promise<number> {
  const config = loadConfig(o.config, o.config !== undefined);
  const r = await rebootRequired({
    procRoot: o.procRoot,
    root: o.root,
    sentinel: o.sentinel === true,
    config,
    settings: rebootSettingsFromConfig(config.reboot),
  });
  if (o.json || o.format === 'json') {
    // hostname and time as in the other documents, so `report` can merge it (issue 11.14).
    const doc = rebootDocument(r, hostname(), new Date().toISOString());
    process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
  } else if (!o.quiet) {
    const lines = r.required
      ? ['Reboot required:', ...r.reasons.map((x) => `  - ${printable(describeReason(x))}`)]
      : ['No reboot required.'];
    for (const n of r.notes) lines.push(`  note: ${printable(n)}`);
    if (r.sentinelFile)
      lines.push(
        printable(
          `Wrote ${r.sentinelFile} (${r.sentinelWritten?.join(', ') || 'no new packages'}).`,
        ),
      );
    process.stdout.write(`${lines.join('\n')}\n`);
  }
  return rebootExitCode(r);
}
