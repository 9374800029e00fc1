// Options that several commands share, made once so their names, help and defaults agree.
import { InvalidArgumentError, Option } from '@commander-js/extra-typings';
import { DEFAULT_MAX_UNIT_SERIES } from '../output/prometheus.ts';
import { privilegedPath } from './privileged.ts';

// Path options: as root only what nobody else can change, under sudo only what the caller could
// read themselves (src/cli/privileged.ts, docs/security-privileged.md).
export const configOption = () =>
  new Option(
    '--config <file>',
    'configuration file (default: /etc/afterpatch/afterpatch.toml)',
  ).argParser(privilegedPath('--config'));

export const stateDirOption = () =>
  new Option(
    '--state-dir <dir>',
    'where restart outcomes are kept (default: /var/lib/afterpatch)',
  ).argParser(privilegedPath('--state-dir'));

/** Hidden: the procfs to read (a fixture tree in tests, another host's /proc in a chroot). */
export const procRootOption = () =>
  new Option('--proc-root <dir>', 'procfs to read')
    .argParser(privilegedPath('--proc-root'))
    .default('/proc')
    .hideHelp();

/** Hidden: the file system root to inspect (kernels, sentinels, package database). */
export const rootOption = () =>
  new Option('--root <dir>', 'file system root to inspect')
    .argParser(privilegedPath('--root'))
    .default('/')
    .hideHelp();

const seriesLimit = (v: string) => {
  if (!/^\d+$/.test(v) || Number(v) > 100_000) {
    throw new InvalidArgumentError('expected a whole number from 0 to 100000.');
  }
  return Number(v);
};

/** Bounds the cardinality of afterpatch_unit_needs_restart (metrics and serve). */
export const maxUnitSeriesOption = () =>
  new Option(
    '--max-unit-series <n>',
    `at most this many afterpatch_unit_needs_restart series with a unit name; the rest are counted in one`,
  )
    .argParser(seriesLimit)
    .default(DEFAULT_MAX_UNIT_SERIES);
