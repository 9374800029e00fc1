// The one place where the configuration and the command-line flags become the options of a scan,
// so that `scan`, `restart`, `check`, `metrics`, `serve` and `reboot-required` all honour the same
// settings (scan.interpreted, ignore lists, noise rules) and filter alike (--lib, --unit, --package).
import { advisoriesFrom } from '../advisory/input.ts';
import type { Config } from '../config/schema.ts';
import { UserError } from '../errors.ts';
import { patternProblem } from '../match/regexp.ts';
import { NOISE_RULES, unknownRules } from './noise.ts';
import type { ScanOptions } from './scan.ts';

/** The scan flags a command may have; each is undefined when the command has no such flag. */
export interface ScanFlags {
  procRoot?: string | undefined;
  /** File system root owning the packages (hidden --root). */
  root?: string | undefined;
  lib?: string | undefined;
  unit?: readonly string[] | undefined;
  pid?: readonly number[] | undefined;
  package?: readonly string[] | undefined;
  /** Noise rules to switch off, on top of the configuration's scan.include_noise. */
  include?: readonly string[] | undefined;
  all?: boolean | undefined;
  /** false for --no-packages. */
  packages?: boolean | undefined;
  /** false for --no-interpreted: the flag can only switch the detector off. */
  interpreted?: boolean | undefined;
  threads?: number | undefined;
  /** `--fixed PACKAGE=VERSION` (repeatable) and `--advisory FILE` (docs/advisories.md). */
  fixed?: readonly string[] | undefined;
  advisory?: readonly string[] | undefined;
}

/** Scan options from the configuration and the flags; a bad --lib or --include is a UserError. */
export function scanOptionsFrom(config: Config, flags: ScanFlags = {}): ScanOptions {
  if (flags.lib !== undefined) checkRegExp(flags.lib);
  const disabled = [...config.scan.include_noise, ...(flags.include ?? [])];
  const unknown = unknownRules(disabled);
  if (unknown.length > 0) {
    throw new UserError(
      `unknown noise rule "${unknown[0]}" for --include; the rules are: ${NOISE_RULES.map((r) => r.id).join(' ')}.`,
    );
  }
  const advisories = advisoriesFrom(flags.fixed, flags.advisory);
  if (advisories.length > 0 && flags.packages === false) {
    throw new UserError(
      '--fixed and --advisory need the packages of stale files; drop --no-packages.',
    );
  }
  return {
    ...(advisories.length > 0 ? { advisories } : {}),
    procRoot: flags.procRoot,
    hostRoot: flags.root,
    noise: { disabled, extra: config.scan.ignore_files },
    ignoreProcesses: config.scan.ignore_processes,
    includeIgnored: flags.all === true,
    packages: flags.packages !== false,
    interpreted: flags.interpreted !== false && config.scan.interpreted,
    threads: flags.threads,
    filters: {
      lib: flags.lib,
      // An empty list means "no filter", not "match nothing".
      units: nonEmpty(flags.unit),
      pids: nonEmpty(flags.pid),
      packages: nonEmpty(flags.package),
    },
  };
}

function nonEmpty<T>(list: readonly T[] | undefined): readonly T[] | undefined {
  return list === undefined || list.length === 0 ? undefined : list;
}

function checkRegExp(src: string): void {
  // Also refuses what V8's linear-time engine cannot run (src/match/regexp.ts): --lib must not hang.
  const problem = patternProblem(src);
  if (problem !== null) throw new UserError(`--lib ${JSON.stringify(src)} ${problem}.`);
}
