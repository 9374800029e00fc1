// Reading unit properties from PID 1 over its private D-Bus socket instead of `systemctl show`:
// systemctl asks PID 1 for every property of every interface of each unit (~0.9 ms a unit) and
// parses them all; here only the properties asked for travel, pipelined on one connection. The
// system manager's restarts and reloads can go over the bus too, one job per unit (jobs(),
// bus-jobs.ts); daemon-reexec, user managers and the journal stay with systemctl. Whenever
// the bus cannot answer cleanly (no socket, not root, an error, a reply it cannot parse, a
// timeout) the same question goes to systemctl, and the bus is not tried again in this process.
import { BusJobs } from './bus-jobs.ts';
import {
  type ActionResult,
  type JobRunner,
  type Manager,
  SystemctlClient,
  type SystemdClient,
} from './client.ts';
import { type CallResult, callAll, SYSTEMD_PRIVATE_SOCKET } from './dbus-socket.ts';
import type { DbusValue, MethodCall } from './dbus-wire.ts';
import { PLAN_PROPERTIES, type UnitProperties } from './properties.ts';

const UNIT_INTERFACE = 'org.freedesktop.systemd1.Unit';

/** Properties of org.freedesktop.systemd1.Unit; any other is read from the unit type's interface. */
const UNIT_PROPERTIES = new Set([
  'Id',
  'Names',
  'Description',
  'LoadState',
  'ActiveState',
  'SubState',
  'FragmentPath',
  'RefuseManualStop',
  'RefuseManualStart',
  'CanStop',
  'CanStart',
  'CanReload',
  'TriggeredBy',
  'Triggers',
]);

const TYPE_INTERFACE: Record<string, string> = {
  service: 'Service',
  socket: 'Socket',
  scope: 'Scope',
  slice: 'Slice',
  mount: 'Mount',
  swap: 'Swap',
  automount: 'Automount',
  timer: 'Timer',
  path: 'Path',
  target: 'Target',
  device: 'Device',
};

/** Errors that mean "the unit has no such property" (systemctl show then prints none either). */
const ABSENT = new Set([
  'org.freedesktop.DBus.Error.UnknownProperty',
  'org.freedesktop.DBus.Error.UnknownInterface',
]);

/** sd_bus_path_encode("/org/freedesktop/systemd1/unit", name): [A-Za-z0-9] kept, else _xx. */
export function unitObjectPath(name: string): string {
  let out = name === '' ? '_' : '';
  Buffer.from(name, 'utf8').forEach((b, i) => {
    const letter = (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a);
    const digit = i > 0 && b >= 0x30 && b <= 0x39;
    out += letter || digit ? String.fromCharCode(b) : `_${b.toString(16).padStart(2, '0')}`;
  });
  return `/org/freedesktop/systemd1/unit/${out}`;
}

/** A property value as `systemctl show` prints it; null for a type systemctl would print otherwise. */
export function showValue(v: DbusValue): string | null {
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  if (v.every((x) => typeof x === 'string')) return v.join(' ');
  return null;
}

export class BusUnreadable extends Error {}

/** Properties.Get of each (unit, property), pipelined; order and absences as `systemctl show`. */
export async function busShow(
  socketPath: string,
  units: readonly string[],
  properties: readonly string[],
  timeoutMs: number,
): Promise<Map<string, UnitProperties>> {
  const asked: { unit: string; prop: string }[] = [];
  const calls: MethodCall[] = [];
  for (const unit of units) {
    const path = unitObjectPath(unit);
    const type = TYPE_INTERFACE[unit.slice(unit.lastIndexOf('.') + 1)];
    for (const prop of properties) {
      const iface = UNIT_PROPERTIES.has(prop)
        ? UNIT_INTERFACE
        : type && `org.freedesktop.systemd1.${type}`;
      if (!iface) continue;
      asked.push({ unit, prop });
      calls.push({
        path,
        interface: 'org.freedesktop.DBus.Properties',
        member: 'Get',
        destination: 'org.freedesktop.systemd1',
        args: [iface, prop],
      });
    }
  }
  const replies: CallResult[] = calls.length ? await callAll(socketPath, calls, timeoutMs) : [];
  const out = new Map<string, UnitProperties>(units.map((u) => [u, {}]));
  replies.forEach((r, i) => {
    const { unit, prop } = asked[i] as { unit: string; prop: string };
    if (!r.ok) {
      if (ABSENT.has(r.error)) return;
      throw new BusUnreadable(`${prop} of ${unit}: ${r.error}`);
    }
    const value = r.body.length === 1 ? showValue(r.body[0] as DbusValue) : null;
    if (value === null) throw new BusUnreadable(`${prop} of ${unit}: unexpected reply`);
    (out.get(unit) as UnitProperties)[prop] = value;
  });
  return out;
}

export interface BusClientOptions {
  socketPath?: string;
  fallback?: SystemdClient;
  timeoutMs?: number;
  /** Told once why the bus was given up for systemctl (AFTERPATCH_TIMING prints it). */
  onFallback?: (why: string) => void;
}

/** The system manager's properties over the bus; everything else (and any doubt) via systemctl. */
export class BusClient implements SystemdClient {
  readonly #socket: string;
  readonly #fallback: SystemdClient;
  readonly #timeoutMs: number;
  readonly #onFallback: ((why: string) => void) | undefined;
  #broken = false;

  constructor(o: BusClientOptions = {}) {
    this.#socket = o.socketPath ?? SYSTEMD_PRIVATE_SOCKET;
    this.#fallback = o.fallback ?? new SystemctlClient();
    this.#timeoutMs = o.timeoutMs ?? 30_000;
    this.#onFallback = o.onFallback;
  }

  async #viaBus(
    manager: Manager,
    units: readonly string[],
    properties: readonly string[],
  ): Promise<Map<string, UnitProperties> | null> {
    if (manager.type !== 'system' || this.#broken || units.length === 0) return null;
    try {
      return await busShow(this.#socket, units, properties, this.#timeoutMs);
    } catch (e) {
      this.#giveUp(e as Error);
      return null;
    }
  }

  async show(
    manager: Manager,
    units: readonly string[],
    properties: readonly string[] = PLAN_PROPERTIES,
  ): Promise<Map<string, UnitProperties>> {
    return (
      (await this.#viaBus(manager, units, properties)) ??
      this.#fallback.show(manager, units, properties)
    );
  }

  async activeStates(manager: Manager, units: readonly string[]): Promise<Map<string, string>> {
    const props = await this.#viaBus(manager, units, ['ActiveState']);
    if (props === null) return this.#fallback.activeStates(manager, units);
    const out = new Map<string, string>();
    for (const [u, p] of props) if (p.ActiveState) out.set(u, p.ActiveState);
    return out;
  }

  /** The system manager's jobs over the bus; null (act through systemctl) when it cannot connect. */
  async jobs(manager: Manager): Promise<JobRunner | null> {
    if (manager.type !== 'system' || this.#broken) return null;
    try {
      return await BusJobs.open(this.#socket, this.#timeoutMs);
    } catch (e) {
      this.#giveUp(e as Error);
      return null;
    }
  }

  #giveUp(e: Error): void {
    this.#broken = true;
    this.#onFallback?.(e.message);
  }

  act(
    manager: Manager,
    verb: 'restart' | 'reload' | 'daemon-reexec',
    units: readonly string[] | null,
    timeoutMs: number,
  ): Promise<ActionResult> {
    return this.#fallback.act(manager, verb, units, timeoutMs);
  }

  journal(manager: Manager, unit: string, lines: number): Promise<string[]> {
    return this.#fallback.journal(manager, unit, lines);
  }
}
