// Writes docs/NAME.schema.json for every published document from the valibot schemas in
// src/formats/ (one source: the tests hold real output to these files). Run by `npm run build`.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { build } from 'esbuild';

const bundle = await build({
  entryPoints: ['src/formats/json-schema.ts'],
  bundle: true,
  write: false,
  platform: 'node',
  format: 'esm',
  define: { __AFTERPATCH_VERSION__: '"0"', __SCAN_WORKER_SOURCE__: '""' },
  logLevel: 'warning',
});
const code = bundle.outputFiles[0].text;
const { PUBLISHED, documentJsonSchema } = await import(
  `data:text/javascript;base64,${Buffer.from(code).toString('base64')}`
);
const files = [];
for (const name of PUBLISHED) {
  const file = `docs/${name}.schema.json`;
  await writeFile(file, `${JSON.stringify(documentJsonSchema(name), null, 2)}\n`);
  files.push(file);
}
// The repository's formatter decides the layout, so `npm run lint` passes on generated files.
const biome = 'node_modules/@biomejs/biome/bin/biome';
if (existsSync(biome)) {
  execFileSync(process.execPath, [biome, 'format', '--write', ...files], { stdio: 'ignore' });
}
