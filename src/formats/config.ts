// `afterpatch config --json` (format afterpatch-config, docs/configuration.md): the effective
// configuration, every key present (defaults filled in).
import * as v from 'valibot';
import { ConfigSchema } from '../config/schema.ts';
import { envelope } from './common.ts';

export const ConfigDocumentSchema = v.object({
  ...envelope('afterpatch-config'),
  /** The file read; null when the default file does not exist (all defaults). */
  file: v.nullable(v.string()),
  config: ConfigSchema,
});

export type ConfigDocument = v.InferOutput<typeof ConfigDocumentSchema>;
