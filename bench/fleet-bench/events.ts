// bench/fleet-bench/events.ts - what the callback plugin (ansible/callback_plugins/
// bench_fleet_events.py) recorded, made into plays, tasks and serial batches with their wall
// time and CPU. Pure: tested in test/bench/fleet-model.test.ts.

/** One callback event (a JSON line). */
export interface Ev {
  t: number;
  /** CPU seconds so far of ansible-playbook's main process, and of its reaped children. */
  cs: number;
  cc: number;
  /** CPU seconds so far of the controller's and the hosts' cgroups (play/task/start/end only). */
  ctl?: number | null;
  hosts?: number | null;
  ev: string;
  run: string;
  name?: string;
  host?: string;
  task?: string;
}

/** The events of each ansible-playbook run in a JSON Lines text, by run. */
export function parseEvents(text: string): Map<string, Ev[]> {
  const runs = new Map<string, Ev[]>();
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const e = JSON.parse(line) as Ev;
    const list = runs.get(e.run) ?? [];
    list.push(e);
    runs.set(e.run, list);
  }
  return runs;
}

export interface Span {
  name: string;
  s: number;
  /** CPU (s) of the main process and of its children during the span. */
  self: number;
  kids: number;
  /** CPU (s) of the controller's and the hosts' cgroups during the span (NaN: not measured). */
  ctl: number;
  hosts: number;
}

function span(name: string, a: Ev, b: Ev): Span {
  const d = (x: number | null | undefined, y: number | null | undefined) =>
    typeof x === 'number' && typeof y === 'number' ? y - x : Number.NaN;
  return {
    name,
    s: b.t - a.t,
    self: b.cs - a.cs,
    kids: b.cc - a.cc,
    ctl: d(a.ctl, b.ctl),
    hosts: d(a.hosts, b.hosts),
  };
}

/** Plays of one run: each play start to the next play start or the end of the run. */
export function playSpans(evs: readonly Ev[]): Span[] {
  const out: Span[] = [];
  const marks = evs.filter((e) => e.ev === 'play' || e.ev === 'end');
  for (let i = 0; i + 1 < marks.length; i++) {
    const a = marks[i];
    const b = marks[i + 1];
    if (a?.ev === 'play' && b !== undefined) out.push(span(a.name ?? '', a, b));
  }
  return out;
}

/**
 * Tasks of one run inside plays whose name starts with `play`, each with the index of its play
 * among those (the serial batch it belongs to).
 */
export function taskSpans(evs: readonly Ev[], play: string): (Span & { batch: number })[] {
  const out: (Span & { batch: number })[] = [];
  let inPlay = false;
  let batch = -1;
  let cur: Ev | undefined;
  for (const e of evs) {
    if (e.ev === 'play' || e.ev === 'end' || e.ev === 'task') {
      if (cur !== undefined) out.push({ ...span(cur.name ?? '', cur, e), batch });
      cur = undefined;
    }
    if (e.ev === 'play') {
      inPlay = (e.name ?? '').startsWith(play);
      if (inPlay) batch++;
    }
    if (e.ev === 'task' && inPlay) cur = e;
  }
  return out;
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] ?? 0) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
}

/** The batches Ansible makes of `hosts` hosts with `serial: sizes` (the last size repeats). */
export function serialBatches(hosts: number, sizes: readonly number[]): number[] {
  const out: number[] = [];
  for (let left = hosts, i = 0; left > 0; i++) {
    const size = Math.min(left, Math.max(1, sizes[Math.min(i, sizes.length - 1)] ?? 1));
    out.push(size);
    left -= size;
  }
  return out;
}

/** Ansible's size for a `serial` percentage: rounded down, at least one host. */
export const percentOf = (pct: number, hosts: number) =>
  Math.max(1, Math.floor((pct * hosts) / 100));

export interface BatchStats {
  batches: number[];
  plays: Map<string, number>;
  /** Medians of the plays' CPU: main process, children, controller cgroup, hosts' cgroups. */
  playSelf: Map<string, number>;
  playKids: Map<string, number>;
  playCtl: Map<string, number>;
  playHosts: Map<string, number>;
  tasks: Map<string, number>;
  total: number;
}

/** Per-batch times of `batchPlay` (every run), medians of the other plays and of its tasks. */
export function batchStats(runs: Iterable<readonly Ev[]>, batchPlay: string): BatchStats {
  const batches: number[] = [];
  const acc = {
    plays: new Map<string, number[]>(),
    playSelf: new Map<string, number[]>(),
    playKids: new Map<string, number[]>(),
    playCtl: new Map<string, number[]>(),
    playHosts: new Map<string, number[]>(),
    tasks: new Map<string, number[]>(),
  };
  const push = (m: Map<string, number[]>, k: string, v: number) =>
    m.set(k, [...(m.get(k) ?? []), v]);
  const totals: number[] = [];
  for (const evs of runs) {
    const start = evs.find((e) => e.ev === 'start');
    const end = evs.find((e) => e.ev === 'end');
    if (start === undefined || end === undefined) continue;
    totals.push(end.t - start.t);
    // A play that runs once per batch counts as one: its batches summed.
    const perPlay = new Map<string, Span>();
    for (const p of playSpans(evs)) {
      if (p.name.startsWith(batchPlay)) batches.push(p.s);
      const q = perPlay.get(p.name);
      perPlay.set(
        p.name,
        q === undefined
          ? p
          : {
              name: p.name,
              s: q.s + p.s,
              self: q.self + p.self,
              kids: q.kids + p.kids,
              ctl: q.ctl + p.ctl,
              hosts: q.hosts + p.hosts,
            },
      );
    }
    for (const [k, v] of perPlay) {
      push(acc.plays, k, v.s);
      push(acc.playSelf, k, v.self);
      push(acc.playKids, k, v.kids);
      push(acc.playCtl, k, v.ctl);
      push(acc.playHosts, k, v.hosts);
    }
    for (const t of taskSpans(evs, batchPlay)) push(acc.tasks, t.name, t.s);
  }
  const med = (m: Map<string, number[]>) =>
    new Map([...m].map(([k, v]): [string, number] => [k, median(v)]));
  return {
    batches,
    plays: med(acc.plays),
    playSelf: med(acc.playSelf),
    playKids: med(acc.playKids),
    playCtl: med(acc.playCtl),
    playHosts: med(acc.playHosts),
    tasks: med(acc.tasks),
    total: median(totals),
  };
}

/**
 * The controller's own work after each batch of `batchPlay` in one run (tasks whose name matches
 * `work`), by batch: what must not grow with the number of hosts already done.
 */
export function perBatchWork(evs: readonly Ev[], batchPlay: string, work: RegExp): number[] {
  const out: number[] = [];
  for (const t of taskSpans(evs, batchPlay)) {
    if (!work.test(t.name)) continue;
    out[t.batch] = (out[t.batch] ?? 0) + t.s;
  }
  return Array.from(out, (x) => x ?? 0);
}

/** Least-squares slope of ys over their index (seconds per batch, for growth). */
export function slope(ys: readonly number[]): number {
  const n = ys.length;
  if (n < 2) return 0;
  const mx = (n - 1) / 2;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  ys.forEach((y, x) => {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  });
  return num / den;
}
