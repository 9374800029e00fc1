// Package history: when which version of a package was installed, from the package manager's
// own logs (dpkg.log, dnf.rpm.log, yum.log). Pure parsers over text; only the packages asked for
// are kept, so a long log costs one pass and no memory beyond the advisory's packages.

export interface HistoryEvent {
  /** Milliseconds since the epoch. */
  time: number;
  /** Binary package name, without `:arch`. */
  name: string;
  /** `upgrade`/`install`: files of `version` unpacked (replacing `from`'s); `installed`: the
   *  package is configured at `version`; `remove`: its files are gone. */
  action: 'upgrade' | 'install' | 'installed' | 'remove';
  /** The version replaced (upgrade only), else null. */
  from: string | null;
  /** The version now installed; null after a remove. */
  version: string | null;
}

/** Date and time fields of a log line (month 1-12) to an instant. */
export type LocalTime = (
  y: number,
  mo: number,
  d: number,
  h: number,
  mi: number,
  s: number,
) => number;

/** The logs write the host's local time without a zone (dpkg.log, yum.log). */
const hostLocalTime: LocalTime = (y, mo, d, h, mi, s) => new Date(y, mo - 1, d, h, mi, s).getTime();

/** Names to keep (binary names without arch); null keeps everything. */
export type Wanted = ReadonlySet<string> | null;

/**
 * The lines of a log that may concern the wanted packages: those containing one of `needles`
 * (in file order), found by native substring search, so a big log costs in proportion to the
 * advisory's lines, not to its size. Every line when nothing is filtered.
 */
export function candidateLines(text: string, needles: readonly string[] | null): string[] {
  if (needles === null) return text.split('\n');
  const starts = new Set<number>();
  for (const needle of needles) {
    for (let at = text.indexOf(needle); at !== -1; at = text.indexOf(needle, at + 1)) {
      starts.add(text.lastIndexOf('\n', at) + 1);
    }
  }
  return [...starts]
    .sort((a, b) => a - b)
    .map((start) => {
      const end = text.indexOf('\n', start);
      return text.slice(start, end === -1 ? text.length : end);
    });
}

/** A package name without its `:arch`. */
export function baseName(pkg: string): string {
  const colon = pkg.indexOf(':');
  return colon === -1 ? pkg : pkg.slice(0, colon);
}

/**
 * dpkg.log lines: `2024-07-10 12:34:56 upgrade libssl3:amd64 3.0.11-1 3.0.13-1`, `… install
 * NAME <none> V`, `… remove NAME V <none>`, `… status installed NAME V`. dpkg writes local time
 * without a zone: `localTime` turns the fields into an instant (the host's zone by default).
 */
export function parseDpkgLog(
  text: string,
  wanted: Wanted,
  localTime: LocalTime = hostLocalTime,
): HistoryEvent[] {
  const out: HistoryEvent[] = [];
  const needles = wanted === null ? null : [...wanted].flatMap((n) => [` ${n}:`, ` ${n} `]);
  for (const line of candidateLines(text, needles)) {
    const m = /^(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d) (.*)$/.exec(line);
    if (!m) continue;
    const f = (m[7] as string).split(' ');
    let ev: Omit<HistoryEvent, 'time'> | null = null;
    if ((f[0] === 'upgrade' || f[0] === 'install') && f.length === 4) {
      const [, pkg, from, to] = f as [string, string, string, string];
      ev = {
        name: baseName(pkg),
        action: f[0] === 'upgrade' && from !== '<none>' ? 'upgrade' : 'install',
        from: from === '<none>' ? null : from,
        version: to,
      };
    } else if (f[0] === 'remove' && f.length === 4) {
      ev = { name: baseName(f[1] as string), action: 'remove', from: null, version: null };
    } else if (f[0] === 'status' && f[1] === 'installed' && f.length === 4) {
      ev = {
        name: baseName(f[2] as string),
        action: 'installed',
        from: null,
        version: f[3] as string,
      };
    }
    if (ev === null || (wanted !== null && !wanted.has(ev.name))) continue;
    const n = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
    out.push({ time: localTime(...n), ...ev });
  }
  return out;
}

/** `name-[epoch:]version-release.arch` (also yum's `epoch:name-version-release.arch`). */
export function parseNevra(nevra: string): { name: string; version: string; arch: string } | null {
  let rest = nevra;
  let epoch: string | null = null;
  const lead = /^(\d+):/.exec(rest);
  if (lead) {
    epoch = lead[1] as string;
    rest = rest.slice(lead[0].length);
  }
  const dot = rest.lastIndexOf('.');
  if (dot <= 0) return null;
  const arch = rest.slice(dot + 1);
  rest = rest.slice(0, dot);
  const rel = rest.lastIndexOf('-');
  if (rel <= 0) return null;
  const ver = rest.lastIndexOf('-', rel - 1);
  if (ver <= 0) return null;
  const name = rest.slice(0, ver);
  let vr = rest.slice(ver + 1);
  const inner = /^(\d+):/.exec(vr);
  if (inner && epoch === null) {
    epoch = inner[1] as string;
    vr = vr.slice(inner[0].length);
  }
  return { name, arch, version: epoch !== null && epoch !== '0' ? `${epoch}:${vr}` : vr };
}

/**
 * dnf.rpm.log: `2024-07-10T12:34:56+0000 SUBDEBUG Upgrade: openssl-libs-1:3.0.7-27.el9.x86_64`
 * (the new package) followed by `… Upgraded: openssl-libs-1:3.0.7-25.el9.x86_64` (the old one).
 * An `Upgrade:` line makes an upgrade event; the matching `Upgraded:` fills in its `from`.
 */
export function parseDnfRpmLog(text: string, wanted: Wanted): HistoryEvent[] {
  const out: HistoryEvent[] = [];
  const open = new Map<string, HistoryEvent>();
  // `: NAME-VERSION…` (yum also writes `: EPOCH:NAME-…`, handled by yum's parser).
  const needles = wanted === null ? null : [...wanted].map((n) => `: ${n}-`);
  for (const line of candidateLines(text, needles)) {
    const m =
      /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:([+-]\d\d):?(\d\d)|Z) \S+ (Upgrade|Upgraded|Install|Installed|Reinstall|Downgrade|Downgraded|Erase|Obsoleted): (\S+)$/.exec(
        line,
      );
    if (!m) continue;
    const p = parseNevra(m[5] as string);
    if (!p || (wanted !== null && !wanted.has(p.name))) continue;
    const zone = m[2] === undefined ? 'Z' : `${m[2]}:${m[3]}`;
    const time = Date.parse(`${m[1]}${zone}`);
    if (Number.isNaN(time)) continue;
    const verb = m[4] as string;
    if (verb === 'Upgrade' || verb === 'Downgrade' || verb === 'Install' || verb === 'Reinstall') {
      const ev: HistoryEvent = {
        time,
        name: p.name,
        action: verb === 'Install' ? 'install' : 'upgrade',
        from: null,
        version: p.version,
      };
      out.push(ev);
      if (verb !== 'Install') open.set(p.name, ev);
    } else if (verb === 'Upgraded' || verb === 'Downgraded') {
      const ev = open.get(p.name);
      if (ev && ev.from === null) ev.from = p.version;
      open.delete(p.name);
    } else if (verb === 'Erase') {
      out.push({ time, name: p.name, action: 'remove', from: null, version: null });
    }
  }
  // A reinstall or an upgrade whose old half was not logged: the old version is unknown.
  return out.map((e) =>
    e.action === 'upgrade' && e.from === null ? { ...e, action: 'install' } : e,
  );
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/**
 * yum.log: `Jul 10 12:34:56 Updated: 1:openssl-libs-1.0.2k-26.el7_9.x86_64` — no year. The last
 * line is taken to be in `lastYear` (the year of the file's mtime) and the year goes back by one
 * each time the month increases when reading backwards (a January entry after a December one).
 * yum logs only the new version of an update: `from` stays null (an `install` event).
 */
export function parseYumLog(
  text: string,
  wanted: Wanted,
  lastYear: number,
  localTime: LocalTime = hostLocalTime,
): HistoryEvent[] {
  // yum writes `Updated: 1:name-…` when the epoch is not 0: the name follows the epoch.
  const needles =
    wanted === null ? null : [...wanted].flatMap((n) => [`: ${n}-`, `: ${n}\n`, `:${n}-`]);
  const lines = candidateLines(text.endsWith('\n') ? text : `${text}\n`, needles);
  const out: HistoryEvent[] = [];
  let year = lastYear;
  let laterMonth = 13;
  for (let i = lines.length - 1; i >= 0; i--) {
    const m =
      /^([A-Z][a-z]{2}) ([ \d]\d) (\d\d):(\d\d):(\d\d) (Installed|Updated|Erased): (\S+)$/.exec(
        lines[i] as string,
      );
    if (!m) continue;
    const month = MONTHS.indexOf(m[1] as string) + 1;
    if (month === 0) continue;
    if (month > laterMonth) year--;
    laterMonth = month;
    const verb = m[6] as string;
    const target = m[7] as string;
    const p = verb === 'Erased' ? { name: target, version: '' } : parseNevra(target);
    if (!p || (wanted !== null && !wanted.has(p.name))) continue;
    const time = localTime(
      year,
      month,
      Number((m[2] as string).trim()),
      Number(m[3]),
      Number(m[4]),
      Number(m[5]),
    );
    out.push(
      verb === 'Erased'
        ? { time, name: p.name, action: 'remove', from: null, version: null }
        : { time, name: p.name, action: 'install', from: null, version: p.version },
    );
  }
  return out.reverse();
}

/** Events of several files (rotations) in time order; stable for equal times. */
export function mergeHistory(parts: readonly HistoryEvent[][]): HistoryEvent[] {
  return parts
    .flat()
    .map((e, i) => ({ e, i }))
    .sort((a, b) => a.e.time - b.e.time || a.i - b.i)
    .map((x) => x.e);
}
