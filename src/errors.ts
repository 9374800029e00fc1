// The errors the library throws on purpose. None carries an exit status: what a failure means for
// the process is the CLI's decision, made in one place (src/cli.ts reportError, src/exit.ts).

/** An error whose message is a complete one-line explanation for the user (what is wrong, what to do). */
export class UserError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UserError';
  }
}

/**
 * The host refused something afterpatch needs (a full disk, EACCES, systemctl failing): not a bug
 * of afterpatch, so reported as one line and the command's runtime-error status, never as a bug.
 */
export class EnvironmentError extends UserError {
  constructor(message: string) {
    super(message);
    this.name = 'EnvironmentError';
  }
}

/** The errno code ("ENOENT", "EACCES", ...) of a failed system call, or undefined for other errors. */
export function errnoCode(e: unknown): string | undefined {
  if (typeof e !== 'object' || e === null || !('code' in e)) return undefined;
  const code = (e as { code: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

/** "ENOSPC" (or the message) of a failed system call, for a one-line error. */
export function errnoOf(e: unknown): string {
  return errnoCode(e) ?? (e instanceof Error ? e.message : String(e));
}
