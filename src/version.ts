import { readFileSync } from 'node:fs';

declare const __AFTERPATCH_VERSION__: string;

/** Set by the bundler; read from package.json when running from source (tests). */
export const VERSION: string =
  typeof __AFTERPATCH_VERSION__ === 'string'
    ? __AFTERPATCH_VERSION__
    : (
        JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
          version: string;
        }
      ).version;
