// Validates documents against their published JSON Schema (docs/NAME.schema.json, generated from
// src/formats/ by scripts/json-schemas.mjs) and against the valibot schema they come from.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import Ajv2020 from 'ajv/dist/2020.js';
import * as v from 'valibot';
import { DOCUMENTS, type DocumentName } from '../../src/formats/index.ts';

const ajv = new Ajv2020.default({ allErrors: true, strict: true, allowUnionTypes: true });
const compiled = new Map<DocumentName, ReturnType<typeof ajv.compile>>();

export function publishedSchema(name: DocumentName): object {
  return JSON.parse(
    readFileSync(new URL(`../../docs/${name}.schema.json`, import.meta.url), 'utf8'),
  ) as object;
}

/** Asserts that `doc` is a valid `name` document by both the JSON Schema file and valibot. */
export function validateDocument(name: DocumentName, doc: unknown): void {
  let validate = compiled.get(name);
  if (validate === undefined) {
    validate = ajv.compile(publishedSchema(name));
    compiled.set(name, validate);
  }
  assert.ok(validate(doc), `${name}: ${JSON.stringify(validate.errors, null, 2)}`);
  const r = v.safeParse(DOCUMENTS[name].schema, doc);
  assert.ok(r.success, `${name}: ${JSON.stringify(r.issues?.[0], null, 2)}`);
}

export function validateScanJson(doc: unknown): void {
  validateDocument('scan', doc);
}
