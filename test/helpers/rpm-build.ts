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
    // Debian's rpm keeps its database in ~/.rpmdb, and rpmbuild creates it: not in root's home.
    '--define',
    `_dbpath ${top}/rpmdb`,
    '-bb',
    specFile,
  ]);
  const dir = join(top, 'RPMS/noarch');
  return (await readdir(dir)).sort().map((f) => join(dir, f));
}

/**
 * The spec of a throw-away noarch package `name` at `version` (release 1) that installs each
 * [built file, absolute path] with mode 0755: test libraries, without the dependencies rpm would
 * derive from their ELF headers (libc and rtld are no rpms where the tests install them).
 */
export function testRpmSpec(name: string, version: string, files: [string, string][]): string {
  return [
    `Name: ${name}`,
    `Version: ${version}`,
    'Release: 1',
    'Summary: afterpatch test fixture',
    'License: MIT',
    'BuildArch: noarch',
    'AutoReqProv: no',
    '%global debug_package %{nil}',
    '%global _binaries_in_noarch_packages_terminate_build 0',
    '%description',
    'Throw-away package built by the afterpatch test suite.',
    '%install',
    ...files.map(([from, to]) => `install -D -m 0755 ${from} %{buildroot}${to}`),
    '%files',
    ...files.map(([, to]) => to),
    '',
  ].join('\n');
}
