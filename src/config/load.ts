// Loads and validates the configuration; every error names the file, the line and the key.
import { parse, TomlError } from 'smol-toml';
import * as v from 'valibot';
import { errnoCode, UserError } from '../errors.ts';
import { readFileBounded } from '../procfs/reader.ts';
import type { NoiseConfig } from '../scan/noise.ts';
import { type Config, ConfigSchema } from './schema.ts';

export const DEFAULT_CONFIG_PATH = '/etc/afterpatch/afterpatch.toml';
/** Far above any real configuration. */
const MAX_CONFIG_BYTES = 1024 * 1024;

/** The defaults, as if an empty file had been read. */
export function defaultConfig(): Config {
  return v.parse(ConfigSchema, {});
}

/**
 * Reads `path`. A missing file at the default path means "no configuration"; a missing file
 * that was asked for explicitly is an error.
 */
export function loadConfig(path: string = DEFAULT_CONFIG_PATH, explicit = false): Config {
  return loadConfigFile(path, explicit).config;
}

/** loadConfig, also telling which file was read: null when a missing default meant the defaults. */
export function loadConfigFile(
  path: string = DEFAULT_CONFIG_PATH,
  explicit = false,
): { config: Config; file: string | null } {
  let text: string;
  try {
    // Bounded, and a FIFO is refused rather than waited on.
    text = readFileBounded(path, MAX_CONFIG_BYTES).toString('utf8');
  } catch (e) {
    const code = errnoCode(e);
    if (code === 'ENOENT' && !explicit) return { config: defaultConfig(), file: null };
    throw new UserError(`cannot read configuration ${path} (${code ?? (e as Error).message}).`);
  }
  return { config: parseConfig(text, path), file: path };
}

export function parseConfig(text: string, path: string): Config {
  let data: unknown;
  try {
    data = parse(text);
  } catch (e) {
    if (e instanceof TomlError) {
      const first = e.message.split('\n')[0] ?? 'syntax error';
      throw new UserError(
        `${path}:${e.line}: invalid TOML: ${first}; fix the file or pass --config.`,
      );
    }
    throw e;
  }
  const result = v.safeParse(ConfigSchema, data);
  if (result.success) return result.output;
  const issue = result.issues[0];
  const keyPath = (issue.path ?? []).map((p) => String(p.key));
  const line = lineOf(text, keyPath);
  const where = line === null ? path : `${path}:${line}`;
  const key =
    keyPath
      .map((p) => (PLAIN_KEY.test(p) ? p : '(a key with unusual characters)'))
      .reduce((k, p) => (/^\d+$/.test(p) ? `${k}[${p}]` : k ? `${k}.${p}` : p), '') ||
    '(top level)';
  // strict_object reports both a key it does not know (expected "never") and a value that is not
  // a table (`scan = 5`, expected "Object"): only the first is an unknown key.
  const strict = issue.type === 'strict_object' && keyPath.length > 0;
  const message =
    strict && issue.expected === 'never'
      ? 'unknown key'
      : strict
        ? `must be a table ([${keyPath.join('.')}])`
        : withoutValue(issue.message, issue.expected);
  throw new UserError(`${where}: ${key}: ${message}; fix the file or pass --config.`);
}

/** Keys printed as they are; anything else (quoted keys can hold any text) is not echoed. */
const PLAIN_KEY = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * The schema's own messages never quote the value; valibot's defaults do ("… but received
 * \"hunter2\""), and the file may be one the caller cannot read: never echo what was read.
 */
function withoutValue(message: string, expected: string | null): string {
  if (!/\breceived\b/.test(message)) return message;
  const what: Record<string, string> = { Array: 'a list', string: 'a string', Object: 'a table' };
  return `must be ${(expected !== null && what[expected]) || 'of another type'}`;
}

/** Line number (1-based) where a dotted key is written, found from the table headers; null if unsure. */
export function lineOf(text: string, keyPath: readonly string[]): number | null {
  // Array indexes are not written in the file: find the line of the key that holds the array.
  const keys = keyPath.filter((k) => !/^\d+$/.test(k));
  if (keys.length === 0) return null;
  const table = keys.slice(0, -1).join('.');
  const key = keys[keys.length - 1];
  let current = '';
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] ?? '').trim();
    const header = /^\[\s*([^\]]+?)\s*\]/.exec(line);
    if (header) {
      current = header[1] ?? '';
      if (current === keys.join('.')) return i + 1;
      continue;
    }
    const m = /^("?)([A-Za-z0-9_-]+)\1\s*=/.exec(line);
    if (m && m[2] === key && current === table) return i + 1;
  }
  return null;
}

/** The noise rules a configuration asks for: built-in rules switched off and extra patterns. */
export function noiseFromConfig(config: Config): NoiseConfig {
  return { disabled: config.scan.include_noise, extra: config.scan.ignore_files };
}
