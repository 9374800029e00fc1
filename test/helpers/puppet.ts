// Shared by the Puppet tests: where the module is, whether Puppet is installed, and what the
// built CLI supports.
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLI } from '../../harness/cli.ts';
import { which } from '../../harness/tools.ts';

/** The modulepath holding the module `afterpatch`. */
export const PUPPET_MODULEPATH = fileURLToPath(
  new URL('../../integrations/puppet/', import.meta.url),
);
export const PUPPET_MODULE = `${PUPPET_MODULEPATH}afterpatch`;

/** The module's files whose names end with `ext`, sorted, as absolute paths. */
export function moduleFiles(ext: string): string[] {
  return readdirSync(PUPPET_MODULE, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith(ext))
    .map((f) => join(PUPPET_MODULE, f))
    .sort();
}

/**
 * Global options giving Puppet directories of its own below `base` and the module's modulepath,
 * so that a test run leaves the machine's /etc/puppet and /var/cache/puppet alone.
 */
export function puppetArgs(base: string): string[] {
  return [
    '--modulepath',
    PUPPET_MODULEPATH,
    ...['confdir', 'codedir', 'vardir', 'logdir', 'publicdir'].flatMap((d) => [
      `--${d}`,
      join(base, d),
    ]),
    '--color',
    'false',
  ];
}

export function puppetSkipReason(): string | false {
  for (const tool of ['puppet', 'puppet-lint', 'facter', 'ruby']) {
    if (which(tool) === undefined) {
      return `${tool} not installed: apt-get install --no-install-recommends puppet-agent puppet-lint (with a policy-rc.d that exits 101)`;
    }
  }
  return false;
}

let packageOption: boolean | undefined;

/** Whether the built CLI's `restart` takes `--package` (issue 8); tests fall back to `--lib`. */
export function restartHasPackageOption(): boolean {
  packageOption ??= execFileSync(process.execPath, [CLI, 'restart', '--help'], {
    encoding: 'utf8',
  }).includes('--package');
  return packageOption;
}
