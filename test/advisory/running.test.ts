// The running version of a process and the verdicts, as tables: one row per situation.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HistoryEvent } from '../../src/advisory/history.ts';
import {
  type HostFacts,
  hostVerdict,
  isVulnerable,
  type MappingFacts,
  runningVersion,
  VERDICTS,
  worstVerdict,
} from '../../src/advisory/running.ts';
import { compareDebVersions } from '../../src/reboot/version.ts';

const T = (min: number) => Date.UTC(2025, 0, 1, 0, min);
const up = (min: number, from: string, to: string): HistoryEvent => ({
  time: T(min),
  name: 'libfoo1',
  action: 'upgrade',
  from,
  version: to,
});
const inst = (min: number, v: string): HistoryEvent => ({
  time: T(min),
  name: 'libfoo1',
  action: 'installed',
  from: null,
  version: v,
});
/** 1 installed at 0, upgraded to 2 at 10, to 3 at 20. */
const FULL = [inst(0, '1'), up(10, '1', '2'), inst(10, '2'), up(20, '2', '3'), inst(20, '3')];
/** The same after log rotation dropped everything before minute 15. */
const ROTATED = [up(20, '2', '3'), inst(20, '3')];
/** Only a status line survived. */
const STATUS_ONLY = [inst(20, '3')];

const base: MappingFacts = {
  deleted: true,
  replacedAtMs: null,
  startMs: null,
  installed: '3',
  history: FULL,
};

type Row = [string, Partial<MappingFacts>, string | null, string, boolean | 'unknown'];
/** [situation, facts, runningVersion, evidence (+lower bound), vulnerable with fix at 2] */
const ROWS: Row[] = [
  ['current file', { deleted: false }, '3', 'installed', false],
  ['current file, package gone', { deleted: false, installed: null }, null, 'unknown', 'unknown'],
  ['replaced at the 1→2 upgrade (ctime)', { replacedAtMs: T(10) + 800 }, '1', 'history', true],
  ['replaced at the 2→3 upgrade (ctime)', { replacedAtMs: T(20) + 1500 }, '2', 'history', false],
  ['no ctime, started on 1', { startMs: T(5) }, '1', 'history lower bound', 'unknown'],
  ['no ctime, started on 2', { startMs: T(15) }, '2', 'history lower bound', false],
  [
    'rotated log, started on 2',
    { startMs: T(15), history: ROTATED },
    '2',
    'history lower bound',
    false,
  ],
  [
    'rotated log, ctime of the 2→3 upgrade',
    { replacedAtMs: T(20), history: ROTATED },
    '2',
    'history',
    false,
  ],
  [
    'status-only history, started before it',
    { startMs: T(5), history: STATUS_ONLY },
    null,
    'unknown',
    'unknown',
  ],
  ['no history at all', { startMs: T(5), history: [] }, null, 'unknown', 'unknown'],
];

describe('runningVersion', () => {
  for (const [name, facts, version, evidence, vulnerable] of ROWS) {
    it(name, () => {
      const r = runningVersion({ ...base, ...facts });
      assert.equal(r.runningVersion, version, r.note);
      assert.equal(`${r.evidence}${r.lowerBound ? ' lower bound' : ''}`, evidence);
      assert.equal(isVulnerable(r, '2', compareDebVersions), vulnerable);
      assert.ok(r.note.length > 0 && !r.note.includes('\n'));
    });
  }

  it('says what the unknown version is older than', () => {
    const r = runningVersion({ ...base, startMs: T(5), history: STATUS_ONLY });
    assert.deepEqual(r.olderThan, { version: '3', at: new Date(T(20)).toISOString() });
    assert.match(r.note, /^unknown, older than 3 installed at 2025-01-01T00:20:00\.000Z$/);
    // Older than 3 with the fix at 3: certainly vulnerable; with the fix at 2: cannot tell.
    assert.equal(isVulnerable(r, '3', compareDebVersions), true);
    assert.equal(isVulnerable(r, '2', compareDebVersions), 'unknown');
    const none = runningVersion({ ...base, startMs: T(5), history: [] });
    assert.match(none.note, /older than 3 \(installed now\)/);
  });

  it('a lower bound below the fix is vulnerable when every newer candidate is too', () => {
    const r = runningVersion({ ...base, startMs: T(5) });
    assert.equal(isVulnerable(r, '3', compareDebVersions, '2'), true);
    assert.equal(isVulnerable(r, '2', compareDebVersions, '2'), 'unknown');
  });
});

describe('verdicts', () => {
  it('are ordered worst first', () => {
    assert.deepEqual(
      [...VERDICTS],
      ['unpatched', 'reboot-needed', 'restart-needed', 'image-vulnerable', 'unknown', 'clean'],
    );
    assert.equal(worstVerdict([]), 'clean');
    assert.equal(worstVerdict(['unknown', 'image-vulnerable', 'clean']), 'image-vulnerable');
  });

  const host: HostFacts = {
    installed: [{ name: 'libfoo1', version: '3', fixed: '2' }],
    processes: [],
    containers: [],
  };
  const cases: [string, Partial<HostFacts>, string][] = [
    ['patched, nothing stale', {}, 'clean'],
    [
      'installed below the fix',
      { installed: [{ name: 'libfoo1', version: '1', fixed: '2' }] },
      'unpatched',
    ],
    [
      'no fix known for this family',
      { installed: [{ name: 'libfoo1', version: '3', fixed: null }] },
      'unknown',
    ],
    ['a process runs 1', { processes: [{ pid: 7, vulnerable: true }] }, 'restart-needed'],
    ['a stale process runs 2 (fixed)', { processes: [{ pid: 7, vulnerable: false }] }, 'clean'],
    ['a process cannot be told', { processes: [{ pid: 7, vulnerable: 'unknown' }] }, 'unknown'],
    [
      'kernel below the fix',
      { kernel: { running: '6.1.76-1', fixed: '6.1.90-1' } },
      'reboot-needed',
    ],
    [
      'container image below the fix',
      { containers: [{ id: 'abc', vulnerable: true }] },
      'image-vulnerable',
    ],
    [
      'everything at once: unpatched wins, every reason listed',
      {
        installed: [{ name: 'libfoo1', version: '1', fixed: '2' }],
        kernel: { running: '6.1.76-1', fixed: '6.1.90-1' },
        processes: [{ pid: 7, vulnerable: true }],
        containers: [{ id: 'abc', vulnerable: true }],
      },
      'unpatched',
    ],
  ];
  for (const [name, facts, want] of cases) {
    it(name, () => {
      const v = hostVerdict({ ...host, ...facts }, compareDebVersions);
      assert.equal(v.verdict, want);
      if (want !== 'clean') assert.equal(v.reasons[0]?.verdict, want);
    });
  }

  it('lists every reason, worst first', () => {
    const v = hostVerdict(
      {
        installed: [{ name: 'libfoo1', version: '1', fixed: '2' }],
        kernel: { running: '6.1.76-1', fixed: '6.1.90-1' },
        processes: [{ pid: 7, vulnerable: true }],
        containers: [{ id: 'abc', vulnerable: true }],
      },
      compareDebVersions,
    );
    assert.deepEqual(
      v.reasons.map((r) => r.verdict),
      ['unpatched', 'reboot-needed', 'restart-needed', 'image-vulnerable'],
    );
  });
});
