// Where afterpatch records what it did: the journal when there is one, else standard error.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';

export interface ActionLog {
  info(message: string): void;
  warn(message: string): void;
  close(): Promise<void>;
}

/** Journal through one systemd-cat child (syslog priority prefixes); stderr without systemd. */
/** Where the stderr log writes (the process's stderr, or the CLI's io.stderr). */
type TextOut = { write(text: string): unknown };

export function openActionLog(opts: { journal?: boolean; stderr?: TextOut } = {}): ActionLog {
  const useJournal = opts.journal ?? existsSync('/run/systemd/journal/socket');
  if (!useJournal) return stderrLog(opts.stderr);
  let child: ChildProcess | null = null;
  let failed = false;
  const fallback = stderrLog(opts.stderr);
  const write = (prio: number, message: string) => {
    if (failed) {
      (prio <= 4 ? fallback.warn : fallback.info)(message);
      return;
    }
    if (!child) {
      child = spawn('systemd-cat', ['-t', 'afterpatch', '--level-prefix=true'], {
        stdio: ['pipe', 'ignore', 'ignore'],
      });
      child.on('error', () => {
        failed = true;
      });
      child.stdin?.on('error', () => {
        failed = true;
      });
    }
    child.stdin?.write(`<${prio}>${message.replaceAll('\n', ' ')}\n`);
  };
  return {
    info: (m) => write(6, m),
    warn: (m) => write(4, m),
    close: () =>
      new Promise((resolve) => {
        const c = child as ChildProcess | null;
        if (!c || failed) return resolve();
        c.once('close', () => resolve());
        c.stdin?.end();
      }),
  };
}

export function stderrLog(out: TextOut = process.stderr): ActionLog {
  return {
    info: (m) => out.write(`afterpatch: ${m}\n`),
    warn: (m) => out.write(`afterpatch: warning: ${m}\n`),
    close: async () => {},
  };
}

export function silentLog(): ActionLog {
  return { info: () => {}, warn: () => {}, close: async () => {} };
}
