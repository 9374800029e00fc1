// The only way afterpatch talks to systemd: `systemctl` with argument arrays.
import { EnvironmentError } from '../errors.ts';
import { PLAN_PROPERTIES, parseShow, type UnitProperties } from './properties.ts';
import { run } from './run.ts';

/** Which manager a command goes to: the system manager, or the user manager of a UID. */
export type Manager = { type: 'system' } | { type: 'user'; uid: number };

export interface ActionResult {
  ok: boolean;
  timedOut: boolean;
  /** systemctl's own messages on failure, one per line (they name the units that failed). */
  messages: string[];
}

export interface SystemdClient {
  /** Properties of many units in one call, in the order asked (default: PLAN_PROPERTIES). */
  show(
    manager: Manager,
    units: readonly string[],
    properties?: readonly string[],
  ): Promise<Map<string, UnitProperties>>;
  /** One systemctl call for all `units` (systemd runs their jobs in parallel); null for daemon-reexec. */
  act(
    manager: Manager,
    verb: 'restart' | 'reload' | 'daemon-reexec',
    units: readonly string[] | null,
    timeoutMs: number,
  ): Promise<ActionResult>;
  journal(manager: Manager, unit: string, lines: number): Promise<string[]>;
  /** ActiveState of many units in one cheap call (`systemctl is-active`), in the order asked. */
  activeStates(manager: Manager, units: readonly string[]): Promise<Map<string, string>>;
  /**
   * A way to act on units one job at a time, each answered on its own (systemd's D-Bus API);
   * null (or absent) when there is none for this manager: then `act` in batches.
   */
  jobs?(manager: Manager): Promise<JobRunner | null>;
}

/** Jobs queued one unit at a time (mode "replace", as systemctl), each awaited on its own. */
export interface JobRunner {
  /**
   * Resolves when systemd has removed the unit's job (or after `timeoutMs`: timedOut, the job may
   * still run); rejects when the connection to systemd is lost (whether it acted is unknown).
   */
  run(verb: 'restart' | 'reload', unit: string, timeoutMs: number): Promise<ActionResult>;
  close(): void;
}

export function managerArgs(m: Manager): string[] {
  return m.type === 'system' ? [] : ['--user', '-M', `${m.uid}@`];
}

export class SystemctlClient implements SystemdClient {
  readonly #systemctl: string;
  readonly #journalctl: string;

  constructor(opts: { systemctl?: string; journalctl?: string } = {}) {
    this.#systemctl = opts.systemctl ?? 'systemctl';
    this.#journalctl = opts.journalctl ?? 'journalctl';
  }

  async show(
    manager: Manager,
    units: readonly string[],
    properties: readonly string[] = PLAN_PROPERTIES,
  ): Promise<Map<string, UnitProperties>> {
    const out = new Map<string, UnitProperties>();
    if (units.length === 0) return out;
    const r = await run([
      this.#systemctl,
      ...managerArgs(manager),
      'show',
      '--no-pager',
      `--property=${properties.join(',')}`,
      '--',
      ...units,
    ]);
    if (r.code !== 0 && r.stdout === '') {
      throw new EnvironmentError(
        `systemctl show failed (${firstLine(r.stderr) || `exit status ${r.code}`}); is systemd running and reachable?`,
      );
    }
    // Blocks come back in the order the units were given (an unknown unit still gets one).
    const blocks = parseShow(r.stdout);
    units.forEach((u, i) => {
      const b = blocks[i];
      if (b) out.set(u, b);
    });
    return out;
  }

  async act(
    manager: Manager,
    verb: 'restart' | 'reload' | 'daemon-reexec',
    units: readonly string[] | null,
    timeoutMs: number,
  ): Promise<ActionResult> {
    const argv = [this.#systemctl, ...managerArgs(manager), verb];
    if (units !== null) argv.push('--', ...units);
    const r = await run(argv, { timeoutMs });
    const messages = r.stderr.split('\n').filter((l) => l.trim() !== '');
    return { ok: r.code === 0 && !r.timedOut, timedOut: r.timedOut, messages };
  }

  async activeStates(manager: Manager, units: readonly string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    if (units.length === 0) return out;
    // Exits non-zero when any unit is not active; the answers are on stdout either way.
    const r = await run([this.#systemctl, ...managerArgs(manager), 'is-active', '--', ...units]);
    const lines = r.stdout.split('\n');
    units.forEach((u, i) => {
      const state = lines[i]?.trim();
      if (state) out.set(u, state);
    });
    return out;
  }

  async journal(manager: Manager, unit: string, lines: number): Promise<string[]> {
    const who =
      manager.type === 'system' ? ['-u', unit] : [`_UID=${manager.uid}`, `USER_UNIT=${unit}`];
    const r = await run(
      [this.#journalctl, '--no-pager', '-q', '-o', 'short-iso', '-n', String(lines), ...who],
      { timeoutMs: 10_000 },
    ).catch(() => null);
    return r ? r.stdout.split('\n').filter((l) => l !== '') : [];
  }
}

function firstLine(s: string): string {
  return s.trim().split('\n')[0] ?? '';
}
