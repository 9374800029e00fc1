import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { emptyRestartView, type Health } from '../../src/check/health.ts';
import { parseRange } from '../../src/check/range.ts';
import { groupProcesses } from '../../src/grouping/group.ts';
import { OWNER_KINDS } from '../../src/grouping/owner.ts';
import {
  type CheckThresholds,
  entryLabel,
  formatNagios,
  formatNagiosError,
  MAX_FIRST_LINE_BYTES,
  MAX_OUTPUT_BYTES,
  NAGIOS_EXIT,
  type NagiosState,
} from '../../src/output/nagios.ts';
import type { RebootReason } from '../../src/reboot/detect.ts';
import type { Owner, StaleProcess } from '../../src/scan/model.ts';
import { FIRST_LINE } from '../helpers/nagios.ts';

function proc(pid: number, owner: Owner, files: [string, 'code' | 'data'][]): StaleProcess {
  return {
    pid,
    ppid: 1,
    uid: 0,
    name: `p${pid}`,
    cmdline: null,
    root: '/',
    foreignPidNs: false,
    cgroup: null,
    owner,
    files: files.map(([path, kind]) => ({
      path,
      hostPath: path,
      kind,
      inode: 1,
      device: 'fe:00',
      package: path.includes('libssl')
        ? { name: 'libssl3', version: '3.0.15-1~deb12u1', manager: 'dpkg' as const }
        : null,
    })),
    ignored: [],
  };
}

const SSL = '/usr/lib/x86_64-linux-gnu/libssl.so.3';
const NGINX: Owner = { type: 'system-unit', unit: 'nginx.service' };
const SSH: Owner = { type: 'system-unit', unit: 'ssh.service' };
const SESSION: Owner = { type: 'session', uid: 1000, session: '4', unit: 'session-4.scope' };
const CONTAINER: Owner = { type: 'container', runtime: 'docker', id: 'abc123', cgroup: null };

interface Fixture {
  processes?: StaleProcess[];
  unreadable?: number;
  asRoot?: boolean;
  ptrace?: boolean;
  reasons?: RebootReason[];
  failedRestarts?: number;
  stateError?: string;
}

function health(f: Fixture = {}): Health {
  const processes = f.processes ?? [];
  const groups = groupProcesses(processes);
  return {
    scan: {
      hostname: 'h',
      asRoot: f.asRoot ?? true,
      ptrace: f.ptrace ?? true,
      time: '2025-01-01T00:00:00Z',
      durationMs: 1,
      packageManager: 'dpkg',
      summary: {
        scanned: 100,
        unreadable: f.unreadable ?? 0,
        processes: processes.length,
        units: 0,
        userUnits: 0,
        sessions: 0,
        containers: 0,
        vms: 0,
        dataOnly: 0,
      },
      groups,
      processes,
      warnings: [],
    },
    reboot: {
      required: (f.reasons ?? []).length > 0,
      applicable: true,
      reasons: f.reasons ?? [],
      notes: [],
      sentinelWritten: null,
    },
    restart: {
      ...emptyRestartView(),
      error: f.stateError ?? null,
      outcomes: { ...emptyRestartView().outcomes, failed: f.failedRestarts ?? 0 },
    },
    durationMs: 2,
    timestamp: 0,
  };
}

const defaults: CheckThresholds = {
  metric: 'any',
  warning: parseRange('0'),
  critical: null,
  rebootState: 'warning',
};
const th = (o: Partial<CheckThresholds>): CheckThresholds => ({ ...defaults, ...o });
const SENTINEL: RebootReason = {
  type: 'sentinel',
  file: '/run/reboot-required',
  packages: ['libc6'],
};

const others = [
  proc(30, SESSION, [[SSL, 'code']]),
  proc(40, CONTAINER, [['/usr/lib/libz.so.1', 'code']]),
  proc(45, { type: 'init' }, [[SSL, 'code']]),
  proc(46, { type: 'unmanaged', cgroup: null }, [[SSL, 'code']]),
  proc(50, SSH, [['/usr/lib/locale/locale-archive', 'data']]),
];

const twoUnits = [
  proc(10, NGINX, [[SSL, 'code']]),
  proc(11, NGINX, [[SSL, 'code']]),
  proc(20, SSH, [[SSL, 'code']]),
];

describe('Nagios plugin output', () => {
  // [what, fixture, thresholds, state, summary regex, perfdata]
  // perfdata in its fixed order; `t` gives the warn;crit fields of the other buckets.
  const perf = (
    [p, u, s, c, m, v = 0]: number[],
    o: { r?: number; x?: number; t?: string; pt?: string; ut?: string } = {},
  ) => {
    const t = o.t ?? '0;';
    return `'processes'=${p};${o.pt ?? ';'};0 'units'=${u};${o.ut ?? t};0 'sessions'=${s};${t};0 'containers'=${c};${t};0 'vms'=${v};${t};0 'unmanaged'=${m};${t};0 'reboot'=${o.r ?? 0};;;0;1 'unreadable'=${o.x ?? 0};;;0`;
  };
  const unmanaged12 = Array.from({ length: 12 }, (_, i) =>
    proc(200 + i, { type: 'unmanaged', cgroup: null }, [[SSL, 'code']]),
  );
  // [what, fixture, thresholds, state, summary regex, perfdata]
  const table: [string, Fixture, CheckThresholds, NagiosState, RegExp, string][] = [
    [
      'nothing stale',
      {},
      defaults,
      'OK',
      /^no process runs outdated code \(100 scanned\); no reboot required$/,
      perf([0, 0, 0, 0, 0]),
    ],
    [
      'a unit needs a restart (default warning 0)',
      { processes: twoUnits },
      defaults,
      'WARNING',
      /^outdated code in 3 processes: 2 units \(nginx\.service, ssh\.service\); no reboot required$/,
      perf([3, 2, 0, 0, 0]),
    ],
    [
      'only processes outside any unit (no systemd, cron, supervisord): WARNING, not OK',
      { processes: unmanaged12 },
      defaults,
      'WARNING',
      /^outdated code in 12 processes: 12 processes outside any unit; no reboot required$/,
      perf([12, 0, 0, 0, 12]),
    ],
    [
      'critical above 1 in any bucket',
      { processes: twoUnits },
      th({ critical: parseRange('1') }),
      'CRITICAL',
      /^outdated code in 3 processes: 2 units/,
      perf([3, 2, 0, 0, 0], { t: '0;1' }),
    ],
    [
      'an explicit --metric units still warns on the other buckets',
      { processes: [...others, ...twoUnits] },
      th({ metric: 'units', warning: parseRange('5') }),
      'WARNING',
      /^outdated code in 7 processes: 3 units \(PID 1, nginx\.service, ssh\.service\) \(within thresholds\), 1 process outside any unit, 1 session, 1 container; no reboot required$/,
      perf([7, 3, 1, 1, 1], { ut: '5;' }),
    ],
    [
      '--metric units with the other buckets ignored explicitly',
      { processes: [...others, ...twoUnits] },
      th({
        metric: 'units',
        warning: parseRange('5'),
        ignore: ['unmanaged', 'sessions', 'containers'],
      }),
      'OK',
      /^outdated code in 7 processes: 3 units \(.*\) \(within thresholds\), 1 process outside any unit \(ignored\), 1 session \(ignored\), 1 container \(ignored\); no reboot required$/,
      "'processes'=7;;;0 'units'=3;5;;0 'sessions'=1;;;0 'containers'=1;;;0 'vms'=0;0;;0 'unmanaged'=1;;;0 'reboot'=0;;;0;1 'unreadable'=0;;;0",
    ],
    [
      'a virtual machine guest warns in its own bucket, not as a container',
      {
        processes: [
          proc(300, { type: 'vm', hypervisor: 'libvirt', name: 'db1', cgroup: null }, [
            [SSL, 'code'],
          ]),
        ],
      },
      defaults,
      'WARNING',
      /^outdated code in 1 process: 1 virtual machine; no reboot required$/,
      perf([1, 0, 0, 0, 0, 1]),
    ],
    [
      'thresholds on processes',
      { processes: twoUnits },
      th({ metric: 'processes', warning: parseRange('5'), critical: parseRange('10') }),
      'OK',
      /^outdated code in 3 processes: 2 units/,
      perf([3, 2, 0, 0, 0], { pt: '5;10', t: ';' }),
    ],
    [
      'inside range @2:3 on processes',
      { processes: twoUnits },
      th({ metric: 'processes', warning: null, critical: parseRange('@2:3') }),
      'CRITICAL',
      /^outdated code in 3 processes: 2 units/,
      perf([3, 2, 0, 0, 0], { pt: ';@2:3', t: ';' }),
    ],
    [
      'reboot required (default: warning)',
      { reasons: [SENTINEL] },
      defaults,
      'WARNING',
      /^no process runs outdated code \(100 scanned\); reboot required$/,
      perf([0, 0, 0, 0, 0], { r: 1 }),
    ],
    [
      'reboot required with --reboot-state critical',
      { reasons: [SENTINEL] },
      th({ rebootState: 'critical' }),
      'CRITICAL',
      /reboot required$/,
      perf([0, 0, 0, 0, 0], { r: 1 }),
    ],
    [
      'reboot required with --reboot-state ok',
      { reasons: [SENTINEL] },
      th({ rebootState: 'ok' }),
      'OK',
      /reboot required$/,
      perf([0, 0, 0, 0, 0], { r: 1 }),
    ],
    [
      'not root and some processes unreadable: UNKNOWN, with what was found',
      { processes: twoUnits, unreadable: 7, asRoot: false },
      defaults,
      'UNKNOWN',
      /^cannot read 7 of 107 processes: run as root to see all; found so far: outdated code in 3 processes: 2 units \(nginx\.service, ssh\.service\)/,
      perf([3, 2, 0, 0, 0], { x: 7 }),
    ],
    [
      'the restart state cannot be read: UNKNOWN, never "0 failed restarts"',
      { stateError: 'cannot read /var/lib/afterpatch/state.json (EACCES).' },
      defaults,
      'UNKNOWN',
      /^cannot read the restart state \(cannot read \/var\/lib\/afterpatch\/state\.json \(EACCES\)\.\); found so far: no process runs outdated code/,
      perf([0, 0, 0, 0, 0]),
    ],
    [
      'root without CAP_SYS_PTRACE and processes unreadable: UNKNOWN, saying so (was: OK)',
      { processes: twoUnits, unreadable: 4, asRoot: true, ptrace: false },
      defaults,
      'UNKNOWN',
      /^cannot read 4 of 104 processes: give afterpatch CAP_SYS_PTRACE; found so far: outdated code in 3 processes/,
      perf([3, 2, 0, 0, 0], { x: 4 }),
    ],
    [
      'root but PID 1 unreadable (sandbox): not UNKNOWN',
      { unreadable: 1, asRoot: true },
      defaults,
      'OK',
      /^no process runs outdated code/,
      perf([0, 0, 0, 0, 0], { x: 1 }),
    ],
    [
      'PID 1 counts as a unit (it needs daemon-reexec); sessions, containers and unit-less processes count too; data-only files do not',
      { processes: others },
      defaults,
      'WARNING',
      /^outdated code in 4 processes: 1 unit \(PID 1\), 1 process outside any unit, 1 session, 1 container; no reboot required$/,
      perf([4, 1, 1, 1, 1]),
    ],
    [
      'the same with --metric processes',
      { processes: others },
      th({ metric: 'processes' }),
      'WARNING',
      /^outdated code in 4 processes: /,
      perf([4, 1, 1, 1, 1], { pt: '0;', t: ';' }),
    ],
    [
      'user units and user managers are units',
      {
        processes: [
          proc(
            70,
            {
              type: 'user-unit',
              uid: 1000,
              unit: 'pipewire.service',
              manager: 'user@1000.service',
            },
            [[SSL, 'code']],
          ),
          proc(71, { type: 'user-manager', uid: 1000, unit: 'user@1000.service' }, [[SSL, 'code']]),
        ],
      },
      th({ critical: parseRange('1') }),
      'CRITICAL',
      /^outdated code in 2 processes: 2 units \(user@1000\.service, pipewire\.service\); no reboot required$/,
      perf([2, 2, 0, 0, 0], { t: '0;1' }),
    ],
  ];
  for (const [what, fixture, thresholds, state, summary, perf] of table) {
    it(`${state}: ${what}`, () => {
      const r = formatNagios(health(fixture), thresholds);
      assert.equal(r.state, state);
      assert.equal(r.exitCode, NAGIOS_EXIT[state]);
      assert.ok(r.text.endsWith('\n'));
      const [first = '', ...long] = r.text.trimEnd().split('\n');
      const m = FIRST_LINE.exec(first);
      assert.ok(m, `first line does not follow the plugin syntax: ${first}`);
      assert.equal(m[1], state);
      assert.match(m[2] ?? '', summary);
      assert.equal(m[3], perf);
      for (const line of long) assert.ok(!line.includes('|'), `no "|" in long output: ${line}`);
    });
  }

  it('lists each entry needing action with PIDs, files, packages and the action', () => {
    const r = formatNagios(health({ processes: twoUnits, reasons: [SENTINEL] }), defaults);
    assert.deepEqual(r.text.trimEnd().split('\n').slice(1), [
      'reboot required: /run/reboot-required exists (packages: libc6)',
      `nginx.service (unit): PID 10,11 p10,p11: ${SSL} (libssl3 3.0.15-1~deb12u1); action: systemctl restart nginx.service`,
      `ssh.service (unit): PID 20 p20: ${SSL} (libssl3 3.0.15-1~deb12u1); action: systemctl restart ssh.service`,
    ]);
  });

  it('keeps "|" and control characters out of the output', () => {
    const evil = proc(60, { type: 'system-unit', unit: 'a|b.service' }, [
      ['/tmp/x|y\nz.so', 'code'],
    ]);
    const r = formatNagios(health({ processes: [evil] }), defaults);
    const lines = r.text.trimEnd().split('\n');
    assert.equal(lines.length, 2);
    assert.match(lines[0] ?? '', FIRST_LINE);
    assert.equal(
      lines[1],
      'a\\x7cb.service (unit): PID 60 p60: /tmp/x\\x7cy\\x0az.so (not packaged); action: systemctl restart a\\x7cb.service',
    );
  });

  it('caps the long output and says how many more there are', () => {
    const many = Array.from({ length: 45 }, (_, i) =>
      proc(100 + i, { type: 'system-unit', unit: `s${i}.service` }, [[SSL, 'code']]),
    );
    const r = formatNagios(health({ processes: many }), defaults);
    const lines = r.text.trimEnd().split('\n');
    assert.equal(lines.length, 1 + 30 + 1);
    assert.equal(lines.at(-1), 'and 15 more (afterpatch scan lists them all)');
    assert.match(
      lines[0] ?? '',
      /outdated code in 45 processes: 45 units \(s0\.service, s1\.service, s10\.service \+42\)/,
    );
  });

  it('bounds the output: first line <= 1 KiB, all <= 8 KiB, at 10,000 processes and 255-character names', () => {
    const long = (i: number) => `${'x'.repeat(241)}-${String(i).padStart(5, '0')}.service`;
    const many = Array.from({ length: 10_000 }, (_, i) =>
      proc(1000 + i, { type: 'system-unit', unit: long(i % 500) }, [
        [`/usr/lib/${'d'.repeat(200)}/libssl.so.3`, 'code'],
      ]),
    );
    const reason: RebootReason = {
      type: 'stale-package',
      package: 'dbus',
      files: ['/usr/bin/dbus-daemon'],
      pids: many.map((p) => p.pid),
    };
    const r = formatNagios(health({ processes: many, reasons: [reason] }), defaults);
    const [first = '', ...rest] = r.text.trimEnd().split('\n');
    assert.equal(long(0).length, 255);
    assert.ok(Buffer.byteLength(first) <= MAX_FIRST_LINE_BYTES, `${Buffer.byteLength(first)}`);
    assert.ok(Buffer.byteLength(r.text) <= MAX_OUTPUT_BYTES, `${Buffer.byteLength(r.text)}`);
    assert.match(first, FIRST_LINE);
    assert.match(first, /outdated code in 10000 processes: 500 units \(x+…, x+…, x+… \+497\)/);
    assert.match(rest[0] ?? '', /^reboot required: PID 1000, 1001, .*…$/);
    assert.match(rest.at(-1) ?? '', /^… and \d+ more lines \(afterpatch scan lists them all\)$/);
    assert.equal(r.state, 'WARNING');
  });

  it('mentions restarts that failed earlier and unreadable processes as root', () => {
    const r = formatNagios(health({ failedRestarts: 2, unreadable: 1 }), defaults);
    assert.match(
      r.text,
      /\nnote: 1 of 101 processes could not be read \(access denied even to root\)\n/,
    );
    assert.match(r.text, /\nnote: last restarts not verified: 2 failed \(see afterpatch restart/);
  });

  it('labels every entry type, and counts it in the bucket of src/grouping/owner.ts', () => {
    const owners: Owner[] = [
      NGINX,
      { type: 'system-unit', unit: 'session-x.scope' },
      { type: 'user-unit', uid: 1000, unit: 'pipewire.service', manager: 'user@1000.service' },
      { type: 'user-manager', uid: 1000, unit: 'user@1000.service' },
      SESSION,
      { type: 'session', uid: null, session: '5', unit: 'session-5.scope' },
      { type: 'init' },
      CONTAINER,
      { type: 'vm', hypervisor: 'libvirt', name: 'guest', cgroup: null },
      { type: 'vm', hypervisor: 'qemu', name: 'pid-7', cgroup: null },
      { type: 'unmanaged', cgroup: null },
    ];
    assert.deepEqual(
      owners.map((o) => {
        const l = entryLabel(o);
        return `${l.name}|${l.kind}|${OWNER_KINDS[o.type].bucket}`;
      }),
      [
        'nginx.service|unit|units',
        'session-x.scope|scope|units',
        'pipewire.service|user unit of uid 1000|units',
        'user@1000.service|user manager of uid 1000|units',
        'session-4.scope|session of uid 1000|sessions',
        'session-5.scope|session|sessions',
        // Was "init" in the formatter's own table while check counted PID 1 in `units`.
        'systemd|PID 1|units',
        'abc123|docker container|containers',
        'guest|libvirt guest|vms',
        'pid-7|virtual machine|vms',
        'processes outside any unit|no unit|unmanaged',
      ],
    );
  });

  it('reports an error as UNKNOWN on one line', () => {
    const r = formatNagiosError('cannot list processes in /x (ENOENT)\nsecond line');
    assert.deepEqual(r, {
      state: 'UNKNOWN',
      exitCode: 3,
      text: 'AFTERPATCH UNKNOWN - cannot list processes in /x (ENOENT)\n',
      summary: 'cannot list processes in /x (ENOENT)',
      alerting: [],
    });
  });
});
