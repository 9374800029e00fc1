// Patterns from the configuration and the command line (--lib, ignore_files, ignore_processes)
// run against paths and names any local user controls, so none of them may backtrack for ever
// (`^/(a+)+$` against "/aaa…a!" took more than 30 s). The bundle takes no native addon (no re2):
// V8 falls back to its own linear-time engine when a match backtracks too much, and patterns
// that engine cannot run (backreferences, lookaround) are refused. docs/security.md.
import { setFlagsFromString } from 'node:v8';
import { UserError } from '../errors.ts';

let linear = false;

/**
 * Turns on V8's linear-time fallback before the first pattern built from user input compiles;
 * every function here that compiles one (and globToRegExp) calls it first, directly or through
 * patternProblem. Process-wide, worker threads included; it changes no result, only how a match
 * is computed. The second flag makes the `l` (linear) RegExp flag available, which tells which
 * patterns the linear engine can run. Not at start-up:
 * V8 refuses the code cache of Node's own modules once a flag differs from the one it was made
 * with, so every flag set early made a worker thread start in 73 ms instead of 33 and the
 * program load its modules ~15 ms slower (docs/performance.md).
 */
export function linearFallback(): void {
  if (linear) return;
  linear = true;
  setFlagsFromString('--enable-experimental-regexp-engine-on-excessive-backtracks');
  setFlagsFromString('--enable-experimental-regexp-engine');
}

/** Why a pattern the linear-time engine cannot run is refused. */
export const NOT_LINEAR =
  'uses a backreference or lookaround, which can take exponential time on a hostile path: not allowed (docs/security.md)';

/** The pattern's syntax error, or null when it compiles. */
export function syntaxError(src: string): string | null {
  linearFallback();
  try {
    new RegExp(src);
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

/** True when V8's linear-time engine can run the pattern (its `l` flag accepts it). */
export function runsInLinearTime(src: string): boolean {
  linearFallback();
  try {
    new RegExp(src, 'l');
    return true;
  } catch {
    return false;
  }
}

/** Why a user-given pattern is refused, or null when it can be used. */
export function patternProblem(src: string): string | null {
  const error = syntaxError(src);
  if (error !== null) return `is not a valid regular expression (${error})`;
  return runsInLinearTime(src) ? null : NOT_LINEAR;
}

/**
 * Compiles a user-given pattern; a refused one is a UserError (one line, never "a bug"), so a
 * command that forgets to check its pattern up front still fails cleanly.
 */
export function userRegExp(src: string): RegExp {
  const problem = patternProblem(src);
  if (problem !== null) throw new UserError(`pattern ${JSON.stringify(src)} ${problem}.`);
  return new RegExp(src); // patternProblem turned the fallback on
}
