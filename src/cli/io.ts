// What a command of the CLI reads and writes besides its options: the seam between the commands
// and the process. src/cli.ts `main` gives the real streams and environment; the test harness
// (harness/cli.ts) runs the bundle in its own process with strings for streams. Library code
// below the commands takes options instead and does not see this.

/** A stream the CLI writes text to (process.stdout or a buffer); isTTY/columns decide styling.
 *  Bytes are UTF-8 text (a scan's output, encoded in batches). */
export interface CliOutput {
  write(text: string | Uint8Array): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface CliIo {
  stdout: CliOutput;
  stderr: CliOutput;
  /** Read by `report` (no files, or `-`) and restart's question. */
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  /** The run's environment (NO_COLOR, TERM, AFTERPATCH_DEBUG); child processes get process.env. */
  env: NodeJS.ProcessEnv;
  /**
   * The exit status as far as known: set by a command before its output when the verdict is
   * already known, so a reader that closes the pipe early still gets it (main's EPIPE handling).
   */
  exitCode?: number;
  /** The subcommand that runs, once known (its error exit status depends on it). */
  command?: string;
}

/** The real process's streams and environment. */
export function processIo(): CliIo {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    // Built on first use (a stream, with net or tty loaded for it: ~5 ms of every start-up);
    // only `report` and restart's question read it.
    get stdin() {
      return process.stdin;
    },
    env: process.env,
  };
}
