// `afterpatch metrics` (the built CLI, in-process: harness/cli.ts) and `afterpatch serve` (a real
// child process: it runs until a signal) over a fake /proc:
// values, the textfile collector file (atomic, never half-written), errors (exit 2, one line),
// `promtool check metrics` on both outputs, and SIGTERM → exit 0.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../../harness/cli.ts';
import { ownPtraceCapability } from '../../src/scan/coverage.ts';
import { FAKE_INIT, makeProcTree, mapsLine } from '../helpers/fakeproc.ts';
import { promtool, promtoolCheckMetrics, startServe } from '../helpers/serve.ts';

const noPromtool = promtool() ? false : 'promtool not installed (Debian package prometheus)';
const metric = (body: string, name: string) =>
  new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} (\\S+)$`, 'm').exec(body)?.[1];

describe('afterpatch metrics / serve (CLI)', () => {
  let fx: ReturnType<typeof makeProcTree>;
  let work: string;
  let fsroot: string;
  let stateDir: string;
  before(() => {
    fx = makeProcTree({
      1: FAKE_INIT,
      10: {
        name: 'nginx',
        maps: [
          mapsLine('/usr/sbin/nginx'),
          mapsLine('/usr/lib/x86_64-linux-gnu/libssl.so.3', { deleted: true, addr: 0x7f5000 }),
        ].join('\n'),
        cgroup: '0::/system.slice/nginx.service\n',
      },
      11: {
        name: 'bash',
        uid: 1000,
        maps: mapsLine('/usr/lib/x86_64-linux-gnu/libc.so.6', { deleted: true }),
        cgroup: '0::/user.slice/user-1000.slice/session-4.scope\n',
      },
    });
    chmodSync(fx.root, 0o755);
    work = mkdtempSync(join(tmpdir(), 'afterpatch-metrics-'));
    chmodSync(work, 0o755);
    fsroot = join(work, 'fsroot');
    mkdirSync(join(fsroot, 'run'), { recursive: true });
    stateDir = join(work, 'state');
    mkdirSync(stateDir);
    const rec = (outcome: string) => ({
      time: new Date().toISOString(),
      action: 'restart',
      outcome,
      files: [],
    });
    writeFileSync(
      join(stateDir, 'state.json'),
      JSON.stringify({
        version: 1,
        units: { 'a.service': rec('verified'), 'b.service': rec('failed') },
      }),
    );
  });
  after(() => {
    fx.cleanup();
    rmSync(work, { recursive: true, force: true });
  });
  const common = () => ['--proc-root', fx.root, '--root', fsroot, '--state-dir', stateDir];

  it('a corrupt restart state is exported as afterpatch_restart_state_error 1, not as 0 outcomes', async () => {
    const bad = join(work, 'bad-state');
    mkdirSync(bad, { recursive: true });
    writeFileSync(join(bad, 'state.json'), '{"version": 2, "units": {}}');
    const r = await runCli(['metrics', ...common().slice(0, 4), '--state-dir', bad]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(metric(r.stdout, 'afterpatch_restart_state_error'), '1');
    assert.equal(metric(r.stdout, 'afterpatch_restart_results{outcome="verified"}'), undefined);
    assert.match(
      r.stderr,
      /^afterpatch: .*state\.json is not a state file.*afterpatch_restart_state_error 1\)\n$/,
    );
  });

  it('--lib and --unit narrow the counts like on scan; --help says each default once', async () => {
    const r = await runCli(['metrics', ...common(), '--lib', 'libc\\.so']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(metric(r.stdout, 'afterpatch_outdated_processes'), '1');
    assert.equal(metric(r.stdout, 'afterpatch_units_needing_restart'), '0');
    assert.equal(metric(r.stdout, 'afterpatch_sessions_outdated'), '1');
    const unit = await runCli(['metrics', ...common(), '--unit', 'nginx.service']);
    assert.equal(metric(unit.stdout, 'afterpatch_outdated_processes'), '1');
    assert.equal(metric(unit.stdout, 'afterpatch_sessions_outdated'), '0');
    const help = await runCli(['serve', '--help']);
    assert.doesNotMatch(help.stdout, /\(default 60\)[\s\S]*\(default: 60\)/);
    assert.equal(help.stdout.match(/default:? 60/g)?.length, 1, help.stdout);
  });

  it('afterpatch_scan_partial is 1 when processes could not be read, without root or for a refused file (was: zeros only)', async () => {
    // 20: a stale service; 21: maps readable by root only; 22: a FIFO where maps should be
    // (refused, so unreadable even to root: no denial, the scan is partial as root too).
    const tree = makeProcTree({
      1: FAKE_INIT,
      20: {
        name: 'nginx',
        maps: mapsLine('/usr/lib/libssl.so.3', { deleted: true }),
        cgroup: '0::/system.slice/nginx.service\n',
      },
      21: { name: 'secret', maps: mapsLine('/usr/lib/libssl.so.3', { deleted: true }) },
      22: { name: 'odd' },
    });
    try {
      chmodSync(tree.root, 0o755);
      chmodSync(join(tree.root, '21', 'maps'), 0o600);
      execFileSync('mkfifo', [join(tree.root, '22', 'maps')]);
      const args = ['metrics', '--proc-root', tree.root, '--root', fsroot, '--state-dir', stateDir];
      // As root with CAP_SYS_PTRACE (a container that dropped it would make the FIFO a gap).
      if (process.getuid?.() === 0 && ownPtraceCapability()) {
        const root = await runCli(args);
        assert.equal(root.code, 0, root.stderr);
        assert.equal(metric(root.stdout, 'afterpatch_unreadable_processes'), '1');
        assert.equal(metric(root.stdout, 'afterpatch_scan_partial'), '1');
      }
      if (process.getuid?.() !== 0) return; // needs another uid to be denied
      const nobody = await runCli(args, { uid: 65534, gid: 65534 });
      assert.equal(nobody.code, 0, nobody.stderr);
      assert.equal(metric(nobody.stdout, 'afterpatch_unreadable_processes'), '2');
      assert.equal(metric(nobody.stdout, 'afterpatch_scan_partial'), '1');
      // What made the zeros look clean: nginx is seen, the process behind the denied maps is not.
      assert.equal(metric(nobody.stdout, 'afterpatch_outdated_processes'), '1');
    } finally {
      tree.cleanup();
    }
  });

  it('prints the exposition on stdout with the scan, reboot and restart numbers', async () => {
    const r = await runCli(['metrics', ...common()]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.equal(metric(r.stdout, 'afterpatch_outdated_processes'), '2');
    assert.equal(metric(r.stdout, 'afterpatch_units_needing_restart'), '1');
    assert.equal(
      metric(r.stdout, 'afterpatch_unit_needs_restart{unit="nginx.service",type="system-unit"}'),
      '1',
    );
    assert.equal(metric(r.stdout, 'afterpatch_sessions_outdated'), '1');
    assert.equal(metric(r.stdout, 'afterpatch_reboot_required'), '0');
    assert.equal(metric(r.stdout, 'node_reboot_required'), '0');
    assert.equal(metric(r.stdout, 'afterpatch_restart_results{outcome="verified"}'), '1');
    assert.equal(metric(r.stdout, 'afterpatch_restart_results{outcome="failed"}'), '1');
    assert.equal(metric(r.stdout, 'afterpatch_scan_errors_total'), '0');
    const ts = Number(metric(r.stdout, 'afterpatch_last_scan_timestamp_seconds'));
    assert.ok(Math.abs(ts - Date.now() / 1000) < 60, String(ts));
    const off = await runCli([
      'metrics',
      ...common(),
      '--no-node-reboot-required',
      '--max-unit-series',
      '0',
    ]);
    assert.ok(!off.stdout.includes('node_reboot_required'));
    assert.equal(
      metric(off.stdout, 'afterpatch_unit_needs_restart{unit="(other)",type="aggregated"}'),
      '1',
    );
  });

  it('passes promtool check metrics (stdout)', { skip: noPromtool }, async () => {
    const r = await runCli(['metrics', ...common()]);
    const check = await promtoolCheckMetrics(r.stdout);
    assert.deepEqual(check, { code: 0, out: '' });
  });

  it('--textfile writes DIR/afterpatch.prom atomically and leaves nothing else', async () => {
    const dir = join(work, 'textfile');
    mkdirSync(dir);
    writeFileSync(join(dir, 'afterpatch.prom'), 'old\n');
    const r = await runCli(['metrics', ...common(), '--textfile', dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '');
    assert.deepEqual(readdirSync(dir), ['afterpatch.prom']);
    const text = readFileSync(join(dir, 'afterpatch.prom'), 'utf8');
    assert.equal(metric(text, 'afterpatch_units_needing_restart'), '1');
    assert.match(text, /\n$/);
  });

  it('a missing, non-directory or unwritable --textfile: exit 2, one line, old file intact', async () => {
    const missing = await runCli(['metrics', ...common(), '--textfile', join(work, 'nope')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /^afterpatch: --textfile .*nope: no such directory.*\n$/);
    assert.equal(missing.stderr.split('\n').length, 2);
    const file = join(work, 'plainfile');
    writeFileSync(file, '');
    const notDir = await runCli(['metrics', ...common(), '--textfile', file]);
    assert.equal(notDir.code, 2);
    assert.match(notDir.stderr, /^afterpatch: --textfile .*: not a directory\.\n$/);
    assert.equal(notDir.stdout, '');

    if (process.getuid?.() !== 0) return; // needs another uid to be denied
    const ro = join(work, 'readonly');
    mkdirSync(ro, { mode: 0o755 });
    writeFileSync(join(ro, 'afterpatch.prom'), 'previous\n');
    const denied = await runCli(['metrics', ...common(), '--textfile', ro], {
      uid: 65534,
      gid: 65534,
    });
    assert.equal(denied.code, 2, denied.stderr);
    assert.match(
      denied.stderr,
      /^afterpatch: cannot write .*afterpatch\.prom \(EACCES\); the previous file is unchanged\.\n$/,
    );
    assert.deepEqual(readdirSync(ro), ['afterpatch.prom']);
    assert.equal(readFileSync(join(ro, 'afterpatch.prom'), 'utf8'), 'previous\n');
  });

  it('a failed scan still exports afterpatch_scan_errors_total 1 and exits 2', async () => {
    const r = await runCli(['metrics', '--proc-root', join(work, 'noproc'), '--root', fsroot]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^afterpatch: scan failed: .*\n$/);
    assert.equal(metric(r.stdout, 'afterpatch_scan_errors_total'), '1');
    assert.equal(metric(r.stdout, 'afterpatch_last_scan_success'), '0');
    assert.equal(metric(r.stdout, 'afterpatch_units_needing_restart'), undefined);
  });

  it('serve: GET /metrics passes promtool, 404/405 elsewhere, SIGTERM exits 0', async () => {
    const s = await startServe([...common(), '--interval', '60']);
    try {
      const res = await fetch(s.url);
      assert.equal(res.status, 200);
      const body = await res.text();
      assert.equal(metric(body, 'afterpatch_units_needing_restart'), '1');
      if (!noPromtool) assert.deepEqual(await promtoolCheckMetrics(body), { code: 0, out: '' });
      assert.equal(await (await fetch(s.url)).text(), body, 'cached within the interval');
      assert.equal((await fetch(s.url.replace('/metrics', '/'))).status, 404);
      assert.equal((await fetch(s.url, { method: 'POST' })).status, 405);
    } finally {
      assert.equal(await s.stop(), 0, s.stderr());
    }
    assert.match(s.stderr(), /SIGTERM, stopping/);
  });

  it('serve: a scan error is logged and exported, the server keeps running', async () => {
    const s = await startServe([
      '--proc-root',
      join(work, 'noproc'),
      '--root',
      fsroot,
      '--interval',
      '0.1',
    ]);
    try {
      const body = await (await fetch(s.url)).text();
      assert.equal(metric(body, 'afterpatch_scan_errors_total'), '1');
      await new Promise((r) => setTimeout(r, 150));
      const again = await (await fetch(s.url)).text();
      assert.equal(metric(again, 'afterpatch_scan_errors_total'), '2');
      assert.match(s.stderr(), /afterpatch: scan failed: /);
    } finally {
      assert.equal(await s.stop(), 0);
    }
  });

  it('serve: bad --listen, or an address in use: exit 2 with one line', async () => {
    const bad = await runCli(['serve', '--listen', '127.0.0.1']);
    assert.equal(bad.code, 2);
    assert.match(
      bad.stderr,
      /^afterpatch: --listen "127\.0\.0\.1": not an address with a port .*\n$/,
    );
    const missing = await runCli(['serve']);
    assert.equal(missing.code, 2);
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as { port: number }).port;
    try {
      const busy = await runCli(['serve', '--listen', `127.0.0.1:${port}`, ...common()]);
      assert.equal(busy.code, 2);
      assert.match(
        busy.stderr,
        /^afterpatch: cannot listen on 127\.0\.0\.1:\d+ \(EADDRINUSE\)\.\n$/,
      );
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  });
});
