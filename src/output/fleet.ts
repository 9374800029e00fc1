// The fleet view (`afterpatch report`): a readable table and the versioned JSON.
import { VERDICTS } from '../advisory/running.ts';
import type {
  FleetAdvisory,
  FleetCount,
  FleetDocument,
  FleetHost,
  FleetView,
} from '../formats/fleet.ts';
import { VERSION } from '../version.ts';
import { printable, type Style, table } from './style.ts';

export const FLEET_FORMAT_VERSION = 1;

export function fleetToJson(v: FleetView, now: Date = new Date()): FleetDocument {
  return {
    format: 'afterpatch-fleet',
    formatVersion: FLEET_FORMAT_VERSION,
    afterpatch: VERSION,
    time: now.toISOString(),
    summary: v.summary,
    hosts: v.hosts,
    units: v.units,
    packages: v.packages,
    // The CVE table (docs/advisories.md), only when some scan assessed an advisory.
    ...(v.advisories === undefined ? {} : { advisories: v.advisories }),
  };
}

const list = (xs: readonly string[], max = 6) =>
  xs.slice(0, max).map(printable).join(', ') + (xs.length > max ? ` (+${xs.length - max})` : '');

function hostRows(hosts: readonly FleetHost[], detail: (h: FleetHost) => string): string[][] {
  return hosts.map((h) => [`  ${printable(h.host)}`, detail(h)]);
}

function section(
  title: string,
  hosts: readonly FleetHost[],
  detail: (h: FleetHost) => string,
  s: Style,
): string[] {
  const out = ['', s.bold(`${title} (${hosts.length})`)];
  if (hosts.length > 0) out.push(table(hostRows(hosts, detail)));
  return out;
}

function countTable(title: string, rows: readonly FleetCount[], s: Style): string[] {
  if (rows.length === 0) return [];
  return [
    '',
    s.bold(title),
    table(rows.map((r) => [`  ${r.hosts}`, printable(r.name), s.dim(list(r.hostnames, 4))])),
  ];
}

export function formatFleet(v: FleetView, s: Style): string {
  const { summary: n } = v;
  const lines = [
    `${n.hosts} host${n.hosts === 1 ? '' : 's'}: ${n.needRestart} need a restart, ${n.needReboot} need a reboot, ${n.failed} failed, ${n.unknown ? `${n.unknown} unknown (no scan, a partial one, or an unknown reboot verdict), ` : ''}${n.clean} clean.`,
    ...section(
      'Need a restart',
      v.hosts.filter((h) => h.needsRestart),
      (h) => list(h.units),
      s,
    ),
    ...section(
      'Need a reboot',
      v.hosts.filter((h) => h.needsReboot),
      (h) => list(h.rebootReasons, 3),
      s,
    ),
  ];
  const failed = v.hosts.filter((h) => h.failed);
  if (failed.length > 0) lines.push(...section('Failed', failed, (h) => printable(h.msg ?? ''), s));
  const unknown = v.hosts.filter((h) => h.unknown);
  if (unknown.length > 0) {
    lines.push(
      ...section(
        'Unknown: no scan, a partial one, or an unknown reboot verdict',
        unknown,
        (h) => printable(h.msg ?? 'no scan or restart result: outdated processes not read'),
        s,
      ),
    );
  }
  lines.push(
    ...section(
      'Clean',
      v.hosts.filter((h) => h.clean),
      (h) => (h.restarted.length ? `restarted ${list(h.restarted)}` : ''),
      s,
    ),
  );
  lines.push(...countTable('Units by hosts', v.units, s));
  lines.push(...countTable('Packages by hosts', v.packages, s));
  lines.push(...advisoryTable(v.advisories, s));
  return `${lines.map((l) => l.replace(/\s+$/gm, '')).join('\n')}\n`;
}

/** The fleet-wide CVE table: per advisory, the hosts by verdict with counts (worst first). */
function advisoryTable(rows: readonly FleetAdvisory[] | undefined, s: Style): string[] {
  if (rows === undefined || rows.length === 0) return [];
  const out = ['', s.bold('Advisories')];
  for (const a of rows) {
    out.push(`  ${printable(a.id)}: ${a.verdict}`);
    const lines = VERDICTS.filter((k) => a.counts[k] > 0).map((k) => [
      `    ${k}`,
      String(a.counts[k]),
      s.dim(list(a.hosts[k])),
    ]);
    if (a.notAssessed.length > 0)
      lines.push(['    not assessed', String(a.notAssessed.length), s.dim(list(a.notAssessed))]);
    out.push(table(lines));
  }
  return out;
}
