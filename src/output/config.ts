// `afterpatch config`'s printout: the effective configuration as TOML that parses back to it.
import { DEFAULT_CONFIG_PATH } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import { printable } from './style.ts';

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
