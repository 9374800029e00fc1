// Parsing of `systemctl show` output: one KEY=value block per unit, blocks separated by a blank line.

export type UnitProperties = Record<string, string>;

// Only what the planner and the judge read (src/restart/plan.ts, judge.ts): over the bus each one
// is a message per unit (src/systemd/bus-client.ts).
export const PLAN_PROPERTIES = [
  'LoadState',
  'ActiveState',
  'SubState',
  'Type',
  'RefuseManualStop',
  'CanReload',
  'ControlGroup',
  'Result',
  // The sockets that start the unit: an instance started by an Accept=yes socket serves one
  // connection (src/restart/plan.ts asks for their Accept= in one more batched show).
  'TriggeredBy',
] as const;

/** What the planner reads of the sockets that trigger a candidate unit. */
export const SOCKET_PROPERTIES = ['Id', 'Accept'] as const;

export function parseShow(text: string): UnitProperties[] {
  const blocks: UnitProperties[] = [];
  let cur: UnitProperties | null = null;
  for (const line of text.split('\n')) {
    if (line === '') {
      if (cur) blocks.push(cur);
      cur = null;
      continue;
    }
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    cur ??= {};
    cur[line.slice(0, eq)] = line.slice(eq + 1);
  }
  if (cur) blocks.push(cur);
  return blocks;
}
