// judgeBatch: the outcome of each unit from systemctl's answer, the properties read afterwards and
// the rescans of its processes — tables, no systemd, no /proc.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  judgeBatch,
  type Rescans,
  shareOf,
  toRescan,
  type Verdict,
} from '../../src/restart/judge.ts';
import type { PlanEntry } from '../../src/restart/plan.ts';
import type { ActionResult } from '../../src/systemd/client.ts';
import type { UnitProperties } from '../../src/systemd/properties.ts';
import { planEntry } from '../helpers/restart-plan.ts';

const OK: ActionResult = { ok: true, timedOut: false, messages: [] };
const TIMED_OUT: ActionResult = { ok: false, timedOut: true, messages: [] };
const failed = (...messages: string[]): ActionResult => ({ ok: false, timedOut: false, messages });
const state = (ActiveState: string, more: UnitProperties = {}): UnitProperties => ({
  ActiveState,
  ...more,
});
const CLEAN: Verdict = { stale: [] };
const STALE: Verdict = { stale: [{ pid: 7, files: ['/usr/lib/libssl.so.3'] }] };

const a = planEntry('a.service');
const b = planEntry('b.service');
const init = planEntry(null, [1]);

/** [name, batch, action, properties by unit, rescans by unit (in order), expected per unit] */
type Row = [
  string,
  PlanEntry[],
  ActionResult,
  Record<string, UnitProperties>,
  Record<string, Verdict>[],
  Record<string, [outcome: string, message: string | null, wantsJournal?: boolean]>,
];
// biome-ignore format: one row a line, read as a table
const ROWS: Row[] = [
  ['success, active, clean rescan', [a], OK, { 'a.service': state('active') }, [{ 'a.service': CLEAN }], { 'a.service': ['verified', null] }],
  ['reloading counts as up', [a], OK, { 'a.service': state('reloading') }, [{ 'a.service': CLEAN }], { 'a.service': ['verified', null] }],
  ['stale on every rescan: still-stale', [a], OK, { 'a.service': state('active') }, [{ 'a.service': STALE }, { 'a.service': STALE }], { 'a.service': ['still-stale', null] }],
  ['stale, then clean on the retry: verified', [a], OK, { 'a.service': state('active') }, [{ 'a.service': STALE }, { 'a.service': CLEAN }], { 'a.service': ['verified', null] }],
  ['clean, a later rescan of others only: verified', [a, b], OK, { 'a.service': state('active'), 'b.service': state('active') }, [{ 'a.service': CLEAN, 'b.service': STALE }, { 'b.service': STALE }], { 'a.service': ['verified', null], 'b.service': ['still-stale', null] }],
  ['maps unreadable: unverified with the reason', [a], OK, { 'a.service': state('active') }, [{ 'a.service': { unverified: 'cannot read the maps of PID 7' } }], { 'a.service': ['unverified', 'cannot read the maps of PID 7'] }],
  ['never rescanned: unverified, not verified', [a], OK, { 'a.service': state('active') }, [], { 'a.service': ['unverified', 'its processes were not rescanned'] }],
  ['timed out while activating', [a], TIMED_OUT, { 'a.service': state('activating') }, [], { 'a.service': ['timeout', 'no answer within 90 s'] }],
  ['timed out while deactivating', [a], TIMED_OUT, { 'a.service': state('deactivating') }, [], { 'a.service': ['timeout', 'no answer within 90 s'] }],
  ['timed out, state unknown', [a], TIMED_OUT, {}, [], { 'a.service': ['timeout', 'no answer within 90 s'] }],
  ['timed out but active by now: rescanned', [a], TIMED_OUT, { 'a.service': state('active') }, [{ 'a.service': CLEAN }], { 'a.service': ['verified', null] }],
  ['timed out and failed by now: failed', [a], TIMED_OUT, { 'a.service': state('failed') }, [], { 'a.service': ['failed', null, true] }],
  ['one unit: any message of systemctl is its own', [a], failed('Job failed. See journalctl -xe.'), { 'a.service': state('active') }, [], { 'a.service': ['failed', 'Job failed. See journalctl -xe.', true] }],
  ['two units: the failure goes to the unit it names', [a, b], failed('Job for b.service failed because the control process exited.'), { 'a.service': state('active'), 'b.service': state('failed') }, [{ 'a.service': CLEAN }], { 'a.service': ['verified', null], 'b.service': ['failed', 'Job for b.service failed because the control process exited.', true] }],
  ['two units, a message naming neither, both active: both rescanned', [a, b], failed('Warning: something'), { 'a.service': state('active'), 'b.service': state('active') }, [{ 'a.service': CLEAN, 'b.service': CLEAN }], { 'a.service': ['verified', null], 'b.service': ['verified', null] }],
  ['success but inactive afterwards: failed without a message', [a], OK, { 'a.service': state('inactive') }, [], { 'a.service': ['failed', null, true] }],
  ['failed and unknown to systemd: no journal to ask for', [a], failed('Unit a.service not found.'), {}, [], { 'a.service': ['failed', 'Unit a.service not found.', false] }],
];

describe('judgeBatch (table)', () => {
  for (const [name, batch, action, props, rescans, want] of ROWS) {
    it(name, () => {
      const byEntry: Rescans = rescans.map(
        (r) =>
          new Map(Object.entries(r).map(([u, v]) => [batch.find((e) => e.unit === u) ?? a, v])),
      );
      const got = judgeBatch(
        batch,
        shareOf(batch, action),
        new Map(Object.entries(props)),
        byEntry,
        90_000,
      );
      assert.deepEqual([...got.keys()], batch, 'one judgement per unit, in batch order');
      for (const e of batch) {
        const j = got.get(e);
        const [outcome, message, journal = false] = want[e.unit ?? ''] ?? [];
        assert.equal(j?.outcome, outcome, `${e.unit}: outcome`);
        assert.equal(j?.message, message, `${e.unit}: message`);
        assert.equal(j?.wantsJournal, journal, `${e.unit}: journal`);
        assert.equal(j?.activeState, props[e.unit ?? '']?.ActiveState ?? null);
      }
    });
  }

  it('still-stale carries the PIDs and files of the last rescan', () => {
    const got = judgeBatch(
      [a],
      () => OK,
      new Map([['a.service', state('active')]]),
      [new Map([[a, STALE]])],
      1000,
    );
    assert.deepEqual(got.get(a)?.stalePids, [{ pid: 7, files: ['/usr/lib/libssl.so.3'] }]);
  });

  it('daemon-reexec (no unit, no properties): judged by the rescan of PID 1', () => {
    const got = judgeBatch([init], () => OK, new Map(), [new Map([[init, STALE]])], 1000);
    assert.equal(got.get(init)?.outcome, 'still-stale');
    assert.equal(got.get(init)?.activeState, null);
  });
});

describe('toRescan: which units get another look', () => {
  const table: [string, Rescans, PlanEntry[]][] = [
    ['nothing rescanned yet', [], []],
    [
      'clean and unverified are final',
      [
        new Map<PlanEntry, Verdict>([
          [a, CLEAN],
          [b, { unverified: 'x' }],
        ]),
      ],
      [],
    ],
    [
      'stale ones only',
      [
        new Map<PlanEntry, Verdict>([
          [a, STALE],
          [b, CLEAN],
        ]),
      ],
      [a],
    ],
    [
      'stale, then clean: done',
      [new Map<PlanEntry, Verdict>([[a, STALE]]), new Map<PlanEntry, Verdict>([[a, CLEAN]])],
      [],
    ],
    [
      'clean, then (a later rescan of b) stale b',
      [
        new Map<PlanEntry, Verdict>([
          [a, CLEAN],
          [b, STALE],
        ]),
        new Map<PlanEntry, Verdict>([[b, STALE]]),
      ],
      [b],
    ],
  ];
  for (const [name, rescans, want] of table) {
    it(name, () => assert.deepEqual(toRescan(rescans), want));
  }
});
