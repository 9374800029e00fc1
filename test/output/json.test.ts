import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { formatJson, scanJsonChunks, scanToJson } from '../../src/output/json.ts';
import type { PackageRef, StaleFile, StaleProcess } from '../../src/scan/model.ts';
import type { ScanReport } from '../../src/scan/scan.ts';
import { scan } from '../../src/scan/scan.ts';
import { makeProcTree, mapsLine } from '../helpers/fakeproc.ts';

describe('scan JSON written in pieces', () => {
  let fx: ReturnType<typeof makeProcTree>;
  let report: ScanReport;
  before(async () => {
    const stale = (pid: number) => ({
      name: `p${pid}`,
      maps: [
        mapsLine('/usr/bin/x'),
        mapsLine('/usr/lib/libz.so.1', { deleted: true, addr: 0x7f3000 }),
      ].join('\n'),
      cgroup: '0::/system.slice/x.service\n',
    });
    fx = makeProcTree({
      1: { name: 'systemd', maps: '', cgroup: '0::/init.scope\n' },
      20: stale(20),
      21: stale(21),
      22: stale(22),
    });
    report = await scan({ procRoot: fx.root, packages: false });
  });
  after(() => fx.cleanup());

  it('is exactly the pretty-printed document', () => {
    assert.equal(report.processes.length, 3);
    assert.equal(formatJson(report), `${JSON.stringify(scanToJson(report), null, 2)}\n`);
    assert.ok([...scanJsonChunks(report)].length > 4, 'one piece per process');
  });

  it('handles a report without processes', () => {
    const empty = { ...report, processes: [], groups: [] };
    assert.equal(formatJson(empty), `${JSON.stringify(scanToJson(empty), null, 2)}\n`);
  });

  it('is exactly the pretty-printed document for any processes (files reused from the last one or not)', () => {
    // Few distinct values, so that consecutive processes often share files (the reused text)
    // and often differ in one field only (which must not be reused).
    const shared: PackageRef = { name: 'libssl3', version: '3.0.15-1~deb12u1', manager: 'dpkg' };
    const text = fc.oneof(
      fc.constantFrom('/usr/lib/libssl.so.3', '/usr/bin/x', 'a"b\\c', ''),
      fc.string({ unit: 'binary', maxLength: 12 }),
    );
    const pkg = fc.oneof(
      fc.constant(shared),
      fc.constant(null),
      fc.constant({ ...shared }),
      fc.record({ name: text, version: text, manager: fc.constantFrom('dpkg', 'rpm') }),
    );
    const base: StaleFile = {
      path: '/usr/lib/libssl.so.3',
      hostPath: '/usr/lib/libssl.so.3',
      kind: 'code',
      inode: 1,
      device: 'fe:00',
      package: shared,
    };
    // Each differs from `base` in one field only: reused for it, the text would be wrong.
    const oneOff: StaleFile[] = [
      base,
      { ...base },
      { ...base, path: '/usr/lib/libssl.so.4' },
      { ...base, hostPath: null },
      { ...base, kind: 'data' },
      { ...base, inode: 2 },
      { ...base, device: '00:2a' },
      { ...base, package: null },
      { ...base, package: { ...shared } },
      { ...base, package: { ...shared, version: '3.0.16-1' } },
      {
        ...base,
        interpreted: {
          interpreter: 'python',
          confidence: 'loaded',
          reason: 'script',
          changedAt: '2026-12-02T10:00:00.000Z',
          startedAt: '2026-12-01T10:00:00.000Z',
        },
      },
    ];
    const anyFile: fc.Arbitrary<StaleFile> = fc.record(
      {
        path: text,
        hostPath: fc.option(text),
        kind: fc.constantFrom('code', 'data'),
        inode: fc.constantFrom(1, 2, 2 ** 40),
        device: fc.constantFrom('fe:00', '00:2a'),
        package: pkg,
        interpreted: fc.record({
          interpreter: fc.constantFrom('python', 'java'),
          confidence: fc.constantFrom('loaded', 'package'),
          reason: fc.constantFrom('script', 'module'),
          changedAt: fc.constant('2026-12-02T10:00:00.000Z'),
          startedAt: fc.constant('2026-12-01T10:00:00.000Z'),
        }),
      },
      { requiredKeys: ['path', 'hostPath', 'kind', 'inode', 'device', 'package'] },
    );
    const process: fc.Arbitrary<StaleProcess> = fc.record(
      {
        pid: fc.nat(),
        ppid: fc.option(fc.nat()),
        uid: fc.option(fc.nat()),
        name: fc.option(text),
        cmdline: fc.option(fc.array(text, { maxLength: 3 })),
        root: text,
        foreignPidNs: fc.boolean(),
        cgroup: fc.option(text),
        owner: fc.constantFrom(
          { type: 'unmanaged', cgroup: '/' } as const,
          { type: 'system-unit', unit: 'x.service' } as const,
        ),
        files: fc.array(fc.oneof(fc.constantFrom(...oneOff), anyFile), { maxLength: 3 }),
        ignored: fc.array(
          fc.record({ path: text, kind: fc.constantFrom('code', 'data'), rule: text }),
          { maxLength: 2 },
        ),
        omittedMappings: fc.integer({ min: 1, max: 9 }),
      },
      {
        requiredKeys: [
          'pid',
          'ppid',
          'uid',
          'name',
          'cmdline',
          'root',
          'foreignPidNs',
          'cgroup',
          'owner',
          'files',
          'ignored',
        ],
      },
    );
    // Runs of the same fields, as a scan of many processes of one program gives (the text after
    // the PID reused), each copy of a run maybe with one field changed (which must not be).
    const oneChange: ((p: StaleProcess) => StaleProcess)[] = [
      (p) => p,
      (p) => ({ ...p, ppid: (p.ppid ?? 0) + 1 }),
      (p) => ({ ...p, uid: p.uid === null ? 0 : null }),
      (p) => ({ ...p, name: `${p.name ?? ''}x` }),
      (p) => ({ ...p, cmdline: [...(p.cmdline ?? []), 'x'] }),
      (p) => ({ ...p, cmdline: p.cmdline === null ? null : [...p.cmdline] }),
      (p) => ({ ...p, root: `${p.root}/x` }),
      (p) => ({ ...p, foreignPidNs: !p.foreignPidNs }),
      (p) => ({ ...p, cgroup: p.cgroup === null ? '/' : null }),
      (p) => ({
        ...p,
        owner: p.owner.type === 'unmanaged' ? { type: 'system-unit', unit: 'y.service' } : p.owner,
      }),
      (p) => ({ ...p, files: p.files.slice(1) }),
      (p) => ({ ...p, files: p.files.map((f) => ({ ...f, inode: f.inode + 1 })) }),
      (p) => ({ ...p, files: [...p.files] }),
      (p) => ({ ...p, ignored: [{ path: '/tmp/x', kind: 'data', rule: 'tmp' }] }),
      (p) => ({ ...p, omittedMappings: (p.omittedMappings ?? 0) + 1 }),
    ];
    const processes = fc
      .array(
        fc.tuple(process, fc.nat(3), fc.array(fc.nat(oneChange.length - 1), { maxLength: 4 })),
        { maxLength: 8 },
      )
      .map((xs) =>
        xs.flatMap(([p, n, changes]) =>
          Array.from({ length: n + 1 }, (_, i) => {
            const change = oneChange[changes[i] ?? 0] ?? ((q: StaleProcess) => q);
            return { ...change(p), pid: p.pid + i };
          }),
        ),
      );
    // With an advisory assessment, every process carries its mark (vulnerable, versions).
    const version = fc.record(
      {
        advisory: fc.constantFrom('CVE-2014-0160', 'x"y'),
        package: text,
        fixed: fc.option(text),
        runningVersion: fc.option(text),
        evidence: fc.constantFrom('installed', 'history', 'unknown'),
        lowerBound: fc.constant(true),
        olderThan: fc.record({ version: text, at: fc.option(text) }),
        vulnerable: fc.constantFrom(true, false, 'unknown'),
        note: text,
      },
      {
        requiredKeys: [
          'advisory',
          'package',
          'fixed',
          'runningVersion',
          'evidence',
          'vulnerable',
          'note',
        ],
      },
    );
    const advisories = fc.option(fc.array(version, { maxLength: 3 }));
    fc.assert(
      fc.property(processes, advisories, (ps, versions) => {
        const r: ScanReport = { ...report, processes: ps };
        if (versions !== null)
          r.advisories = {
            verdict: 'restart-needed',
            advisories: [],
            containers: [],
            // Runs of the same array, and another of the same length that differs (reused
            // only when the items are the same objects).
            processes: new Map(
              ps.flatMap((p, i): [number, typeof versions][] =>
                i % 3 === 2
                  ? []
                  : [
                      [
                        p.pid,
                        i % 3 === 0
                          ? versions
                          : versions.map((v) => ({ ...v, note: `${v.note}!` })),
                      ],
                    ],
              ),
            ),
          } as NonNullable<ScanReport['advisories']>;
        assert.equal(formatJson(r), `${JSON.stringify(scanToJson(r), null, 2)}\n`);
      }),
      { numRuns: 300 },
    );
  });
});
