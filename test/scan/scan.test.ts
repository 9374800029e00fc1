import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../../harness/cli.ts';
import { partialScanNote, scanExitCode } from '../../src/exit.ts';
import type { ScanReport } from '../../src/scan/scan.ts';
import { scan } from '../../src/scan/scan.ts';
import { makeProcTree, mapsLine } from '../helpers/fakeproc.ts';
import { validateScanJson } from '../helpers/schema.ts';

const libc = mapsLine('/usr/lib/x86_64-linux-gnu/libc.so.6', { addr: 0x7f1000 });
const exe = (p: string) => mapsLine(p, { addr: 0x55e000, inode: 99 });
const stale = (p: string, o: { perms?: string; inode?: number } = {}) =>
  mapsLine(p, { deleted: true, addr: 0x7f2000, ...o });
const DOCKER_ID = 'a'.repeat(64);

const tree = {
  1: {
    name: 'systemd',
    maps: [exe('/usr/lib/systemd/systemd'), libc].join('\n'),
    cgroup: '0::/init.scope\n',
  },
  2: { name: 'kthreadd', maps: '', cgroup: '0::/\n' },
  100: {
    name: 'nginx',
    maps: [exe('/usr/sbin/nginx'), stale('/usr/lib/x86_64-linux-gnu/libssl.so.3'), libc].join('\n'),
    cgroup: '0::/system.slice/nginx.service\n',
    cmdline: ['nginx: master process /usr/sbin/nginx'],
  },
  101: {
    name: 'nginx',
    ppid: 100,
    uid: 33,
    maps: [
      exe('/usr/sbin/nginx'),
      stale('/usr/lib/x86_64-linux-gnu/libssl.so.3'),
      stale('/usr/lib/x86_64-linux-gnu/libssl.so.3', { perms: 'r--p' }),
    ].join('\n'),
    cgroup: '0::/system.slice/nginx.service\n',
  },
  200: {
    name: 'jit',
    maps: [exe('/usr/bin/jit'), stale('/memfd:jit', { perms: 'rwxs' })].join('\n'),
    cgroup: '0::/system.slice/jit.service\n',
  },
  201: {
    name: 'tmplib',
    maps: [exe('/usr/bin/t'), stale('/tmp/libx.so')].join('\n'),
    cgroup: '0::/system.slice/t.service\n',
  },
  300: {
    name: 'localed',
    maps: [exe('/usr/bin/l'), stale('/usr/lib/locale/locale-archive', { perms: 'r--p' })].join(
      '\n',
    ),
    cgroup: '0::/system.slice/localed.service\n',
  },
  400: {
    name: 'smtpd',
    root: '/var/spool/postfix',
    maps: [exe('/usr/lib/postfix/sbin/smtpd'), stale('/lib/x86_64-linux-gnu/libc.so.6')].join('\n'),
    cgroup: '0::/system.slice/postfix@-.service\n',
  },
  500: {
    name: 'app',
    nspid: [500, 1],
    pidNs: 'pid:[4026532001]',
    maps: [exe('/app/bin'), stale('/usr/lib/libssl.so.3')].join('\n'),
    cgroup: `0::/system.slice/docker-${DOCKER_ID}.scope\n`,
  },
  501: {
    name: 'unshared',
    nspid: [501, 7],
    pidNs: 'pid:[4026532002]',
    maps: [exe('/usr/bin/x'), stale('/usr/lib/libz.so.1')].join('\n'),
    cgroup: '0::/system.slice/sandboxer.service\n',
  },
  600: {
    name: 'bash',
    uid: 1000,
    maps: [exe('/usr/bin/bash'), stale('/usr/lib/x86_64-linux-gnu/libtinfo.so.6')].join('\n'),
    cgroup: '0::/user.slice/user-1000.slice/session-4.scope\n',
  },
  601: {
    name: 'pipewire',
    uid: 1000,
    maps: [exe('/usr/bin/pipewire'), stale('/usr/lib/libpipewire.so')].join('\n'),
    cgroup: '0::/user.slice/user-1000.slice/user@1000.service/session.slice/pipewire.service\n',
  },
  700: {
    name: 'odd',
    maps: [exe('/usr/bin/odd'), stale('/opt/my app/lib\nx.so')].join('\n'),
    cgroup: '0::/system.slice/odd.service/helper\n',
  },
  // Listed by readdir but exited before its files were read.
  800: { name: 'gone', cgroup: '0::/system.slice/gone.service\n' },
};

describe('scan on a fixture /proc', () => {
  let fx: ReturnType<typeof makeProcTree>;
  let report: ScanReport;
  before(async () => {
    fx = makeProcTree(tree);
    report = await scan({ procRoot: fx.root, packages: false });
  });
  after(() => fx.cleanup());

  const group = (key: string) => report.groups.find((g) => g.key === key);

  it('reports exactly the processes with stale non-noise files', () => {
    assert.deepEqual(
      report.processes.map((p) => p.pid),
      [100, 101, 300, 400, 500, 501, 600, 601, 700],
    );
    assert.equal(report.summary.scanned, 13, 'PID 800 exited: skipped silently');
    assert.equal(report.summary.unreadable, 0);
  });

  it('groups a unit’s processes and merges code and data mappings of one file', () => {
    const g = group('system-unit:nginx.service');
    assert.deepEqual(g?.pids, [100, 101]);
    assert.equal(g?.severity, 'code');
    assert.deepEqual(
      g?.files.map((f) => [f.path, f.kind]),
      [['/usr/lib/x86_64-linux-gnu/libssl.so.3', 'code']],
    );
    assert.deepEqual(g?.action, {
      kind: 'restart',
      argv: ['systemctl', 'restart', 'nginx.service'],
    });
    assert.deepEqual(report.processes[0]?.cmdline, ['nginx: master process /usr/sbin/nginx']);
  });

  it('keeps deleted data-only mappings apart with a lower severity', () => {
    assert.equal(group('system-unit:localed.service')?.severity, 'data');
    assert.equal(report.summary.dataOnly, 1);
    assert.equal(report.groups.at(-1)?.severity, 'data');
  });

  it('takes a chrooted process’s mapped paths as host paths (the kernel prints them so)', () => {
    // postfix's smtpd maps the host's libc, loaded before its chroot: the package lookup must
    // ask for /lib/…, not /var/spool/postfix/lib/… (test/scan/chroot.test.ts: a real chroot).
    const p = report.processes.find((x) => x.pid === 400);
    assert.equal(p?.root, '/var/spool/postfix');
    assert.equal(p?.files[0]?.path, '/lib/x86_64-linux-gnu/libc.so.6');
    assert.equal(p?.files[0]?.hostPath, '/lib/x86_64-linux-gnu/libc.so.6');
    assert.deepEqual(p?.owner, { type: 'system-unit', unit: 'postfix@-.service' });
  });

  it('classifies containers by cgroup and by PID namespace, never as the host’s service', () => {
    const docker = report.processes.find((x) => x.pid === 500);
    assert.equal(docker?.owner.type, 'container');
    assert.equal(docker?.owner.type === 'container' && docker.owner.runtime, 'docker');
    assert.equal(docker?.files[0]?.hostPath, null);
    const unshared = report.processes.find((x) => x.pid === 501);
    assert.equal(unshared?.foreignPidNs, true);
    assert.equal(unshared?.owner.type, 'container');
    assert.equal(report.summary.containers, 2);
  });

  it('attributes sessions, user units and sub-cgroups', () => {
    assert.equal(group('session:4')?.owner.type, 'session');
    assert.deepEqual(group('user-unit:1000:pipewire.service')?.action, {
      kind: 'restart',
      argv: ['systemctl', '--user', '-M', '1000@', 'restart', 'pipewire.service'],
    });
    assert.deepEqual(
      group('system-unit:odd.service')?.files.map((f) => f.path),
      ['/opt/my app/lib\nx.so'],
    );
  });

  it('exits 1 when stale code is found', () => assert.equal(scanExitCode(report), 1));

  it('exits 3, not 0, when nothing is stale but processes were unreadable without root', () => {
    const clean = { groups: [], asRoot: false, summary: { unreadable: 4, scanned: 60 } };
    assert.equal(scanExitCode(clean), 3);
    assert.match(partialScanNote(clean) ?? '', /^afterpatch: 4 of 64 processes could not be read/);
    // Stale code found is stale code found, whatever was unreadable.
    assert.equal(scanExitCode({ ...clean, groups: report.groups }), 1);
    // As root, a process even root cannot read is a counted note (docs/cli.md).
    assert.equal(scanExitCode({ ...clean, asRoot: true }), 0);
    assert.equal(partialScanNote({ ...clean, asRoot: true }), null);
    assert.equal(scanExitCode({ ...clean, summary: { unreadable: 0 } }), 0);
  });

  it('with advisories: 1 when the host is not clean for one (unpatched, restart-, reboot-needed, image-vulnerable), 3 when unknown', () => {
    const root = { groups: [], asRoot: true, summary: { unreadable: 0 } };
    for (const verdict of [
      'unpatched',
      'reboot-needed',
      'restart-needed',
      'image-vulnerable',
    ] as const)
      assert.equal(scanExitCode({ ...root, advisories: { verdict } }), 1, verdict);
    assert.equal(scanExitCode({ ...root, advisories: { verdict: 'unknown' } }), 3);
    assert.equal(scanExitCode({ ...root, advisories: { verdict: 'clean' } }), 0);
    assert.equal(
      scanExitCode({ ...root, groups: report.groups, advisories: { verdict: 'clean' } }),
      1,
    );
    assert.equal(
      partialScanNote({
        ...root,
        summary: { unreadable: 1, scanned: 9 },
        advisories: { verdict: 'unknown' },
      }),
      null,
    );
  });

  it('shows what the noise rules filtered when asked', async () => {
    const all = await scan({ procRoot: fx.root, packages: false, includeIgnored: true });
    const ignored = all.processes
      .filter((p) => p.files.length === 0)
      .map((p) => [p.pid, p.ignored[0]?.rule]);
    assert.deepEqual(ignored, [
      [200, 'memfd'],
      [201, 'tmp'],
    ]);
    assert.equal(all.groups.length, report.groups.length);
  });

  it('lets a noise rule be switched off', async () => {
    const r = await scan({ procRoot: fx.root, packages: false, noise: { disabled: ['tmp'] } });
    assert.ok(r.processes.some((p) => p.pid === 201));
  });

  it('filters by library, unit glob and PID', async () => {
    const lib = await scan({ procRoot: fx.root, packages: false, filters: { lib: 'libssl' } });
    assert.deepEqual(
      lib.processes.map((p) => p.pid),
      [100, 101, 500],
    );
    const unit = await scan({
      procRoot: fx.root,
      packages: false,
      filters: { units: ['ngin*.service', 'odd.*'] },
    });
    assert.deepEqual(
      unit.processes.map((p) => p.pid),
      [100, 101, 700],
    );
    const pid = await scan({ procRoot: fx.root, packages: false, filters: { pids: [300] } });
    assert.deepEqual(
      pid.processes.map((p) => p.pid),
      [300],
    );
    assert.equal(scanExitCode(pid), 0);
    // A PID that does not exist is not "clean" (was: 999 left out, the rest exit 0).
    await assert.rejects(
      scan({ procRoot: fx.root, packages: false, filters: { pids: [300, 999] } }),
      (e: Error) =>
        e.name === 'UserError' &&
        /^no process with PID 999 in .*: it does not exist/.test(e.message),
    );
  });

  it('gives the same result with worker threads', async () => {
    const threaded = await scan({ procRoot: fx.root, packages: false, threads: 2 });
    assert.deepEqual(threaded.processes, report.processes);
  });

  it('refuses a thread count far above the CPUs with a one-line error', async () => {
    await assert.rejects(
      scan({ procRoot: fx.root, packages: false, threads: 99999 }),
      (e: Error) => e.name === 'UserError' && /at most \d+ threads/.test(e.message),
    );
    const cli = await runCli(['scan', '--threads', '99999', '--proc-root', fx.root]);
    assert.equal(cli.code, 2);
    assert.match(cli.stderr, /at most \d+ threads \(\d+ CPUs × 4\), not 99999/);
    assert.equal(cli.stdout, '');
  });
});

describe('a process mapping more distinct deleted files than are kept', () => {
  const many = (n: number, dir: string, from: number) =>
    Array.from({ length: n }, (_, i) =>
      mapsLine(`${dir}/lib${i}.so`, { deleted: true, inode: from + i, addr: 0x7f0000 + 2 * i }),
    );
  let fx: ReturnType<typeof makeProcTree>;
  before(() => {
    fx = makeProcTree({
      1: { name: 'systemd', maps: exe('/usr/lib/systemd/systemd'), cgroup: '0::/init.scope\n' },
      // 300 distinct stale libraries, each mapped twice.
      300: {
        name: 'many',
        maps: [...many(300, '/usr/lib', 1000), ...many(300, '/usr/lib', 1000)].join('\n'),
      },
      // Noise first (300 files under /tmp), then one real stale library.
      301: {
        name: 'hides',
        maps: [...many(300, '/tmp', 5000), stale('/usr/lib/x86_64-linux-gnu/libssl.so.3')].join(
          '\n',
        ),
      },
    });
  });
  after(() => fx.cleanup());

  it('keeps a bounded number, counts the rest, and says so', async () => {
    const r = await scan({ procRoot: fx.root, packages: false });
    const p = r.processes.find((x) => x.pid === 300);
    assert.equal(p?.files.length, 256);
    assert.equal(p?.omittedMappings, 300 * 2 - 256);
    assert.ok(
      r.warnings.some((w) =>
        /2 processes map more than 256 .*388 deleted mappings .*\(PID 300, 301\)/.test(w),
      ),
      r.warnings.join(),
    );
    assert.equal(scanExitCode(r), 1);
  });

  it('carries the count in the JSON document (schema) and a note in the text', async () => {
    const json = await runCli(['scan', '--json', '--no-packages', '--proc-root', fx.root]);
    assert.equal(json.code, 1, json.stderr);
    const doc = JSON.parse(json.stdout) as {
      processes: { pid: number; omittedMappings?: number }[];
    };
    validateScanJson(doc);
    assert.equal(doc.processes.find((p) => p.pid === 300)?.omittedMappings, 344);
    const text = await runCli(['scan', '--no-packages', '--proc-root', fx.root]);
    assert.match(text.stdout, /warning: 2 processes map more than 256 distinct deleted files/);
  });

  it('never lets noise hide the stale code behind it', async () => {
    const r = await scan({ procRoot: fx.root, packages: false });
    const p = r.processes.find((x) => x.pid === 301);
    assert.deepEqual(
      p?.files.map((f) => f.path),
      ['/usr/lib/x86_64-linux-gnu/libssl.so.3'],
    );
    assert.equal(p?.omittedMappings, 300 - 256);
  });
});

describe('the " (deleted)" name check when it cannot look', () => {
  let fx: ReturnType<typeof makeProcTree>;
  before(() => {
    fx = makeProcTree({
      1: { name: 'systemd', maps: exe('/usr/lib/systemd/systemd'), cgroup: '0::/init.scope\n' },
      // Its root is a regular file: every lookup below it fails with ENOTDIR.
      400: {
        name: 'odd',
        maps: stale('/usr/lib/x86_64-linux-gnu/libssl.so.3'),
        root: process.execPath,
      },
    });
  });
  after(() => fx.cleanup());

  it('keeps the file stale instead of failing the scan', async () => {
    const r = await scan({ procRoot: fx.root, packages: false });
    assert.deepEqual(
      r.processes.find((p) => p.pid === 400)?.files.map((f) => f.path),
      ['/usr/lib/x86_64-linux-gnu/libssl.so.3'],
    );
  });
});
