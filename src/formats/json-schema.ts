// The document schemas as JSON Schema (2020-12), for docs/*.schema.json (scripts/json-schemas.mjs):
// a small converter for the valibot schemas src/formats/ uses. Objects are closed (additional
// properties false): a file says exactly what this version writes, and the tests hold real output
// to it; readers still ignore fields they do not know (docs/json.md).
import type * as v from 'valibot';
import { DOCUMENTS, type DocumentName } from './index.ts';

type Json = { [k: string]: unknown };
type AnySchema = v.GenericSchema & {
  type: string;
  pipe?: readonly { type: string; kind?: string; requirement?: unknown; description?: string }[];
  entries?: Record<string, AnySchema>;
  item?: AnySchema;
  options?: readonly (AnySchema | string | number)[];
  wrapped?: AnySchema;
  default?: unknown;
  literal?: unknown;
  key?: AnySchema;
  value?: AnySchema;
};

const SCALAR: Record<string, string> = { string: 'string', boolean: 'boolean', null: 'null' };

/** One valibot schema as JSON Schema; throws on a kind it does not know (never a silent `{}`). */
export function toJsonSchema(s: AnySchema): Json {
  if (s.pipe === undefined) return convert(s);
  // v.pipe(base, ...actions): the base (itself maybe a pipe), then what the actions add.
  const [base, ...actions] = s.pipe;
  const out = toJsonSchema(base as unknown as AnySchema);
  for (const a of actions) pipeAction(out, a);
  return out;
}

function convert(s: AnySchema): Json {
  switch (s.type) {
    case 'string':
    case 'boolean':
    case 'null':
      return { type: SCALAR[s.type] };
    case 'number':
      return { type: 'number' };
    case 'unknown':
      return {};
    case 'literal':
      return { const: s.literal };
    case 'picklist':
      return { enum: [...(s.options ?? [])] };
    case 'array':
      return { type: 'array', items: toJsonSchema(s.item as AnySchema) };
    case 'record':
      return { type: 'object', additionalProperties: toJsonSchema(s.value as AnySchema) };
    case 'object':
    case 'strict_object':
    case 'loose_object':
      return object(s);
    case 'union':
      return { anyOf: (s.options as AnySchema[]).map(toJsonSchema) };
    case 'variant':
      return { oneOf: (s.options as AnySchema[]).map(toJsonSchema) };
    case 'nullable':
      return nullable(toJsonSchema(s.wrapped as AnySchema));
    case 'optional': {
      const inner = toJsonSchema(s.wrapped as AnySchema);
      return s.default === undefined ? inner : { ...inner, default: s.default };
    }
    default:
      throw new Error(`toJsonSchema: no conversion for valibot "${s.type}"`);
  }
}

function object(s: AnySchema): Json {
  const entries = Object.entries(s.entries ?? {});
  const out: Json = {
    type: 'object',
    // Optional with a default is always written (the configuration's filled-in keys).
    required: entries
      .filter(([, e]) => e.type !== 'optional' || e.default !== undefined)
      .map(([k]) => k),
    properties: Object.fromEntries(entries.map(([k, e]) => [k, toJsonSchema(e)])),
  };
  if (s.type !== 'loose_object') out.additionalProperties = false;
  return out;
}

function nullable(inner: Json): Json {
  const keys = Object.keys(inner);
  if (keys.length === 1 && typeof inner.type === 'string') return { type: [inner.type, 'null'] };
  if (keys.length === 1 && Array.isArray(inner.enum)) return { enum: [...inner.enum, null] };
  return { anyOf: [inner, { type: 'null' }] };
}

function pipeAction(out: Json, a: { type: string; requirement?: unknown; description?: string }) {
  switch (a.type) {
    case 'integer':
      out.type = 'integer';
      break;
    case 'min_value':
      out.minimum = a.requirement;
      break;
    case 'max_value':
      out.maximum = a.requirement;
      break;
    case 'min_length':
      out[out.type === 'array' ? 'minItems' : 'minLength'] = a.requirement;
      break;
    case 'max_length':
      out[out.type === 'array' ? 'maxItems' : 'maxLength'] = a.requirement;
      break;
    case 'regex':
      out.pattern = (a.requirement as RegExp).source;
      break;
    case 'description':
      out.description = a.description;
      break;
    // Checks that JSON Schema cannot say (linear-time regular
    // expressions, ISO timestamps) stay with the valibot schema.
  }
}

/** The whole file for one document. */
export function documentJsonSchema(name: DocumentName): Json {
  const d = DOCUMENTS[name];
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: `https://github.com/afterpatch/afterpatch/docs/${name}.schema.json`,
    title: `${d.title}, format version 1`,
    ...toJsonSchema(d.schema as unknown as AnySchema),
  };
}

export const PUBLISHED: readonly DocumentName[] = Object.keys(DOCUMENTS).filter(
  (n) => n !== 'state',
) as DocumentName[];
