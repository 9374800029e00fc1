// Options that several commands share, made once so their names, help and defaults agree.
import {
  type Command,
  InvalidArgumentError,
  Option,
  type OptionValues,
} from '@commander-js/extra-typings';
import { DEFAULT_MAX_UNIT_SERIES } from '../output/prometheus-defaults.ts';
import { printable } from '../output/style.ts';
import { collectList } from './parse.ts';
import { privilegedPath } from './privileged.ts';

// Path options: as root only what nobody else can change, under sudo only what the caller could
// read themselves (src/cli/privileged.ts, docs/security-privileged.md); `env` is the run's
// environment (io.env), which says whether it runs under sudo.
export const configOption = (env: NodeJS.ProcessEnv) =>
  new Option(
    '--config <file>',
    'configuration file (default: /etc/afterpatch/afterpatch.toml)',
  ).argParser(privilegedPath('--config', env));

export const stateDirOption = (env: NodeJS.ProcessEnv) =>
  new Option(
    '--state-dir <dir>',
    'where restart outcomes are kept (default: /var/lib/afterpatch)',
  ).argParser(privilegedPath('--state-dir', env));

/** Hidden: the procfs to read (a fixture tree in tests, another host's /proc in a chroot). */
export const procRootOption = (env: NodeJS.ProcessEnv) =>
  new Option('--proc-root <dir>', 'procfs to read')
    .argParser(privilegedPath('--proc-root', env))
    .default('/proc')
    .hideHelp();

/** Hidden: the file system root to inspect (kernels, sentinels, package database). */
export const rootOption = (env: NodeJS.ProcessEnv) =>
  new Option('--root <dir>', 'file system root to inspect')
    .argParser(privilegedPath('--root', env))
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

// The scan filters, with one meaning wherever a scan runs (scan, restart, check, metrics, serve):
// they narrow the stale code considered; reboot reasons are reported as before.
export const libOption = () =>
  new Option(
    '--lib <regex>',
    'only stale files whose path matches this regular expression (e.g. libssl)',
  );

export const unitOption = () =>
  new Option('--unit <glob>', 'only processes of matching units (repeatable)')
    .argParser(collectList)
    .default([] as string[]);

export const packageOption = () =>
  new Option('--package <name>', 'only stale files owned by this package (repeatable)')
    .argParser(collectList)
    .default([] as string[]);

/** Commander's "error: …" as every other error of afterpatch: one line with our prefix. */
export function usageErrorLine(s: string): string {
  const lines = s.trimEnd().split('\n');
  const first = (lines[0] ?? '').replace(/^error: /, '').replace(/\.$/, '') || 'usage error';
  // Commander's own guess at a typo, its last line ("(Did you mean scan?)"): only a name of ours,
  // never text the caller typed (which could have put such a line into the message itself).
  const guess =
    lines.length > 1
      ? /^\(Did you mean ((?:--?)?[a-z][a-z-]*)\?\)$/.exec(lines.at(-1) ?? '')?.[1]
      : undefined;
  // The argument typed is in the message: escaped like every other text from outside.
  return `afterpatch: ${printable(first)}${guess ? ` (did you mean ${guess}?)` : ''}; run with --help for usage.\n`;
}

/** `--json`, the same as `--format json` wherever a command has a JSON document. */
export const jsonOption = () => new Option('--json', 'same as --format json');

/** `--format text|json` for commands whose other output is text. */
export const formatOption = () =>
  new Option('--format <format>', 'output format')
    .choices(['text', 'json'] as const)
    .default('text' as const);

/** `-q`: every command with an exit status except `check` (a plugin always prints its line). */
export const quietOption = () =>
  new Option('-q, --quiet', 'print nothing on standard output; only the exit status tells');

// Advisories (docs/advisories.md), wherever a scan runs: checked by the scan-options builder.
export const fixedOption = () =>
  new Option(
    '--fixed <package=version>',
    'advisory: PACKAGE (binary or source) is fixed in VERSION; processes running older code are vulnerable (repeatable)',
  )
    .argParser(collectList)
    .default([] as string[]);

export const advisoryOption = (env: NodeJS.ProcessEnv) =>
  new Option(
    '--advisory <file>',
    'advisory file (TOML or JSON: id, packages and fixed versions per distribution; repeatable)',
  )
    .argParser((v: string, prev: string[]) => [...prev, privilegedPath('--advisory', env)(v)])
    .default([] as string[]);

/**
 * The options of every command that reports health from one scan (check, metrics, serve): the
 * scan filters, the advisories, the configuration, the restart state and the hidden roots, in one order.
 */
export function addHealthOptions<
  Args extends unknown[],
  Opts extends OptionValues,
  Globals extends OptionValues,
>(cmd: Command<Args, Opts, Globals>, env: NodeJS.ProcessEnv) {
  return cmd
    .addOption(libOption())
    .addOption(unitOption())
    .addOption(packageOption())
    .addOption(fixedOption())
    .addOption(advisoryOption(env))
    .addOption(configOption(env))
    .addOption(stateDirOption(env))
    .addOption(procRootOption(env))
    .addOption(rootOption(env));
}
