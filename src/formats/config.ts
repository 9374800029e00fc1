// `afterpatch config --json` (format afterpatch-config, docs/configuration.md): the effective
// configuration, every key present (defaults filled in).
import * as v from 'valibot';
import { type Config, ConfigSchema } from '../config/schema.ts';
import { VERSION } from '../version.ts';
import { envelope } from './common.ts';

export const ConfigDocumentSchema = v.object({
  ...envelope('afterpatch-config'),
  /** The file read; null when the default file does not exist (all defaults). */
  file: v.nullable(v.string()),
  config: ConfigSchema,
});

export type ConfigDocument = v.InferOutput<typeof ConfigDocumentSchema>;

export function configDocument(file: string | null, config: Config): ConfigDocument {
  return { format: 'afterpatch-config', formatVersion: 1, afterpatch: VERSION, file, config };
}
