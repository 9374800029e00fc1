import { hostname } from 'node:os';
import type { CliIo } from '../cli/io.ts';
import { loadConfig } from '../config/load.ts';
import { rebootExitCode } from '../exit.ts';
import { rebootDocument } from '../formats/reboot.ts';
import { formatRebootText } from '../output/reboot.ts';
import { rebootSettingsFromConfig } from '../reboot/detect.ts';
import { rebootRequired } from '../reboot/reboot.ts';

export interface RebootCliOptions {
  quiet?: true;
  json?: true;
  format?: 'text' | 'json';
  sentinel?: true;
  config?: string;
  procRoot: string;
  root: string;
}

export async function runRebootRequired(o: RebootCliOptions, io: CliIo): Promise<number> {
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
    io.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
  } else if (!o.quiet) {
    io.stdout.write(formatRebootText(r));
  }
  return rebootExitCode(r);
}
