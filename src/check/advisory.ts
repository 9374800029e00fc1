// The advisories' part of `check` (docs/monitoring.md, docs/advisories.md): the state each
// verdict raises — by default CRITICAL when a host is unpatched or must restart or reboot for an
// advisory, WARNING when a container image ships a vulnerable version or the answer is unknown —
// overridable per verdict with --advisory-state VERDICT=STATE, like the bucket thresholds.
import type { AdvisoryAssessment } from '../advisory/assess.ts';
import { VERDICTS, type Verdict } from '../formats/advisory.ts';

export type AdvisoryCheckState = 'ok' | 'warning' | 'critical';

export const DEFAULT_ADVISORY_STATES: Readonly<Record<Verdict, AdvisoryCheckState>> = {
  unpatched: 'critical',
  'reboot-needed': 'critical',
  'restart-needed': 'critical',
  'image-vulnerable': 'warning',
  unknown: 'warning',
  clean: 'ok',
};

/** `VERDICT=STATE` of --advisory-state; an Error with the reason when it is not one. */
export function parseAdvisoryState(arg: string): [Verdict, AdvisoryCheckState] {
  const [verdict, state] = arg.split('=');
  if (!(VERDICTS as readonly string[]).includes(verdict ?? '') || verdict === 'clean')
    throw new Error(
      `expected VERDICT=STATE with VERDICT one of ${VERDICTS.filter((v) => v !== 'clean').join(', ')}`,
    );
  if (state !== 'ok' && state !== 'warning' && state !== 'critical')
    throw new Error('expected STATE ok, warning or critical');
  return [verdict as Verdict, state];
}

export interface AdvisoryCheck {
  state: 'OK' | 'WARNING' | 'CRITICAL';
  /** For the summary line: "CVE-2024-5535 restart-needed, DSA-5710-1 clean"; null without advisories. */
  summary: string | null;
  /** One line per advisory not clean, with its reasons. */
  long: string[];
}

const TO_NAGIOS = { ok: 'OK', warning: 'WARNING', critical: 'CRITICAL' } as const;
const RANK = { OK: 0, WARNING: 1, CRITICAL: 2 } as const;
const MAX_IN_SUMMARY = 3;

export function advisoryCheck(
  a: AdvisoryAssessment | undefined,
  overrides: Partial<Record<Verdict, AdvisoryCheckState>> = {},
): AdvisoryCheck {
  if (a === undefined) return { state: 'OK', summary: null, long: [] };
  let state: AdvisoryCheck['state'] = 'OK';
  for (const adv of a.advisories) {
    const s = TO_NAGIOS[overrides[adv.verdict] ?? DEFAULT_ADVISORY_STATES[adv.verdict]];
    if (RANK[s] > RANK[state]) state = s;
  }
  const bad = a.advisories.filter((x) => x.verdict !== 'clean');
  const shown = bad.slice(0, MAX_IN_SUMMARY).map((x) => `${x.id} ${x.verdict}`);
  const more = bad.length > MAX_IN_SUMMARY ? ` +${bad.length - MAX_IN_SUMMARY}` : '';
  const summary =
    bad.length === 0
      ? `${a.advisories.length === 1 ? 'advisory' : `${a.advisories.length} advisories`} clean`
      : `advisories: ${shown.join(', ')}${more}`;
  const long = bad.map(
    (x) => `advisory ${x.id}: ${x.verdict}: ${x.reasons.map((r) => r.why).join('; ')}`,
  );
  return { state, summary, long };
}
