// Output of `restart`: the plan and the results, as a table or as versioned JSON (docs/restart.md).

import type { RestartDocument, UnitResultDoc } from '../formats/restart.ts';
import { entryLabel, type UnitResult } from '../restart/apply.ts';
import { isActionable, type PlanEntry } from '../restart/plan.ts';
import type { RestartReport } from '../restart/restart.ts';
import { type Coverage, isPartialScan, unreadableNote } from '../scan/coverage.ts';
import { VERSION } from '../version.ts';
import { advisoryLeftAlone } from './advisory.ts';
import type { Style } from './style.ts';
import { printable, table } from './style.ts';
import { ownerCells } from './text.ts';

export const RESTART_FORMAT_VERSION = 1;

export type RestartFormat = 'text' | 'json';

/** The internal restart report as the published document (src/formats/restart.ts). */
export function restartToJson(r: RestartReport): RestartDocument {
  return {
    format: 'afterpatch-restart',
    formatVersion: RESTART_FORMAT_VERSION,
    afterpatch: VERSION,
    hostname: r.scan.hostname,
    time: r.scan.time,
    dryRun: r.dryRun,
    scan: { ...r.scan.summary },
    // The plan's coverage, by the rule restart's own exit status uses (report reads it).
    partial: isPartialScan(r.scan),
    plan: r.plan.map((e) => ({
      key: e.key,
      type: e.owner.type,
      unit: e.unit,
      uid: e.manager?.type === 'user' ? e.manager.uid : null,
      action: e.action,
      reason: e.reason,
      needsHuman: e.needsHuman,
      pids: e.pids,
      files: e.files.map((f) => ({ path: f.path, kind: f.kind })),
    })),
    results: r.results.map(resultToJson),
    summary: summarize(r),
    interrupted: r.interrupted ?? null,
    stateError: r.stateError ?? null,
    // With --fixed/--advisory: stale entries left out because they run fixed versions.
    ...advisoryLeftAloneField(r),
  };
}

/** One unit's result, field by field: internal additions to UnitResult stay internal. */
function resultToJson(x: UnitResult): UnitResultDoc {
  return {
    key: x.key,
    unit: x.unit,
    action: x.action,
    outcome: x.outcome,
    durationMs: x.durationMs,
    stalePids: x.stalePids.map((p) => ({ pid: p.pid, files: p.files })),
    activeState: x.activeState,
    message: x.message,
    journal: x.journal,
  };
}

export function summarize(r: RestartReport): RestartDocument['summary'] {
  const count = (o: string) => r.results.filter((x) => x.outcome === o).length;
  return {
    planned: r.plan.filter(isActionable).length,
    verified: count('verified'),
    unverified: count('unverified'),
    stillStale: count('still-stale'),
    failed: count('failed'),
    timeout: count('timeout'),
    needsHuman: r.plan.filter((e) => e.needsHuman).length,
  };
}

function planName(e: PlanEntry): string {
  return e.owner.type === 'init' ? entryLabel(e) : printable(e.unit ?? ownerCells(e.owner).name);
}

/** The plan's scan: processes it could not read are not covered by the plan, which says so. */
export type ScanCoverage = Coverage & { summary: { scanned: number } };

export function formatPlan(plan: readonly PlanEntry[], s: Style, coverage?: ScanCoverage): string {
  const note = coverage === undefined ? null : unreadableNote(coverage);
  if (plan.length === 0) {
    // Never the all-clear sentence when part of the host was not seen.
    return note
      ? `No outdated code found in the processes that could be read; ${note}\n`
      : 'Nothing runs outdated code: nothing to restart.\n';
  }
  const rows = plan.map((e) => {
    const act =
      e.action === 'skip' || e.action === 'advise' ? s.yellow(e.action) : s.bold(e.action);
    return [
      planName(e),
      act,
      e.pids.slice(0, 4).join(',') + (e.pids.length > 4 ? ` (+${e.pids.length - 4})` : ''),
      printable(e.reason),
    ];
  });
  const t = table([['UNIT', 'ACTION', 'PIDS', 'WHY'].map(s.bold), ...rows]);
  return note ? `${t}\n\n${note}\n` : `${t}\n`;
}

function resultDetail(r: UnitResult): string {
  switch (r.outcome) {
    case 'verified':
      return `no process maps a stale file (${r.durationMs} ms)`;
    case 'still-stale':
      return r.stalePids.map((p) => `PID ${p.pid}: ${p.files.join(', ')}`).join('; ');
    case 'failed':
      return [`state ${r.activeState ?? 'unknown'}`, r.message ?? ''].filter(Boolean).join(': ');
    case 'timeout':
      return r.message ?? 'timed out';
    case 'unverified':
      return `not verified: ${r.message ?? 'no evidence'}`;
  }
}

function advisoryLeftAloneField(r: RestartReport): Pick<RestartDocument, 'advisoryLeftAlone'> {
  const left = advisoryLeftAlone(r.scan);
  return left === null ? {} : { advisoryLeftAlone: left };
}

export function formatRestartText(r: RestartReport, s: Style): string {
  const leftAlone = advisoryLeftAlone(r.scan) ?? [];
  const out: string[] = [
    // Stale units running fixed versions were left out: not "nothing runs outdated code".
    r.plan.length === 0 && leftAlone.length > 0
      ? "No unit runs a version below the advisories' fixes: nothing to restart."
      : formatPlan(r.plan, s, r.scan).trimEnd(),
  ];
  if (leftAlone.length > 0)
    out.push(
      printable(
        `Left alone: ${leftAlone.length} stale entr${leftAlone.length === 1 ? 'y runs' : 'ies run'} only fixed versions (${leftAlone.slice(0, 6).join(', ')}${leftAlone.length > 6 ? ', …' : ''}).`,
      ),
    );
  if (r.dryRun) {
    out.push('', 'Dry run: nothing was changed.');
    return `${out.join('\n')}\n`;
  }
  if (r.results.length === 0 && !r.interrupted) {
    out.push('', r.plan.length === 0 ? '' : 'Nothing to restart automatically.');
    return `${out.join('\n').trimEnd()}\n`;
  }
  const rows = r.results.map((x) => {
    const mark = x.outcome === 'verified' ? (t: string) => t : s.red;
    return [printable(resultName(x, r.plan)), mark(x.outcome), printable(resultDetail(x))];
  });
  out.push('', table([['UNIT', 'RESULT', 'DETAIL'].map(s.bold), ...rows]));
  for (const x of r.results) {
    if (x.journal.length === 0) continue;
    out.push(
      '',
      `Last journal lines of ${printable(x.unit ?? 'systemd (PID 1)')}:`,
      ...x.journal.map((l) => `  ${printable(l)}`),
    );
  }
  const sum = summarize(r);
  out.push(
    '',
    `${sum.verified} verified, ${sum.unverified} unverified, ${sum.stillStale} still stale, ${sum.failed} failed, ${sum.timeout} timed out; ${sum.needsHuman} need a human.`,
  );
  if (r.interrupted) {
    const left = sum.planned - r.results.length;
    out.push(
      `Interrupted by ${r.interrupted}: ${left} planned unit${left === 1 ? ' was' : 's were'} not acted on.`,
    );
  }
  return `${out.join('\n')}\n`;
}

function resultName(x: UnitResult, plan: readonly PlanEntry[]): string {
  const e = plan.find((p) => p.key === x.key);
  return e ? entryLabel(e) : (x.unit ?? 'systemd (PID 1)');
}

export const RESTART_FORMATS: Record<RestartFormat, (r: RestartReport, s: Style) => string> = {
  text: formatRestartText,
  json: (r) => `${JSON.stringify(restartToJson(r), null, 2)}\n`,
};
