// The human table of `scan`: one block of rows per thing to restart.

import type { SuggestedAction } from '../grouping/action.ts';
import type { Group } from '../grouping/group.ts';
import { OWNER_KINDS, ownerKey, ownerLabel } from '../grouping/owner.ts';
import { isPartialScan, unreadableNote } from '../scan/coverage.ts';
import type { InterpretedEvidence, Owner } from '../scan/model.ts';
import { interpretedByEntry } from '../scan/model.ts';
import type { ScanReport } from '../scan/scan.ts';
import { advisorySummaryText, advisoryText } from './advisory.ts';
import type { Style } from './style.ts';
import { printable, table } from './style.ts';

const MAX_PIDS_SHOWN = 4;

/** An owner's table cells: no uid in the name, the container id abbreviated. */
export function ownerCells(o: Owner): { name: string; kind: string } {
  const l = ownerLabel(o);
  const kind = l.uid === null ? l.kind : `${l.kind} (uid ${l.uid})`;
  switch (o.type) {
    case 'init':
      return { name: 'systemd (PID 1)', kind: 'init' };
    case 'container':
      return { name: o.id.length > 24 ? o.id.slice(0, 12) : o.id, kind };
    case 'unmanaged':
      return { name: '-', kind };
    default:
      return { name: l.name, kind };
  }
}

/** The action as one printable line: units and container ids come from the system. */
export function actionText(a: SuggestedAction): string {
  return printable('argv' in a ? a.argv.join(' ') : a.advice);
}

function pidList(pids: readonly number[]): string {
  const shown = pids.slice(0, MAX_PIDS_SHOWN).join(',');
  return pids.length > MAX_PIDS_SHOWN ? `${shown} (+${pids.length - MAX_PIDS_SHOWN})` : shown;
}

function groupRows(
  g: Group,
  s: Style,
  interp: ReadonlyMap<string, InterpretedEvidence> | undefined,
  advisory = '',
  /** The package lookup failed: a file without a package is of an unknown one. */
  lookupFailed = false,
): string[][] {
  const owner = ownerCells(g.owner);
  // With advisories, the unit says whether it runs a vulnerable version (docs/advisories.md).
  const name = owner.name + advisory;
  const kind = owner.kind;
  const mark = g.severity === 'code' ? s.red : s.yellow;
  return g.files.map((f, i) => {
    const e = interp?.get(f.path);
    // Interpreted code is marked with its interpreter and confidence (docs/interpreted.md).
    const note = e ? ` (${e.interpreter}, ${e.confidence})` : f.kind === 'data' ? ' (data)' : '';
    const file = printable(f.path) + note;
    const pkg = f.package
      ? printable(`${f.package.name} ${f.package.version}`)
      : lookupFailed
        ? 'unknown'
        : 'not packaged';
    return i === 0
      ? [
          mark(printable(name)),
          printable(kind),
          pidList(g.pids),
          printable(g.names.join(',')),
          file,
          pkg,
          actionText(g.action),
        ]
      : ['', '', '', '', file, pkg, ''];
  });
}

export function formatText(r: ScanReport, s: Style, opts: { all?: boolean } = {}): string {
  const out: string[] = [];
  const sum = r.summary;
  if (r.groups.length === 0) {
    // Never the all-clear sentence when part of the host was not read.
    out.push(
      isPartialScan(r)
        ? `No outdated code found in the ${sum.scanned} processes that could be read.`
        : `No process runs outdated code (${sum.scanned} processes scanned).`,
    );
  } else {
    const header = ['UNIT', 'KIND', 'PIDS', 'COMMAND', 'STALE FILE', 'PACKAGE', 'ACTION'].map(
      s.bold,
    );
    const interp = interpretedByEntry(r.processes, (p) => ownerKey(p.owner));
    out.push(
      table([
        header,
        ...r.groups.flatMap((g) =>
          groupRows(
            g,
            s,
            interp.get(g.key),
            advisoryText(r.advisories, g.pids),
            r.packageLookupError !== undefined,
          ),
        ),
      ]),
    );
    out.push('');
    out.push(summaryLine(r));
  }
  for (const line of advisorySummaryText(r.advisories)) out.push(printable(line));
  const unread = unreadableNote(r);
  if (unread !== null) out.push(unread);
  for (const w of r.warnings) out.push(`warning: ${printable(w)}`);
  if (opts.all) out.push(...ignoredSection(r));
  return `${out.join('\n')}\n`;
}

function summaryLine(r: ScanReport): string {
  const s = r.summary;
  const count = (k: number, one: string, many = `${one}s`) => `${k} ${k === 1 ? one : many}`;
  const parts = [
    s.units ? count(s.units, 'unit') : '',
    s.userUnits ? count(s.userUnits, 'user unit') : '',
    s.sessions ? count(s.sessions, 'session') : '',
    s.containers ? count(s.containers, 'container') : '',
    s.vms ? count(s.vms, 'virtual machine') : '',
  ].filter(Boolean);
  // Processes that no unit, session, container or VM holds have no count of their own in the
  // summary: said apart, so that the line never reads "in 0 units" over rows to act on.
  let outside = 0;
  for (const g of r.groups)
    if (OWNER_KINDS[g.owner.type].summary === null) outside += g.pids.length;
  const procs = count(s.processes, 'process', 'processes');
  const run = s.processes === 1 ? 'runs' : 'run';
  const data = s.dataOnly
    ? `; ${s.dataOnly} of the ${s.processes} ${s.dataOnly === 1 ? 'keeps' : 'keep'} only deleted data files`
    : '';
  const tail = `${data} (${s.scanned} scanned).`;
  // The words check and metrics use for them.
  const nowhere = 'outside any unit';
  if (outside === 0)
    return `${procs}${parts.length > 0 ? ` in ${parts.join(', ')}` : ''} ${run} outdated code${tail}`;
  // Every group counts in `parts` but these: none there means all are outside.
  if (parts.length === 0) return `${procs} ${nowhere} ${run} outdated code${tail}`;
  return `${procs} ${run} outdated code: ${s.processes - outside} in ${parts.join(', ')}; ${outside} ${nowhere}${tail}`;
}

function ignoredSection(r: ScanReport): string[] {
  const rows = r.processes.flatMap((p) =>
    p.ignored.map((f) => [
      String(p.pid),
      printable(p.name ?? '?'),
      printable(f.path),
      f.kind,
      printable(f.rule),
    ]),
  );
  if (rows.length === 0) return ['', 'No deleted file was filtered as noise.'];
  return [
    '',
    'Filtered as noise (not outdated package files):',
    table([['PID', 'COMMAND', 'FILE', 'KIND', 'RULE'], ...rows]),
  ];
}
