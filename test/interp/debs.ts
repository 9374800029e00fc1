// Throw-away architecture-independent .deb packages holding script files (dpkg-deb, no shell),
// for the interpreted-code tests. Build directories are removed at exit.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { run } from '../../harness/fixtures.ts';

const dirs: string[] = [];
process.once('exit', () => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Builds `name_version_all.deb` holding `files` (absolute path → [content, mode]). */
export async function buildFilesDeb(
  name: string,
  version: string,
  files: Record<string, readonly [string | Buffer, number]>,
): Promise<string> {
  if (!/^[a-z0-9][a-z0-9+.-]+$/.test(name)) throw new Error(`bad package name ${name}`);
  const dir = mkdtempSync(join(tmpdir(), `afterpatch-interp-${name}-`));
  dirs.push(dir);
  const root = join(dir, 'root');
  mkdirSync(join(root, 'DEBIAN'), { recursive: true });
  for (const [path, [content, mode]] of Object.entries(files)) {
    if (!path.startsWith('/usr/')) throw new Error(`refusing to package ${path}`);
    const at = join(root, path);
    mkdirSync(dirname(at), { recursive: true });
    writeFileSync(at, content);
    chmodSync(at, mode);
  }
  writeFileSync(
    join(root, 'DEBIAN', 'control'),
    [
      `Package: ${name}`,
      `Version: ${version}`,
      'Architecture: all',
      'Maintainer: afterpatch tests <afterpatch-tests@localhost>',
      'Section: misc',
      'Priority: optional',
      'Description: afterpatch interpreted-code test fixture',
      ' Throw-away package built by the afterpatch test suite; safe to purge.',
      '',
    ].join('\n'),
  );
  const deb = join(dir, `${name}_${version}_all.deb`);
  await run('dpkg-deb', ['--root-owner-group', '-Zgzip', '--build', root, deb]);
  return deb;
}
