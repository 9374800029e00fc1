// The fleet-wide CVE table of `afterpatch report` (docs/advisories.md, docs/fleet.md): per
// advisory, the hosts unpatched / needing a reboot / needing a restart / … / clean, with counts,
// from the `advisories` of each host's latest scan. Kept apart from merge.ts's document parsing.
import * as v from 'valibot';
import { VERDICTS, type Verdict, worstVerdict } from '../advisory/running.ts';
import type { FleetAdvisory, HostAdvisory } from '../formats/fleet.ts';
import { ScanAdvisoriesReadSchema } from '../formats/fleet-input.ts';

/**
 * The advisories of a scan document; null when it assessed none. A malformed list is one
 * `unknown` entry: a document that cannot be read never makes a host clean.
 */
export function scanAdvisories(scan: Record<string, unknown>): HostAdvisory[] | null {
  if (scan.advisories === undefined) return null;
  const r = v.safeParse(ScanAdvisoriesReadSchema, scan.advisories);
  if (!r.success)
    return [{ id: '(unreadable)', verdict: 'unknown', reasons: ['advisories not readable'] }];
  return r.output.map((a) => ({
    id: a.id,
    verdict: a.verdict,
    reasons: a.reasons.map((x) => `${x.verdict}: ${x.why}`),
  }));
}

const empty = <T>(f: () => T) =>
  Object.fromEntries(VERDICTS.map((k) => [k, f()])) as Record<Verdict, T>;

/** The table over hosts (in their order); empty when no scan assessed an advisory. */
export function fleetAdvisoryTable(
  hosts: readonly { host: string; advisories?: HostAdvisory[] | null | undefined }[],
): FleetAdvisory[] {
  const byId = new Map<string, FleetAdvisory>();
  for (const h of hosts)
    for (const a of h.advisories ?? []) {
      let row = byId.get(a.id);
      if (!row) {
        row = {
          id: a.id,
          verdict: 'clean',
          hosts: empty(() => []),
          counts: empty(() => 0),
          notAssessed: [],
        };
        byId.set(a.id, row);
      }
      row.hosts[a.verdict].push(h.host);
      row.counts[a.verdict]++;
    }
  for (const row of byId.values()) {
    row.notAssessed = hosts
      .filter((h) => !(h.advisories ?? []).some((a) => a.id === row.id))
      .map((h) => h.host);
    const seen = VERDICTS.filter((k) => row.counts[k] > 0);
    row.verdict = worstVerdict(row.notAssessed.length > 0 ? [...seen, 'unknown'] : seen);
  }
  return [...byId.values()].sort((a, b) => a.id.localeCompare(b.id));
}
