import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  FleetInputError,
  fleetExitCode,
  mergeFleet,
  parseInput,
  type RawDocument,
} from '../../src/fleet/merge.ts';

const scanDoc = (host: string, time: string, entries: object[] = []) => ({
  format: 'afterpatch-scan',
  formatVersion: 1,
  hostname: host,
  time,
  asRoot: true,
  partial: false,
  summary: { processes: entries.length, unreadable: 0 },
  entries,
});
const sshEntry = {
  type: 'system-unit',
  key: 'system-unit:ssh.service',
  unit: 'ssh.service',
  severity: 'code',
  files: [{ path: '/usr/lib/libssl.so.3', kind: 'code', package: { name: 'libssl3' } }],
};
const dataEntry = {
  type: 'system-unit',
  key: 'system-unit:x.service',
  unit: 'x.service',
  severity: 'data',
  files: [],
};
const rebootDoc = (required: boolean, extra: object = {}) => ({
  format: 'afterpatch-reboot',
  formatVersion: 1,
  required,
  applicable: true,
  reasons: required ? [{ type: 'kernel-newer', running: '6.1.0-1', newest: '6.1.0-2' }] : [],
  notes: [],
  ...extra,
});
const restartDoc = (
  host: string,
  time: string,
  results: object[],
  plan: object[] = [],
  dryRun = false,
) => ({
  format: 'afterpatch-restart',
  formatVersion: 1,
  hostname: host,
  time,
  dryRun,
  scan: { unreadable: 0 },
  partial: false,
  plan,
  results,
});
const raw = (docs: unknown[], fallbackHost: string | null = null) =>
  docs.map((doc, i): RawDocument & { fallbackHost: string | null } => ({
    doc,
    source: 'in.json',
    line: i + 1,
    fallbackHost,
  }));

describe('mergeFleet', () => {
  const T1 = '2026-01-01T00:00:00.000Z';
  const T2 = '2026-01-02T00:00:00.000Z';
  const cases: {
    name: string;
    docs: unknown[];
    want: Record<
      string,
      { restart: boolean; reboot: boolean; clean: boolean; failed?: boolean; unknown?: boolean }
    >;
    exit: number;
  }[] = [
    {
      name: 'clean scan',
      docs: [scanDoc('a', T1)],
      want: { a: { restart: false, reboot: false, clean: true } },
      exit: 0,
    },
    {
      name: 'data-only entries are clean',
      docs: [scanDoc('a', T1, [dataEntry])],
      want: { a: { restart: false, reboot: false, clean: true } },
      exit: 0,
    },
    {
      name: 'stale scan',
      docs: [scanDoc('a', T1, [sshEntry]), scanDoc('b', T1)],
      want: {
        a: { restart: true, reboot: false, clean: false },
        b: { restart: false, reboot: false, clean: true },
      },
      exit: 1,
    },
    {
      name: 'duplicates: the later time wins, whatever the input order',
      docs: [scanDoc('a', T2), scanDoc('a', T1, [sshEntry])],
      want: { a: { restart: false, reboot: false, clean: true } },
      exit: 0,
    },
    {
      name: 'duplicates: equal times, the later document wins',
      docs: [scanDoc('a', T1), scanDoc('a', T1, [sshEntry])],
      want: { a: { restart: true, reboot: false, clean: false } },
      exit: 1,
    },
    {
      name: 'combined per-host object',
      docs: [{ host: 'a', scan: scanDoc('a', T1), reboot: rebootDoc(true), restart: null }],
      want: { a: { restart: false, reboot: true, clean: false } },
      exit: 1,
    },
    {
      name: 'mixed formats for one host: scan + reboot-required (named by the file)',
      docs: [scanDoc('a', T1, [sshEntry]), rebootDoc(true)],
      want: { a: { restart: true, reboot: true, clean: false } },
      exit: 1,
    },
    {
      name: 'a restart newer than the scan: verified units are done',
      docs: [
        scanDoc('a', T1, [sshEntry]),
        restartDoc(
          'a',
          T2,
          [
            {
              key: 'system-unit:ssh.service',
              unit: 'ssh.service',
              action: 'restart',
              outcome: 'verified',
            },
          ],
          [{ key: 'system-unit:ssh.service', unit: 'ssh.service', action: 'restart' }],
        ),
      ],
      want: { a: { restart: false, reboot: false, clean: true } },
      exit: 0,
    },
    {
      name: 'a restart that left a unit stale',
      docs: [
        restartDoc('a', T2, [
          {
            key: 'system-unit:ssh.service',
            unit: 'ssh.service',
            action: 'restart',
            outcome: 'still-stale',
          },
        ]),
      ],
      want: { a: { restart: true, reboot: false, clean: false } },
      exit: 1,
    },
    {
      name: 'a dry-run restart plan still needs a restart',
      docs: [restartDoc('a', T2, [], [{ key: 'k', unit: 'ssh.service', action: 'restart' }], true)],
      want: { a: { restart: true, reboot: false, clean: false } },
      exit: 1,
    },
    {
      name: 'a reboot verdict alone is no scan: unknown, never clean (issue 16: was clean)',
      docs: [rebootDoc(false, { hostname: 'a', time: T1 })],
      want: { a: { restart: false, reboot: false, clean: false, unknown: true } },
      exit: 1,
    },
    {
      name: 'a reboot verdict whose evidence could not be read is unknown, never clean (was: clean)',
      docs: [
        scanDoc('a', T1),
        rebootDoc(false, { unknown: ['the running kernel release is unknown (…)'] }),
      ],
      want: { a: { restart: false, reboot: false, clean: false, unknown: true } },
      exit: 1,
    },
    {
      name: 'a partial scan (no root or no CAP_SYS_PTRACE) is unknown, never clean (was: clean)',
      docs: [{ ...scanDoc('a', T1), asRoot: true, partial: true, summary: { unreadable: 3 } }],
      want: { a: { restart: false, reboot: false, clean: false, unknown: true } },
      exit: 1,
    },
    {
      name: 'an older document without `partial`: unreadable processes without root are unknown too',
      docs: [
        { ...scanDoc('a', T1), asRoot: false, partial: undefined, summary: { unreadable: 3 } },
        { ...scanDoc('b', T1), asRoot: true, partial: undefined, summary: { unreadable: 1 } },
        { ...scanDoc('c', T1), asRoot: true, partial: false, summary: { unreadable: 1 } },
      ],
      want: {
        a: { restart: false, reboot: false, clean: false, unknown: true },
        b: { restart: false, reboot: false, clean: true },
        c: { restart: false, reboot: false, clean: true },
      },
      exit: 1,
    },
    {
      name: 'a combined object with only a reboot result: unknown too',
      docs: [{ host: 'a', reboot: rebootDoc(false), scan: null, restart: null }],
      want: { a: { restart: false, reboot: false, clean: false, unknown: true } },
      exit: 1,
    },
    {
      name: 'a reboot verdict with a scan: clean',
      docs: [rebootDoc(false, { hostname: 'a', time: T1 }), scanDoc('a', T1)],
      want: { a: { restart: false, reboot: false, clean: true } },
      exit: 0,
    },
    {
      name: 'a failed module run',
      docs: [{ host: 'a', failed: true, msg: 'afterpatch is not installed on a' }],
      want: { a: { restart: false, reboot: false, clean: false, failed: true } },
      exit: 1,
    },
    {
      // The module's own results carry their own (later) times: they must not hide its failure.
      name: 'a failed module run whose own scan and reboot results are newer than its object',
      docs: [
        {
          host: 'a',
          time: T1,
          failed: true,
          msg: 'fleet-app.service: failed',
          scan: scanDoc('a', T2),
          reboot: { ...rebootDoc(false), time: T2 },
        },
      ],
      want: { a: { restart: false, reboot: false, clean: false, failed: true } },
      exit: 1,
    },
    {
      name: 'a later document still clears an earlier failure',
      docs: [{ host: 'a', time: T1, failed: true, msg: 'unreachable' }, scanDoc('a', T2)],
      want: { a: { restart: false, reboot: false, clean: true } },
      exit: 0,
    },
    // Issue 17: fail closed on restart documents, combined objects and reboot verdicts.
    {
      name: 'a dry run whose scan was partial is unknown, also over an older partial scan (was: clean)',
      docs: [
        { ...scanDoc('a', T1), asRoot: false, partial: true, summary: { unreadable: 22 } },
        { ...restartDoc('a', T2, [], [], true), scan: { unreadable: 22 }, partial: true },
        { ...restartDoc('b', T2, [], [], true), scan: { unreadable: 22 }, partial: undefined },
      ],
      want: {
        a: { restart: false, reboot: false, clean: false, unknown: true },
        b: { restart: false, reboot: false, clean: false, unknown: true },
      },
      exit: 1,
    },
    {
      name: 'a restart stopped by SIGTERM: a planned unit without a result still needs a restart (was: clean)',
      docs: [
        scanDoc('a', T1, [sshEntry]),
        {
          ...restartDoc(
            'a',
            T2,
            [],
            [{ key: sshEntry.key, unit: 'ssh.service', action: 'restart' }],
          ),
          interrupted: 'SIGTERM',
        },
      ],
      want: { a: { restart: true, reboot: false, clean: false } },
      exit: 1,
    },
    {
      name: 'a reboot verdict of required: false with reasons contradicts itself: unknown (was: clean)',
      docs: [
        scanDoc('a', T1),
        rebootDoc(false, {
          hostname: 'a',
          time: T1,
          reasons: [{ type: 'sentinel', file: '/run/reboot-required', packages: [] }],
        }),
      ],
      want: { a: { restart: false, reboot: false, clean: false, unknown: true } },
      exit: 1,
    },
    {
      name: 'a combined object with reboot: null has no reboot verdict: unknown (was: clean)',
      docs: [{ host: 'a', failed: false, msg: '', scan: scanDoc('a', T1), reboot: null }],
      want: { a: { restart: false, reboot: false, clean: false, unknown: true } },
      exit: 1,
    },
    {
      name: 'reboot: null is replaced by a later reboot document',
      docs: [
        { host: 'a', time: T1, scan: scanDoc('a', T1), reboot: null },
        rebootDoc(false, { hostname: 'a', time: T2 }),
      ],
      want: { a: { restart: false, reboot: false, clean: true } },
      exit: 0,
    },
    {
      name: 'a combined object with scan: null over an older clean scan: unknown (was: clean)',
      docs: [scanDoc('a', T1), { host: 'a', time: T2, scan: null, reboot: rebootDoc(false) }],
      want: { a: { restart: false, reboot: false, clean: false, unknown: true } },
      exit: 1,
    },
    {
      name: 'needs_reboot: true counts without failed (was: clean)',
      docs: [{ host: 'a', needs_reboot: true, scan: scanDoc('a', T1), reboot: rebootDoc(false) }],
      want: { a: { restart: false, reboot: true, clean: false } },
      exit: 1,
    },
    {
      name: 'needs_restart: true counts without failed (was: clean)',
      docs: [{ host: 'a', needs_restart: true, scan: scanDoc('a', T1), reboot: rebootDoc(false) }],
      want: { a: { restart: true, reboot: false, clean: false } },
      exit: 1,
    },
    {
      name: 'a failing health command fails the host without failed (was: clean)',
      docs: [
        {
          host: 'a',
          health: { argv: ['false'], rc: 1, attempts: 1, stdout: '', stderr: '' },
          scan: scanDoc('a', T1),
          reboot: rebootDoc(false),
        },
        {
          host: 'b',
          health: { argv: ['nope'], rc: null, attempts: 1, stdout: '', stderr: '' },
          scan: scanDoc('b', T1),
          reboot: rebootDoc(false),
        },
        {
          host: 'c',
          health: { argv: ['true'], rc: 0, attempts: 1, stdout: '', stderr: '' },
          scan: scanDoc('c', T1),
          reboot: rebootDoc(false),
        },
      ],
      want: {
        a: { restart: false, reboot: false, clean: false, failed: true },
        b: { restart: false, reboot: false, clean: false, failed: true },
        c: { restart: false, reboot: false, clean: true },
      },
      exit: 1,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const v = mergeFleet(raw(c.docs, 'a'));
      const got = Object.fromEntries(
        v.hosts.map((h) => [
          h.host,
          {
            restart: h.needsRestart,
            reboot: h.needsReboot,
            clean: h.clean,
            ...(h.failed ? { failed: true } : {}),
            ...(h.unknown ? { unknown: true } : {}),
          },
        ]),
      );
      assert.deepEqual(got, c.want);
      assert.equal(fleetExitCode(v), c.exit);
    });
  }

  it('says each reboot reason as reboot-required does (one describeReason); a reason it does not know by its type', () => {
    const microcode = {
      type: 'microcode',
      cpu: 'GenuineIntel 06-8c-01',
      running: '0xa4',
      available: '0xb8',
      file: '/lib/firmware/intel-ucode/06-8c-01',
      date: '2024-02-05',
    };
    const v = mergeFleet(
      raw(
        [
          rebootDoc(true, {
            reasons: [
              { type: 'kernel-newer', running: '6.1.0-1', newest: '6.1.0-2' },
              microcode,
              { type: 'from-the-future', detail: 1 },
            ],
          }),
        ],
        'a',
      ),
    );
    assert.deepEqual(v.hosts[0]?.rebootReasons, [
      'kernel 6.1.0-2 is installed, 6.1.0-1 is running',
      'microcode update pending: running 0xa4, available 0xb8 (/lib/firmware/intel-ucode/06-8c-01, 2024-02-05)',
      'from-the-future',
    ]);
  });

  it('counts units and packages across hosts', () => {
    const v = mergeFleet(
      raw([scanDoc('a', T1, [sshEntry]), scanDoc('b', T1, [sshEntry]), scanDoc('c', T1)]),
    );
    assert.deepEqual(v.units, [{ name: 'ssh.service', hosts: 2, hostnames: ['a', 'b'] }]);
    assert.deepEqual(v.packages, [{ name: 'libssl3', hosts: 2, hostnames: ['a', 'b'] }]);
    assert.deepEqual(v.summary, {
      hosts: 3,
      needRestart: 2,
      needReboot: 0,
      failed: 0,
      unknown: 0,
      clean: 1,
    });
    assert.deepEqual(v.hosts.find((h) => h.host === 'a')?.units, ['ssh.service']);
  });

  it('reads slim entries of the combined format (packages as names)', () => {
    const v = mergeFleet(
      raw([
        {
          host: 'a',
          scan: {
            time: T1,
            asRoot: true,
            summary: { unreadable: 0 },
            entries: [{ key: 'k', unit: 'u.service', severity: 'code', packages: ['libc6'] }],
          },
        },
      ]),
    );
    assert.deepEqual(
      v.packages.map((p) => p.name),
      ['libc6'],
    );
  });

  it('rejects what it cannot attribute or read', () => {
    const bad: [unknown, RegExp][] = [
      [42, /in\.json:1: not a JSON object/],
      [{ foo: 1 }, /not an afterpatch document/],
      [{ format: 'afterpatch-nope', formatVersion: 1 }, /unknown format/],
      [{ ...scanDoc('a', T1), formatVersion: 2 }, /format version 2 is newer/],
      [rebootDoc(false), /without a host name/],
      // Issue 17: required fields are required; a time that is not one never wins as "newest".
      [
        { format: 'afterpatch-scan', formatVersion: 1, hostname: 'a', entries: [] },
        /in\.json:1: afterpatch-scan document of host a is not usable \("asRoot" is missing\)/,
      ],
      [
        { ...scanDoc('a', T1), asRoot: false, partial: undefined, summary: undefined },
        /"summary" is missing/,
      ],
      [{ ...scanDoc('a', T1), summary: {} }, /"summary\.unreadable" is missing/],
      // The partial rule reads summary.failed: a value that is no count is refused, never 0.
      [
        { ...scanDoc('a', T1), partial: undefined, summary: { unreadable: 0, failed: 'x' } },
        /"summary\.failed"/,
      ],
      [{ ...restartDoc('a', T1, []), dryRun: undefined }, /"dryRun" is missing/],
      [{ ...restartDoc('a', T1, []), scan: undefined }, /"scan" is missing/],
      [{ ...scanDoc('a', 'zzzz') }, /"time": not an ISO 8601 time/],
      [{ host: 'a', time: 'zzzz', scan: scanDoc('a', T1) }, /"time": not an ISO 8601 time/],
      [{ host: 'a', scan: { ...scanDoc('a', T1), time: 'zzzz' } }, /"time": not an ISO 8601 time/],
    ];
    for (const [doc, re] of bad) {
      assert.throws(
        () => mergeFleet(raw([doc])),
        (e: Error) => e instanceof FleetInputError && re.test(e.message),
      );
    }
  });
});

describe('mergeFleet without hosts', () => {
  it('no host at all is an input error, never an all-clear (issue 17: was exit 0)', () => {
    assert.throws(() => mergeFleet([]), /no host in the input/);
  });
});

describe('parseInput', () => {
  it('reads one object, an array and JSON Lines', () => {
    assert.equal(parseInput('{"a":1}', 'f').length, 1);
    assert.equal(parseInput('{\n  "a": 1\n}\n', 'f').length, 1);
    assert.equal(parseInput('[{"a":1},{"a":2}]', 'f').length, 2);
    const lines = parseInput('{"a":1}\n\n{"a":2}\n', 'f');
    assert.deepEqual(
      lines.map((d) => d.line),
      [1, 3],
    );
  });

  it('names the file and the line of bad JSON Lines', () => {
    assert.throws(
      () => parseInput('{"a":1}\n{"a":2}\n{oops\n', 'hosts.jsonl'),
      (e: Error) =>
        e instanceof FleetInputError && /^hosts\.jsonl:3: not valid JSON/.test(e.message),
    );
  });

  it('names the file of a broken document and of empty input', () => {
    assert.throws(() => parseInput('{\n "a": \n', 'x.json'), /: x\.json: not valid JSON/);
    assert.throws(() => parseInput('  \n', 'x.json'), /: x\.json: no JSON document/);
  });
});
