// The advisories of one run: `--fixed PACKAGE=VERSION` (repeatable) and `--advisory FILE`
// (repeatable), checked and read once by the scan-options builder (src/scan/options.ts).
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { UserError } from '../errors.ts';
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
  let fd: number;
  try {
    // O_NONBLOCK: a FIFO put in its place must not hang the run.
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    throw new UserError(
      `--advisory ${path}: cannot read it (${(e as NodeJS.ErrnoException).code ?? 'error'}).`,
    );
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new UserError(`--advisory ${path}: not a regular file.`);
    if (st.size > MAX_ADVISORY_FILE_BYTES)
      throw new UserError(
        `--advisory ${path}: larger than ${MAX_ADVISORY_FILE_BYTES} bytes; is it an advisory file?`,
      );
    const buf = Buffer.alloc(st.size);
    let got = 0;
    while (got < st.size) {
      const n = readSync(fd, buf, got, st.size - got, got);
      if (n === 0) break;
      got += n;
    }
    return buf.subarray(0, got).toString('utf8');
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(
      `--advisory ${path}: cannot read it (${(e as NodeJS.ErrnoException).code ?? 'error'}).`,
    );
  } finally {
    closeSync(fd);
  }
}
