/** An error whose message is a complete one-line explanation for the user (what is wrong, what to do). */
export class UserError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = 2) {
    super(message);
    this.name = 'UserError';
    this.exitCode = exitCode;
  }
}

/**
 * The host refused something afterpatch needs (a full disk, EACCES, systemctl failing): not a bug
 * of afterpatch, so reported as one line and the command's runtime-error status, never as a bug.
 */
export class EnvironmentError extends UserError {
  constructor(message: string, exitCode = 2) {
    super(message, exitCode);
    this.name = 'EnvironmentError';
  }
}

/** "ENOSPC" (or the message) of a failed system call, for a one-line error. */
export function errnoOf(e: unknown): string {
  return (e as NodeJS.ErrnoException).code ?? (e as Error).message ?? String(e);
}
