// `afterpatch config [FILE]`: validates a configuration file and prints the effective settings.
// Cheap on purpose, for Ansible's `validate: "afterpatch config %s"`: it reads that one file and
// nothing else (no scan, no /proc, no systemctl), and its exit status means only "valid or not".
import { resolve } from 'node:path';
import type { CliIo } from '../cli/io.ts';
import { DEFAULT_CONFIG_PATH, loadConfigFile } from '../config/load.ts';
import { UserError } from '../errors.ts';
import { EXIT } from '../exit.ts';
import { configDocument } from '../formats/config.ts';
import { formatConfig } from '../output/config.ts';
import { printable } from '../output/style.ts';

export interface ConfigCliOptions {
  json?: true;
  format?: 'text' | 'json';
  quiet?: true;
  config?: string;
}

export function runConfig(file: string | undefined, o: ConfigCliOptions, io: CliIo): number {
  const path = chooseFile(file, o.config);
  // A missing file is an error only when it was named (FILE or --config), as for every command.
  const loaded = loadConfigFile(path ?? DEFAULT_CONFIG_PATH, path !== undefined);
  if (o.quiet) return EXIT.ok;
  if (o.json || o.format === 'json') {
    const doc = configDocument(loaded.file, loaded.config);
    io.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
  } else {
    io.stdout.write(formatConfig(loaded.config, loaded.file));
  }
  return EXIT.ok;
}

/** FILE and --config mean the same; both may be given only when they name the same file. */
function chooseFile(file: string | undefined, option: string | undefined): string | undefined {
  if (file !== undefined && option !== undefined && resolve(file) !== resolve(option)) {
    throw new UserError(
      `two different files to check: ${printable(file)} and --config ${printable(option)}; give one.`,
    );
  }
  return file ?? option;
}
