// `afterpatch config [FILE]`: validates a configuration file and prints the effective settings.
// Cheap on purpose, for Ansible's `validate: "afterpatch config %s"`: it reads that one file and
// nothing else (no scan, no /proc, no systemctl), and its exit status means only "valid or not".
import { resolve } from 'node:path';
import { DEFAULT_CONFIG_PATH, loadConfigFile } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import { UserError } from '../errors.ts';
import { EXIT } from '../exit.ts';
import { configDocument } from '../formats/config.ts';
import { printable } from '../output/style.ts';

export interface ConfigCliOptions {
  json?: true;
  format?: 'text' | 'json';
  quiet?: true;
  config?: string;
}

export function runConfig(file: string | undefined, o: ConfigCliOptions): number {
  const path = chooseFile(file, o.config);
  // A missing file is an error only when it was named (FILE or --config), as for every command.
  const loaded = loadConfigFile(path ?? DEFAULT_CONFIG_PATH, path !== undefined);
  if (o.quiet) return EXIT.ok;
  if (o.json || o.format === 'json') {
    const doc = configDocument(loaded.file, loaded.config);
    process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
  } else {
    process.stdout.write(formatConfig(loaded.config, loaded.file));
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

/**
 * The effective settings as TOML: a comment naming the file, then one `[table]` per section
 * with every key, defaults filled in. The output parses back to the same configuration.
 */
export function formatConfig(config: Config, file: string | null): string {
  const head =
    file === null
      ? `# ${DEFAULT_CONFIG_PATH} does not exist: built-in defaults`
      : `# ${printable(file)}: valid; effective settings (defaults filled in)`;
  const lines = [head];
  table(lines, [], config as unknown as Record<string, unknown>);
  return `${lines.join('\n')}\n`;
}

function table(lines: string[], path: readonly string[], obj: Record<string, unknown>): void {
  const entries = Object.entries(obj);
  const scalars = entries.filter(([, v]) => !isTable(v));
  if (path.length > 0 && (scalars.length > 0 || entries.length === 0)) {
    lines.push('', `[${path.map(tomlKey).join('.')}]`);
  }
  for (const [k, v] of scalars) lines.push(`${tomlKey(k)} = ${tomlValue(v)}`);
  for (const [k, v] of entries) {
    if (isTable(v)) table(lines, [...path, k], v);
  }
}

const isTable = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const tomlKey = (k: string) => (/^[A-Za-z0-9_-]+$/.test(k) ? k : tomlString(k));

/**
 * A TOML basic string. JSON's escapes (\" \\ \b \f \n \r \t \uXXXX) are TOML's; DEL and the C1
 * controls, which JSON leaves raw, are escaped too (TOML forbids DEL, terminals act on C1).
 */
function tomlString(s: string): string {
  return JSON.stringify(s).replace(
    /[\u007f-\u009f]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

function tomlValue(v: unknown): string {
  if (typeof v === 'string') return tomlString(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `[${v.map(tomlValue).join(', ')}]`;
  if (isTable(v)) {
    return `{ ${Object.entries(v)
      .map(([k, x]) => `${tomlKey(k)} = ${tomlValue(x)}`)
      .join(', ')} }`;
  }
  return tomlString(String(v));
}
