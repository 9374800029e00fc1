// The advisories of one run: `--fixed PACKAGE=VERSION` (repeatable) and `--advisory FILE`
// (repeatable), checked and read once by the scan-options builder (src/scan/options.ts).
import { UserError } from '../errors.ts';
import { RefusedFileError, readFileBounded } from '../procfs/reader.ts';
import {
  type Advisory,
  type AdvisoryPackage,
  advisoryFromFixed,
  parseAdvisoryFile,
  parseFixedOption,
} from './advisory.ts';

/** An advisory file larger than this is refused (a typo naming a log, a device). */
export const MAX_ADVISORY_FILE_BYTES = 1024 * 1024;
/** At most this many advisories per run: each is a label value of a metric (bounded series). */
export const MAX_RUN_ADVISORIES = 256;

/** The advisories of `--fixed` and `--advisory`; empty when neither is given. */
export function advisoriesFrom(
  fixed: readonly string[] = [],
  files: readonly string[] = [],
): Advisory[] {
  const out: Advisory[] = [];
  const pkgs: AdvisoryPackage[] = fixed.map(parseFixedOption);
  if (pkgs.length > 0) out.push(advisoryFromFixed(pkgs));
  for (const file of files) out.push(...parseAdvisoryFile(readAdvisoryText(file), file));
  const seen = new Set<string>();
  for (const a of out) {
    if (seen.has(a.id))
      throw new UserError(`advisory ${a.id} is given twice; give each advisory once.`);
    seen.add(a.id);
  }
  if (out.length > MAX_RUN_ADVISORIES) {
    throw new UserError(
      `${out.length} advisories given; at most ${MAX_RUN_ADVISORIES} per run (split the file).`,
    );
  }
  return out;
}

/** The text of an advisory file: a regular file (the path was checked by --advisory's parser), bounded. */
function readAdvisoryText(path: string): string {
  try {
    // Non-blocking: a FIFO put in its place must not hang the run; anything but a file is refused.
    return readFileBounded(path, MAX_ADVISORY_FILE_BYTES).toString('utf8');
  } catch (e) {
    const why =
      e instanceof RefusedFileError
        ? e.code === 'EISDIR'
          ? 'a directory'
          : `not a regular file of at most ${MAX_ADVISORY_FILE_BYTES} bytes`
        : `cannot read it (${(e as NodeJS.ErrnoException).code ?? 'error'})`;
    throw new UserError(`--advisory ${path}: ${why}.`);
  }
}
