// Bundles the CLI and the library API into single CommonJS files that run on Node >= 18.
// The scan worker is bundled first and inlined as a string, so each output file stands alone.
import { execFileSync } from 'node:child_process';
import { chmod, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { build } from 'esbuild';

const pkg = JSON.parse(await readFile('package.json', 'utf8'));
// --bundle-only: the two bundles, no type declarations (tsc takes most of the time); what
// `npm run test:fast` needs. dist/ is then not emptied, so declarations built before stay.
const bundleOnly = process.argv.includes('--bundle-only');
const common = {
  bundle: true,
  platform: 'node',
  target: 'node18',
  format: 'cjs',
  legalComments: 'none',
  logLevel: 'warning',
  // Source-only fallbacks (import.meta) are never reached in the bundle.
  logOverride: { 'empty-import-meta': 'silent' },
};

const worker = await build({
  ...common,
  entryPoints: ['src/scan/worker.ts'],
  write: false,
  minify: true,
});
const define = {
  __AFTERPATCH_VERSION__: JSON.stringify(pkg.version),
  __SCAN_WORKER_SOURCE__: JSON.stringify(worker.outputFiles[0].text),
};

if (!bundleOnly) await rm('dist', { recursive: true, force: true });
await Promise.all([
  build({
    ...common,
    define,
    entryPoints: ['src/main.ts'],
    outfile: 'dist/afterpatch.cjs',
    banner: { js: '#!/usr/bin/env node' },
  }),
  build({ ...common, define, entryPoints: ['src/index.ts'], outfile: 'dist/index.cjs' }),
]);
await chmod('dist/afterpatch.cjs', 0o755);

await writeFile('dist/package.json', '{ "type": "commonjs" }\n');
if (bundleOnly) process.exit(0);

// Type declarations for the library API. The sources import with ".ts"; declaration files must
// name ".js" (resolved to ".d.ts"), and dist/ is CommonJS, which a nested package.json says.
execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], {
  stdio: 'inherit',
});
for (const entry of await readdir('dist/types', { recursive: true })) {
  if (!entry.endsWith('.d.ts')) continue;
  const file = join('dist/types', entry);
  const text = await readFile(file, 'utf8');
  await writeFile(file, text.replace(/(from '\.{1,2}\/[^']*)\.ts'/g, "$1.js'"));
}
