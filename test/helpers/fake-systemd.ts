// A SystemdClient for tests of the restart logic where no systemd runs: units with properties
// the test sets, every call recorded, and hooks to make an action slow or fail.
import type { ActionResult, JobRunner, Manager, SystemdClient } from '../../src/systemd/client.ts';
import type { UnitProperties } from '../../src/systemd/properties.ts';

export interface FakeAct {
  manager: Manager;
  verb: 'restart' | 'reload' | 'daemon-reexec';
  units: readonly string[] | null;
}

export class FakeSystemd implements SystemdClient {
  /** Properties by unit name (any manager); a unit not listed is unknown to systemd. */
  readonly units = new Map<string, UnitProperties>();
  readonly acts: FakeAct[] = [];
  /** Runs inside each act() before it answers (e.g. wait, send a signal). */
  onAct: (a: FakeAct) => Promise<void> | void = () => {};
  /** The answer of act(); default: success. */
  result: (a: FakeAct) => ActionResult = () => ({ ok: true, timedOut: false, messages: [] });
  /** Every query, in order: `show a.service b.service`, `is-active …`, `journal a.service`. */
  readonly queries: string[] = [];
  /** Journal lines by unit. */
  readonly journals = new Map<string, string[]>();
  /** Makes show() fail as a broken systemctl would. */
  showError: Error | null = null;

  /**
   * Set: jobs() offers a runner (systemd's D-Bus API) whose run() is answered by this, one unit
   * at a time; unset: jobs() answers null and the units are acted on in batches through act().
   */
  runJob: ((verb: 'restart' | 'reload', unit: string) => Promise<ActionResult>) | null = null;
  /** Every job run, in order: `restart a.service`. */
  readonly jobsRun: string[] = [];
  /** Jobs running now, and the most that ever ran at once. */
  inFlight = 0;
  maxInFlight = 0;
  /** Runners handed out and closed. */
  runners = 0;
  closed = 0;

  async jobs(): Promise<JobRunner | null> {
    const answer = this.runJob;
    if (answer === null) return null;
    this.runners++;
    return {
      run: async (verb, unit) => {
        this.jobsRun.push(`${verb} ${unit}`);
        this.maxInFlight = Math.max(this.maxInFlight, ++this.inFlight);
        try {
          return await answer(verb, unit);
        } finally {
          this.inFlight--;
        }
      },
      close: () => {
        this.closed++;
      },
    };
  }

  unit(name: string, props: UnitProperties = {}): this {
    this.units.set(name, {
      Id: name,
      LoadState: 'loaded',
      ActiveState: 'active',
      SubState: 'running',
      Type: 'simple',
      CanReload: 'no',
      ControlGroup: `/system.slice/${name}`,
      ...props,
    });
    return this;
  }

  async show(_m: Manager, units: readonly string[]): Promise<Map<string, UnitProperties>> {
    this.queries.push(['show', ...units].join(' '));
    if (this.showError) throw this.showError;
    const out = new Map<string, UnitProperties>();
    for (const u of units) out.set(u, this.units.get(u) ?? { Id: u, LoadState: 'not-found' });
    return out;
  }

  async act(
    manager: Manager,
    verb: FakeAct['verb'],
    units: readonly string[] | null,
  ): Promise<ActionResult> {
    const a = { manager, verb, units };
    this.acts.push(a);
    await this.onAct(a);
    return this.result(a);
  }

  async journal(_m: Manager, unit: string, lines: number): Promise<string[]> {
    this.queries.push(`journal ${unit}`);
    return (this.journals.get(unit) ?? []).slice(-lines);
  }

  async activeStates(_m: Manager, units: readonly string[]): Promise<Map<string, string>> {
    this.queries.push(['is-active', ...units].join(' '));
    const out = new Map<string, string>();
    for (const u of units) out.set(u, this.units.get(u)?.ActiveState ?? 'inactive');
    return out;
  }
}
