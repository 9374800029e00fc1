// Output of `restart`: the plan and the results, as a table or as versioned JSON (docs/restart.md).
import type { UnitResult } from '../restart/apply.ts';
import type { PlanEntry } from '../restart/plan.ts';
import type { RestartReport } from '../restart/restart.ts';
import { VERSION } from '../version.ts';
import type { Style } from './style.ts';
import { printable, table } from './style.ts';
import { ownerLabel } from './text.ts';

export const RESTART_FORMAT_VERSION = 1;

export type RestartFormat = 'text' | 'json';

export function restartToJson(r: RestartReport): object {
  return {
    format: 'afterpatch-restart',
    formatVersion: RESTART_FORMAT_VERSION,
    afterpatch: VERSION,
    hostname: r.scan.hostname,
    time: r.scan.time,
    dryRun: r.dryRun,
    scan: r.scan.summary,
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
    results: r.results,
    summary: summarize(r),
  };
}

export function summarize(r: RestartReport): Record<string, number> {
  const count = (o: string) => r.results.filter((x) => x.outcome === o).length;
  return {
    planned: r.plan.filter((e) =>
      ['restart', 'reload', 'daemon-reexec', 'reexec-user-manager'].includes(e.action),
    ).length,
    verified: count('verified'),
    stillStale: count('still-stale'),
    failed: count('failed'),
    timeout: count('timeout'),
    needsHuman: r.plan.filter((e) => e.needsHuman).length,
  };
}

function planName(e: PlanEntry): string {
  return e.owner.type === 'init'
    ? 'systemd (PID 1)'
    : printable(e.unit ?? ownerLabel(e.owner).name);
}

export function formatPlan(plan: readonly PlanEntry[], s: Style): string {
  if (plan.length === 0) return 'Nothing runs outdated code: nothing to restart.\n';
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
  return `${table([['UNIT', 'ACTION', 'PIDS', 'WHY'].map(s.bold), ...rows])}\n`;
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
  }
}

export function formatRestartText(r: RestartReport, s: Style): string {
  const out: string[] = [formatPlan(r.plan, s).trimEnd()];
  if (r.dryRun) {
    out.push('', 'Dry run: nothing was changed.');
    return `${out.join('\n')}\n`;
  }
  if (r.results.length === 0) {
    out.push('', r.plan.length === 0 ? '' : 'Nothing to restart automatically.');
    return `${out.join('\n').trimEnd()}\n`;
  }
  const rows = r.results.map((x) => {
    const mark = x.outcome === 'verified' ? (t: string) => t : s.red;
    return [
      x.unit === null ? 'systemd (PID 1)' : printable(x.unit),
      mark(x.outcome),
      printable(resultDetail(x)),
    ];
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
    `${sum.verified} verified, ${sum.stillStale} still stale, ${sum.failed} failed, ${sum.timeout} timed out; ${sum.needsHuman} need a human.`,
  );
  return `${out.join('\n')}\n`;
}

export const RESTART_FORMATS: Record<RestartFormat, (r: RestartReport, s: Style) => string> = {
  text: formatRestartText,
  json: (r) => `${JSON.stringify(restartToJson(r), null, 2)}\n`,
};
