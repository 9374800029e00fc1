// The fleet CVE table from documents: a malformed `advisories` list is unknown, a host whose
// latest scan did not assess an advisory is "not assessed" and keeps the fleet from being clean.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as v from 'valibot';
import { fleetAdvisoryTable, scanAdvisories } from '../../src/fleet/advisories.ts';
import { fleetExitCode, mergeFleet } from '../../src/fleet/merge.ts';
import { FleetDocumentSchema } from '../../src/formats/fleet.ts';
import { fleetToJson } from '../../src/output/fleet.ts';

const scan = (hostname: string, advisories?: unknown) => ({
  doc: {
    format: 'afterpatch-scan',
    formatVersion: 1,
    hostname,
    time: '2026-12-02T00:00:00.000Z',
    asRoot: true,
    partial: false,
    summary: { unreadable: 0 },
    entries: [],
    ...(advisories === undefined ? {} : { advisories }),
  },
  source: `${hostname}.json`,
  line: null,
});
const clean = [{ id: 'CVE-2099-1', verdict: 'clean', reasons: [] }];

describe('fleet advisories', () => {
  it('an unreadable advisories list is unknown, never clean', () => {
    assert.deepEqual(scanAdvisories({ advisories: [{ id: 'CVE-2099-1', verdict: 'fine' }] }), [
      { id: '(unreadable)', verdict: 'unknown', reasons: ['advisories not readable'] },
    ]);
    assert.equal(scanAdvisories({}), null);
  });

  it('a host that did not assess an advisory: not assessed, the fleet verdict unknown, exit 1', () => {
    const v = mergeFleet([scan('a', clean), scan('b')]);
    assert.deepEqual(
      v.advisories?.map((x) => [x.id, x.verdict, x.notAssessed]),
      [['CVE-2099-1', 'unknown', ['b']]],
    );
    assert.equal(fleetExitCode(v), 1);
    const all = mergeFleet([scan('a', clean), scan('b', clean)]);
    assert.equal(all.advisories?.[0]?.verdict, 'clean');
    assert.equal(fleetExitCode(all), 0);
    assert.deepEqual(fleetAdvisoryTable([]), []);
  });

  it("report --json carries the table and the hosts' advisories, valid for the fleet schema", () => {
    const doc = fleetToJson(mergeFleet([scan('a', clean), scan('b')]));
    assert.deepEqual(
      doc.advisories?.map((x) => [x.id, x.verdict, x.counts.clean, x.notAssessed]),
      [['CVE-2099-1', 'unknown', 1, ['b']]],
    );
    assert.deepEqual(doc.hosts[0]?.advisories, [
      { id: 'CVE-2099-1', verdict: 'clean', reasons: [] },
    ]);
    const r = v.safeParse(FleetDocumentSchema, JSON.parse(JSON.stringify(doc)));
    assert.ok(r.success, JSON.stringify(r.issues));
  });
});
