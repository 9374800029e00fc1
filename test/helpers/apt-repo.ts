// A local, file-based apt repository (dpkg-scanpackages) and an apt configuration that uses only
// it, so that a real `apt-get install NAME=VERSION` (or Puppet's apt provider) installs test
// packages without touching the machine's apt state.
//
// Everything apt would write lives in the repository's own directory: APT_CONFIG points at a
// file naming that directory's source list, state (package lists, extended_states), cache and
// logs. What stays shared with the machine is what a package installation is: the dpkg database
// and the installed files; callers purge their test packages. remove() deletes the directory.
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { run } from '../../harness/fixtures.ts';

export interface LocalAptRepo {
  /** The repository's directory (the .deb files and Packages). */
  readonly dir: string;
  /** Environment that makes apt-get / apt-cache / apt-mark use only this repository. */
  readonly env: Record<string, string>;
  /** Remove the repository, its lists, cache and logs. */
  remove(): void;
}

/** Builds the repository from `debs` and downloads its index (apt-get update, this source only). */
export async function localAptRepo(debs: readonly string[]): Promise<LocalAptRepo> {
  const dir = mkdtempSync(join(tmpdir(), 'afterpatch-apt-repo-'));
  try {
    const pool = join(dir, 'pool');
    mkdirSync(pool);
    for (const deb of debs) copyFileSync(deb, join(pool, basename(deb)));
    const index = await run('dpkg-scanpackages', ['--multiversion', 'pool', '/dev/null'], {
      cwd: dir,
    });
    writeFileSync(join(pool, 'Packages'), index.stdout);
    for (const d of ['state/lists/partial', 'cache/archives/partial', 'log', 'parts']) {
      mkdirSync(join(dir, d), { recursive: true });
    }
    writeFileSync(join(dir, 'sources.list'), `deb [trusted=yes] file:${dir} pool/\n`);
    const conf = join(dir, 'apt.conf');
    writeFileSync(
      conf,
      [
        `Dir::Etc::sourcelist "${join(dir, 'sources.list')}";`,
        `Dir::Etc::sourceparts "${join(dir, 'parts')}";`,
        `Dir::State "${join(dir, 'state')}/";`,
        'Dir::State::status "/var/lib/dpkg/status";',
        `Dir::Cache "${join(dir, 'cache')}/";`,
        `Dir::Log "${join(dir, 'log')}/";`,
        // Other jobs on the machine may hold the dpkg lock for a moment.
        'DPkg::Lock::Timeout "300";',
        '',
      ].join('\n'),
    );
    const env = { APT_CONFIG: conf, DEBIAN_FRONTEND: 'noninteractive' };
    await run('apt-get', ['update', '-q'], { env: { ...process.env, ...env } });
    return { dir, env, remove: () => rmSync(dir, { recursive: true, force: true }) };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
