// `afterpatch check`, the built CLI (harness/cli.ts), against fake /proc trees.
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../../harness/cli.ts';
import {
  FAKE_INIT,
  FAKE_STALE_SSHD,
  type FakeProcess,
  makeProcTree,
  mapsLine,
} from '../helpers/fakeproc.ts';
import { ERROR_LINE, FIRST_LINE } from '../helpers/nagios.ts';

const isRoot = process.geteuid?.() === 0;

/** `check` against a fixture: its /proc, file system root and state directory. */
const checkArgs = (procRoot: string, root: string, stateDir: string, ...a: string[]) => [
  'check',
  '--proc-root',
  procRoot,
  '--root',
  root,
  '--state-dir',
  stateDir,
  ...a,
];
const NOBODY = 65534;

describe('afterpatch check', () => {
  let fx: ReturnType<typeof makeProcTree>;
  let root: string;
  let stateDir: string;
  before(() => {
    fx = makeProcTree({
      1: FAKE_INIT,
      10: FAKE_STALE_SSHD,
      20: {
        name: 'cron',
        maps: [
          mapsLine('/usr/sbin/cron'),
          mapsLine('/usr/lib/libcrypto.so.3', { deleted: true, addr: 0x7f5000 }),
        ].join('\n'),
        cgroup: '0::/system.slice/cron.service\n',
        uid: 0,
      },
    });
    mkdirSync(join(fx.root, 'sys/kernel'), { recursive: true });
    writeFileSync(join(fx.root, 'sys/kernel/osrelease'), '6.1.0-28-amd64\n');
    writeFileSync(join(fx.root, 'sys/kernel/version'), '#1 SMP PREEMPT_DYNAMIC Debian 6.1.119-1\n');
    root = join(fx.root, 'fsroot');
    stateDir = join(fx.root, 'state');
    mkdirSync(join(root, 'run'), { recursive: true });
    mkdirSync(stateDir);
    // Another user may read the tree (for the run as nobody), except cron's maps.
    chmodSync(fx.root, 0o755);
    chmodSync(join(fx.root, '20/maps'), 0o000);
  });
  after(() => fx.cleanup());
  const args = (...a: string[]) => checkArgs(fx.root, root, stateDir, ...a);
  const parse = (stdout: string) => {
    const [first = '', ...long] = stdout.trimEnd().split('\n');
    const m = FIRST_LINE.exec(first);
    assert.ok(m, `not plugin output: ${JSON.stringify(stdout)}`);
    return { state: m[1], summary: m[2] ?? '', perf: m[3] ?? '', long };
  };

  it('documents states, ranges and exit status in --help', async () => {
    const r = await runCli(['check', '--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /Exit status: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN/);
    assert.match(r.stdout, /--reboot-state <state>/);
    assert.doesNotMatch(r.stdout, /--proc-root/);
  });

  it('WARNING (exit 1) when a unit needs a restart, with one line per unit', async () => {
    const r = await runCli(args());
    assert.equal(r.code, 1, r.stderr);
    const out = parse(r.stdout);
    assert.equal(out.state, 'WARNING');
    assert.equal(
      out.summary,
      'outdated code in 2 processes: 2 units (cron.service, ssh.service); no reboot required',
    );
    assert.equal(
      out.perf,
      "'processes'=2;;;0 'units'=2;0;;0 'sessions'=0;0;;0 'containers'=0;0;;0 'vms'=0;0;;0 'unmanaged'=0;0;;0 'reboot'=0;;;0;1 'unreadable'=0;;;0",
    );
    assert.ok(
      out.long.includes(
        'ssh.service (unit): PID 10 sshd: /usr/lib/libcrypto.so.3 (not packaged); action: systemctl restart ssh.service',
      ),
      out.long.join('\n'),
    );
  });

  it('CRITICAL (exit 2) past -c, OK (exit 0) within -w', async () => {
    const crit = await runCli(args('-w', '0', '-c', '1'));
    assert.equal(crit.code, 2, crit.stderr);
    assert.equal(parse(crit.stdout).state, 'CRITICAL');
    assert.match(parse(crit.stdout).perf, /'units'=2;0;1;0/);
    const ok = await runCli(args('--metric', 'processes', '--warning', '5', '--critical', '10:'));
    // 2 processes: inside 0..5 (no warning) but below 10 (critical for "10:").
    assert.equal(ok.code, 2);
    const fine = await runCli(args('--metric', 'processes', '-w', '~:2', '-c', '@5:9'));
    assert.equal(fine.code, 0, fine.stdout);
    assert.equal(parse(fine.stdout).state, 'OK');
    assert.match(parse(fine.stdout).perf, /^'processes'=2;~:2;@5:9;0 'units'=2;;;0 /);
  });

  it('OK (exit 0) when the configuration ignores the stale processes', async () => {
    const cfg = join(fx.root, 'ignore.toml');
    writeFileSync(cfg, '[scan]\nignore_processes = ["^sshd$", "^cron$"]\n');
    const r = await runCli(args('--config', cfg));
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const out = parse(r.stdout);
    assert.equal(out.state, 'OK');
    assert.match(out.summary, /^no process runs outdated code \(3 scanned\); no reboot required$/);
  });

  it('reboot required: WARNING by default, as --reboot-state says otherwise', async () => {
    const cfg = join(fx.root, 'ignore.toml');
    writeFileSync(join(root, 'run/reboot-required'), '*** System restart required ***\n');
    writeFileSync(join(root, 'run/reboot-required.pkgs'), 'libc6\n');
    try {
      const w = await runCli(args('--config', cfg));
      assert.equal(w.code, 1, w.stdout);
      const out = parse(w.stdout);
      assert.equal(out.state, 'WARNING');
      assert.match(out.perf, /'reboot'=1;;;0;1/);
      assert.match(
        out.long[0] ?? '',
        /^reboot required: .*reboot-required exists \(packages: libc6\)$/,
      );
      const c = await runCli(args('--config', cfg, '--reboot-state', 'critical'));
      assert.deepEqual([c.code, parse(c.stdout).state], [2, 'CRITICAL']);
      const o = await runCli(args('--config', cfg, '--reboot-state', 'ok'));
      assert.deepEqual([o.code, parse(o.stdout).state], [0, 'OK']);
    } finally {
      writeFileSync(join(root, 'run/reboot-required'), '');
      const { rmSync } = await import('node:fs');
      rmSync(join(root, 'run/reboot-required'));
      rmSync(join(root, 'run/reboot-required.pkgs'));
    }
  });

  it('UNKNOWN (exit 3) without root when processes are unreadable, still listing what it found', {
    skip: isRoot ? false : 'needs root to run the check as another user',
  }, async () => {
    const r = await runCli(args(), { uid: NOBODY, gid: NOBODY });
    assert.equal(r.code, 3, r.stdout + r.stderr);
    const out = parse(r.stdout);
    assert.equal(out.state, 'UNKNOWN');
    assert.match(
      out.summary,
      /^cannot read 1 of 3 processes: run as root to see all; found so far: outdated code in 1 process: 1 unit \(ssh\.service\)/,
    );
    assert.match(out.perf, /'unreadable'=1;;;0/);
    assert.ok(out.long.some((l) => l.startsWith('ssh.service (unit): PID 10 sshd')));
  });

  it('as root, unreadable processes (PID 1 in a sandbox) do not make it UNKNOWN', {
    skip: isRoot ? false : 'needs root',
  }, async () => {
    // Against the real /proc: the state depends on the machine, but never UNKNOWN for that.
    const r = await runCli(['check', '--state-dir', stateDir, '-w', '~:', '--reboot-state', 'ok']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(parse(r.stdout).state, 'OK');
  });

  const bad: [string, string[], RegExp][] = [
    ['a bad range', ['-w', '5:2'], /start 5 is greater than end 2/],
    ['a range that is not a number', ['-c', 'lots'], /"lots" is not a number/],
    [
      'a bad metric',
      ['--metric', 'files'],
      /Allowed choices are any, processes, units, unmanaged, sessions, containers/,
    ],
    ['a bad bucket to ignore', ['--ignore', 'files'], /Allowed choices are units, unmanaged/],
    ['a bad --lib', ['--lib', '(['], /--lib "\(\[" is not a valid regular expression/],
    [
      'a bad reboot state',
      ['--reboot-state', 'panic'],
      /Allowed choices are ok, warning, critical/,
    ],
    ['an unknown option', ['--bogus'], /unknown option '--bogus'/],
    [
      'a missing configuration file',
      ['--config', '/nonexistent/afterpatch.toml'],
      /cannot read configuration/,
    ],
  ];
  for (const [what, extra, message] of bad) {
    it(`UNKNOWN (exit 3) on ${what}, with a plugin line on stdout`, async () => {
      const r = await runCli(args(...extra));
      assert.equal(r.code, 3, r.stdout + r.stderr);
      assert.match(r.stdout, ERROR_LINE);
      assert.match(r.stdout, message);
      assert.match(r.stderr, message);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    });
  }

  it('UNKNOWN (exit 3) when /proc cannot be read', async () => {
    const r = await runCli(['check', '--proc-root', join(fx.root, 'no-such-dir'), '--root', root]);
    assert.equal(r.code, 3, r.stdout + r.stderr);
    assert.match(
      r.stdout,
      /^AFTERPATCH UNKNOWN - cannot list processes in .*no-such-dir \(ENOENT\)/,
    );
  });

  it('--lib and --package narrow the stale code like on scan; reboot reasons stay', async () => {
    const ssl = await runCli(args('--lib', 'libssl'));
    assert.equal(ssl.code, 0, ssl.stdout + ssl.stderr);
    assert.match(parse(ssl.stdout).summary, /^no process runs outdated code/);
    const crypto = await runCli(args('--lib', 'libcrypto', '--unit', 'ssh.service'));
    assert.equal(crypto.code, 1, crypto.stdout);
    assert.match(
      parse(crypto.stdout).summary,
      /^outdated code in 1 process: 1 unit \(ssh\.service\)/,
    );
    // The fixture's files are not packaged: no package matches.
    const pkg = await runCli(args('--package', 'libssl3'));
    assert.equal(pkg.code, 0, pkg.stdout);
  });

  it('--json gives the whole health snapshot of one scan, with the plugin exit status', async () => {
    const r = await runCli(args('--json'));
    assert.equal(r.code, 1, r.stderr);
    const doc = JSON.parse(r.stdout);
    assert.equal(doc.format, 'afterpatch-health');
    assert.equal(doc.formatVersion, 1);
    assert.equal(doc.state, 'WARNING');
    assert.equal(doc.exitCode, 1);
    assert.deepEqual(doc.alerting, ['units']);
    assert.equal(doc.counts.units, 2);
    assert.equal(doc.scan.format, 'afterpatch-scan');
    assert.equal(doc.scan.entries.length, 2);
    assert.equal(doc.reboot.required, false);
    assert.equal(doc.restart.error, null);
    assert.equal(typeof doc.hostname, 'string');
    const same = await runCli(args('--format', 'json'));
    assert.equal(JSON.parse(same.stdout).format, 'afterpatch-health');
  });

  it('UNKNOWN (exit 3) when the restart state is corrupt, never "0 failed restarts"', async () => {
    const bad = join(fx.root, 'bad-state');
    mkdirSync(bad, { recursive: true });
    writeFileSync(join(bad, 'state.json'), '{"version": 2, "units": {}}');
    const r = await runCli([...args('--state-dir', bad)]);
    assert.equal(r.code, 3, r.stdout + r.stderr);
    const out = parse(r.stdout);
    assert.equal(out.state, 'UNKNOWN');
    assert.match(out.summary, /^cannot read the restart state \(.*state\.json is not a state file/);
    const json = JSON.parse((await runCli([...args('--state-dir', bad, '--json')])).stdout);
    assert.match(json.restart.error, /is not a state file/);
  });
});

describe('afterpatch check: every bucket counts', () => {
  let fx: ReturnType<typeof makeProcTree>;
  let root: string;
  const stale: FakeProcess = {
    name: 'worker',
    maps: mapsLine('/usr/lib/libssl.so.3', { deleted: true }),
    // Outside any unit: a host without systemd, cron or supervisord children.
    cgroup: '0::/\n',
  };
  before(() => {
    const procs: Record<number, FakeProcess> = {
      1: { name: 'init', maps: mapsLine('/sbin/init'), cgroup: '0::/\n' },
    };
    for (let pid = 100; pid < 112; pid++) procs[pid] = stale;
    fx = makeProcTree(procs);
    root = join(fx.root, 'fsroot');
    mkdirSync(join(root, 'run'), { recursive: true });
  });
  after(() => fx.cleanup());
  const args = (...a: string[]) => checkArgs(fx.root, root, join(fx.root, 'state'), ...a);

  it('WARNING (exit 1) when the only stale processes are outside any unit; OK once they are gone', async () => {
    const r = await runCli(args());
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(
      r.stdout,
      /^AFTERPATCH WARNING - outdated code in 12 processes: 12 processes outside any unit; no reboot required \| .*'unmanaged'=12;0;;0/,
    );
    // An explicit --metric units (an old Icinga/Sensu configuration) does not hide them ...
    const units = await runCli(args('--metric', 'units', '-w', '0'));
    assert.equal(units.code, 1, units.stdout);
    // ... unless the operator opts out of the bucket explicitly.
    const ignored = await runCli(args('--metric', 'units', '--ignore', 'unmanaged'));
    assert.equal(ignored.code, 0, ignored.stdout);
    assert.match(ignored.stdout, /12 processes outside any unit \(ignored\)/);
    for (let pid = 100; pid < 112; pid++) rmSync(join(fx.root, String(pid)), { recursive: true });
    const gone = await runCli(args());
    assert.equal(gone.code, 0, gone.stdout);
    assert.match(gone.stdout, /^AFTERPATCH OK - no process runs outdated code/);
  });
});

describe('afterpatch check: bounded output', () => {
  let fx: ReturnType<typeof makeProcTree>;
  before(() => {
    // 2,000 stale processes, half of them in 100 units with 255-character names, half outside
    // any unit: unbounded, the units alone would take 26 KB (10,000 processes prove no more and
    // cost 110,000 fixture files).
    const procs: Record<number, FakeProcess> = { 1: FAKE_INIT };
    for (let i = 0; i < 2_000; i++) {
      const unit = `${'u'.repeat(241)}-${String(i % 200).padStart(5, '0')}.service`;
      procs[100 + i] = {
        name: 'svc',
        maps: mapsLine('/usr/lib/libssl.so.3', { deleted: true }),
        cgroup: i % 2 ? '0::/\n' : `0::/system.slice/${unit}\n`,
      };
    }
    // 22,000 files (on tmpfs when there is one: makeProcTree's default).
    fx = makeProcTree(procs);
  });
  after(() => fx.cleanup());

  it('keeps the first line within 1 KiB and everything within 8 KiB at 2,000 processes', async () => {
    const r = await runCli(checkArgs(fx.root, join(fx.root, 'none'), join(fx.root, 'state')));
    assert.equal(r.code, 1, r.stderr);
    const first = r.stdout.split('\n')[0] ?? '';
    assert.ok(Buffer.byteLength(first) <= 1024, `first line: ${Buffer.byteLength(first)} bytes`);
    assert.ok(Buffer.byteLength(r.stdout) <= 8192, `output: ${Buffer.byteLength(r.stdout)} bytes`);
    assert.match(first, FIRST_LINE);
    assert.match(
      first,
      /outdated code in 2000 processes: 100 units \(u+…, u+…, u+… \+97\), 1000 processes outside any unit/,
    );
    assert.match(r.stdout, /\n(… )?and \d+ more( lines)? \(afterpatch scan lists them all\)\n$/);
  });
});
