// Restarting or reloading units one job at a time over systemd's private bus, as `systemctl
// restart` does inside (RestartUnit/ReloadUnit with job mode "replace", then wait for the job's
// JobRemoved signal) — but each unit answered on its own, so the caller can keep a window of jobs
// in flight instead of waiting for the slowest unit of a batch. PID 1 sends every signal to every
// direct connection: no Subscribe (that is for clients of the system bus) and no match rules.
import type { ActionResult, JobRunner } from './client.ts';
import { BusConnection } from './dbus-socket.ts';
import type { DbusMessage } from './dbus-wire.ts';

const MANAGER_PATH = '/org/freedesktop/systemd1';
const MANAGER_INTERFACE = 'org.freedesktop.systemd1.Manager';

const METHOD = { restart: 'RestartUnit', reload: 'ReloadUnit' } as const;

/** systemctl's words for a job that ended otherwise than "done" (shared/bus-wait-for-jobs.c). */
export function jobResultMessage(unit: string, result: string): string {
  switch (result) {
    case 'canceled':
      return `Job for ${unit} canceled.`;
    case 'timeout':
      return `Job for ${unit} timed out.`;
    case 'dependency':
      return `A dependency job for ${unit} failed.`;
    case 'invalid':
      return `${unit} is not active, cannot reload.`;
    case 'assert':
      return `Assertion failed on job for ${unit}.`;
    case 'unsupported':
      return `Operation on or unit type of ${unit} not supported on this system.`;
    case 'collected':
      return `Queued job for ${unit} was garbage collected.`;
    case 'once':
      return `Unit ${unit} was started already once and can't be started again.`;
    default:
      return `Job for ${unit} failed (job result: ${result}).`;
  }
}

function isJobRemoved(m: DbusMessage): boolean {
  return m.member === 'JobRemoved' && m.interface === MANAGER_INTERFACE && m.path === MANAGER_PATH;
}

/** Results of jobs seen removed before their RestartUnit reply was read, kept this many at most. */
const EARLY_MAX = 4096;

const TIMED_OUT = Symbol('timed out');

type Waiter = { resolve: (result: string) => void; reject: (e: Error) => void };

export class BusJobs implements JobRunner {
  readonly #conn: BusConnection;
  /** Job object path → who waits for its JobRemoved. */
  readonly #jobs = new Map<string, Waiter>();
  readonly #early = new Map<string, string>();
  #replying = 0;
  #error: Error | null = null;

  private constructor(conn: BusConnection) {
    this.#conn = conn;
    conn.onError = (e) => {
      this.#error = e;
      for (const w of this.#jobs.values()) w.reject(e);
      this.#jobs.clear();
    };
    conn.onSignal = (m) => {
      if (!isJobRemoved(m)) return;
      const [, path, , result] = m.body;
      if (typeof path !== 'string' || typeof result !== 'string') return;
      const waiter = this.#jobs.get(path);
      if (waiter) {
        this.#jobs.delete(path);
        waiter.resolve(result);
      } else if (this.#replying > 0) {
        // The reply naming this job may still be unread (PID 1 sends it first: a safety net).
        this.#early.set(path, result);
        const oldest = this.#early.keys().next();
        if (this.#early.size > EARLY_MAX && !oldest.done) this.#early.delete(oldest.value);
      }
    };
  }

  static async open(socketPath: string, timeoutMs: number): Promise<BusJobs> {
    return new BusJobs(
      await BusConnection.open(socketPath, timeoutMs, { signals: ['JobRemoved'] }),
    );
  }

  /**
   * Queues the job and waits for its end. ok for "done" and "skipped", as systemctl; timedOut
   * (the job may still run) after `timeoutMs`; rejects when the connection fails: whether systemd
   * acted is then unknown.
   */
  async run(verb: 'restart' | 'reload', unit: string, timeoutMs: number): Promise<ActionResult> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<typeof TIMED_OUT>((resolve) => {
      timer = setTimeout(() => resolve(TIMED_OUT), timeoutMs);
    });
    const late: ActionResult = { ok: false, timedOut: true, messages: [] };
    let job: string | null = null;
    try {
      this.#replying++;
      const call = this.#conn
        .call({
          path: MANAGER_PATH,
          interface: MANAGER_INTERFACE,
          member: METHOD[verb],
          destination: 'org.freedesktop.systemd1',
          args: [unit, 'replace'],
        })
        .finally(() => this.#replying--);
      const reply = await Promise.race([call, timeout]);
      if (reply === TIMED_OUT) return late;
      if (!reply.ok) {
        const why = reply.message || reply.error;
        return { ok: false, timedOut: false, messages: [`Failed to ${verb} ${unit}: ${why}`] };
      }
      const path = reply.body[0];
      if (typeof path !== 'string') throw new Error(`${METHOD[verb]} ${unit}: unexpected reply`);
      job = path;
      const early = this.#early.get(path);
      this.#early.delete(path);
      const result =
        early ??
        (await Promise.race([
          new Promise<string>((resolve, reject) => {
            if (this.#error) reject(this.#error);
            else this.#jobs.set(path, { resolve, reject });
          }),
          timeout,
        ]));
      if (result === TIMED_OUT) return late;
      const ok = result === 'done' || result === 'skipped';
      return { ok, timedOut: false, messages: ok ? [] : [jobResultMessage(unit, result)] };
    } finally {
      clearTimeout(timer);
      if (job !== null) this.#jobs.delete(job);
    }
  }

  close(): void {
    this.#conn.close();
  }
}
