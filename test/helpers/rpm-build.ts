// Test rpms built with the real rpmbuild (Debian ships it with rpm): noarch packages from a
// spec text, no build-id links (they would collide between test packages).
import { execFile } from 'node:child_process';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Builds the spec's binary packages into TOP/RPMS/noarch; resolves with their paths, sorted. */
export async function buildRpms(
  specText: string,
  specFile: string,
  top: string,
): Promise<string[]> {
  await writeFile(specFile, specText);
  await run('rpmbuild', [
    '--define',
    `_topdir ${top}`,
    '--define',
    '_build_id_links none',
    '-bb',
    specFile,
  ]);
  const dir = join(top, 'RPMS/noarch');
  return (await readdir(dir)).sort().map((f) => join(dir, f));
}
