// `afterpatch restart` against a real systemd (the sandbox harness, docs/testing-systemd-sandbox.md).
//
// Every test boots its own sandbox and runs the built CLI inside it, as on a host:
//   nsenter … -- node dist/afterpatch.cjs restart --json … --state-dir <per-test dir>
// Services link libsvc.so.1 from a per-test directory below test/.tmp (harness/stale-lib.ts);
// an "upgrade" rename()s a new build over it, exactly like dpkg. Each scenario checks the JSON
// report AND the real system: MainPID from systemd, host PIDs from the unit's cgroup and the
// library mappings in /proc/<host PID>/maps.
//
// Needs root and a bootable sandbox (skips with the reason otherwise), gcc, and `npm run build`.
import assert from 'node:assert/strict';
import {
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { type AddressInfo, connect, createServer } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CLI } from '../../harness/cli.ts';
import type { Sandbox } from '../../harness/sandbox.ts';
import {
  alive,
  installByRename,
  mappingsOf,
  nsPid,
  type SvcTree,
} from '../../harness/stale-lib.ts';
import type { RestartDocument } from '../../src/formats/restart.ts';
import {
  restartJson,
  type Run as SandboxRun,
  sandboxSkip,
  svcScenarios,
} from '../helpers/sandbox-cli.ts';

const skip = sandboxSkip();

// ---------------------------------------------------------------------------------------------
// The JSON report (docs/restart.md), as far as these tests read it.

type RestartJson = RestartDocument;
type PlanJson = RestartJson['plan'][number];
type ResultJson = RestartJson['results'][number];

type Run = SandboxRun<RestartJson>;

/** `afterpatch restart --json --timeout 20 ARGS --state-dir STATE`, inside the sandbox. */
const afterpatch = (sb: Sandbox, stateDir: string, args: readonly string[]): Promise<Run> =>
  restartJson<RestartJson>(sb, stateDir, args);

function planFor(run: Run, unit: string | null, type?: string): PlanJson {
  const hits = run.json.plan.filter(
    (e) => e.unit === unit && (type === undefined || e.type === type),
  );
  assert.equal(hits.length, 1, `one plan entry for ${unit}:\n${run.text}`);
  return hits[0] as PlanJson;
}

function resultFor(run: Run, unit: string | null): ResultJson {
  const hits = run.json.results.filter((r) => r.unit === unit);
  assert.equal(hits.length, 1, `one result for ${unit}:\n${run.text}`);
  return hits[0] as ResultJson;
}

function units(run: Run): string[] {
  return run.json.plan.map((e) => e.unit ?? `<${e.type}>`).sort();
}

// ---------------------------------------------------------------------------------------------
// The real system

function showProps(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) out[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return out;
}

async function unitState(
  sb: Sandbox,
  unit: string,
): Promise<{ mainPid: number; active: string; sub: string }> {
  const r = await sb.systemctl('show', '-p', 'MainPID,ActiveState,SubState', '--', unit);
  assert.equal(r.code, 0, r.stderr);
  const p = showProps(r.stdout);
  return { mainPid: Number(p.MainPID), active: p.ActiveState ?? '', sub: p.SubState ?? '' };
}

async function mainPid(sb: Sandbox, unit: string): Promise<number> {
  return (await unitState(sb, unit)).mainPid;
}

/** Host PIDs of a unit's processes, each with its PID inside the sandbox. */
async function unitProcs(sb: Sandbox, unit: string): Promise<{ host: number; inner: number }[]> {
  const out: { host: number; inner: number }[] = [];
  for (const host of await sb.unitPids(unit)) {
    const inner = nsPid(host);
    if (inner !== undefined) out.push({ host, inner });
  }
  return out;
}

/** The host PID of the process that is `inner` inside the sandbox (searched in the unit). */
async function hostPidOf(sb: Sandbox, unit: string, inner: number): Promise<number> {
  const p = (await unitProcs(sb, unit)).find((x) => x.inner === inner);
  assert.ok(p, `PID ${inner} is not in ${unit}`);
  return p.host;
}

/** The process maps `lib` (all mappings current, none deleted) with this inode. */
function assertMapsCurrent(hostPid: number, lib: string, inode: number): void {
  const m = mappingsOf(hostPid, lib);
  assert.ok(m.length > 0, `PID ${hostPid} does not map ${lib}`);
  assert.deepEqual(
    m.filter((x) => x.deleted || x.inode !== inode),
    [],
    `PID ${hostPid} maps an old ${lib}`,
  );
}

function assertMapsDeleted(hostPid: number, lib: string): void {
  const m = mappingsOf(hostPid, lib);
  assert.ok(m.length > 0, `PID ${hostPid} does not map ${lib}`);
  assert.ok(
    m.every((x) => x.deleted),
    `PID ${hostPid} should map ${lib} "(deleted)": ${JSON.stringify(m)}`,
  );
}

const notifyUnit = (tree: SvcTree, args = '', extra = ''): string =>
  `[Unit]\nDescription=afterpatch restart test\n\n[Service]\nType=notify\nExecStart=${tree.daemon} notify${args}\n${extra}`;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

interface Answer {
  line: string;
  /** Connect to end of the answer. */
  ms: number;
}

/** One connection: connect, read until the server closes. */
function ask(port: number): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const s = connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    s.setTimeout(10_000, () => s.destroy(new Error('no answer within 10 s')));
    s.on('data', (b: Buffer) => chunks.push(b));
    s.on('error', reject);
    s.on('end', () => {
      s.destroy();
      resolve({ line: Buffer.concat(chunks).toString('utf8'), ms: performance.now() - t0 });
    });
  });
}

// ---------------------------------------------------------------------------------------------

describe('afterpatch restart in a systemd sandbox', { skip }, () => {
  /** A sandbox and a tree for one test; the journal is appended to any failure. */
  const scenario = svcScenarios();

  it('restarts a stale Type=notify service, verifies it, and does nothing the second time', () =>
    scenario('notify', async (sb, tree, state) => {
      const unit = 'svc-notify.service';
      await sb.installUnit(unit, notifyUnit(tree));
      assert.equal((await sb.systemctl('start', unit)).code, 0);
      const pid0 = await mainPid(sb, unit);
      const host0 = await hostPidOf(sb, unit, pid0);
      assertMapsCurrent(host0, tree.lib, tree.inode());

      const inode2 = tree.upgrade(2);
      assertMapsDeleted(host0, tree.lib);

      const run = await afterpatch(sb, state, ['--yes']);
      assert.equal(run.code, 0, run.text);
      assert.equal(run.json.dryRun, false);
      assert.deepEqual(units(run), [unit], run.text);
      const p = planFor(run, unit, 'system-unit');
      assert.equal(p.action, 'restart');
      assert.equal(p.needsHuman, false);
      assert.deepEqual(p.pids, [pid0]);
      assert.deepEqual(p.files, [{ path: tree.lib, kind: 'code' }]);
      assert.equal(run.json.results.length, 1, run.text);
      const r = resultFor(run, unit);
      assert.equal(r.action, 'restart');
      assert.equal(r.outcome, 'verified', run.text);
      assert.deepEqual(r.stalePids, []);
      assert.equal(r.activeState, 'active');
      assert.equal(run.json.summary.verified, 1);
      assert.equal(run.json.summary.needsHuman, 0);

      const pid1 = await mainPid(sb, unit);
      assert.ok(pid1 > 0 && pid1 !== pid0, `MainPID ${pid0} → ${pid1}`);
      const host1 = await hostPidOf(sb, unit, pid1);
      assertMapsCurrent(host1, tree.lib, inode2);
      assert.equal(alive(host0), false, 'the old process is gone');
      // The outcome is remembered in the per-test state directory.
      const saved = JSON.parse(readFileSync(join(state, 'state.json'), 'utf8')) as {
        units: Record<string, { outcome: string }>;
      };
      assert.equal(saved.units[p.key]?.outcome, 'verified');

      const again = await afterpatch(sb, state, ['--yes']);
      assert.equal(again.code, 0, again.text);
      assert.deepEqual(again.json.plan, [], again.text);
      assert.deepEqual(again.json.results, []);
      assert.equal(await mainPid(sb, unit), pid1, 'not restarted again');
      assert.ok(alive(host1));
    }));

  it('keeps serving a socket-activated service while restarting it', () =>
    scenario('socket', async (sb, tree, state) => {
      const port = await freePort();
      await sb.installUnit(
        'svc-sock.socket',
        `[Unit]\nDescription=afterpatch restart test socket\n\n[Socket]\nListenStream=127.0.0.1:${port}\nAccept=no\n`,
      );
      // ExecStartPre widens the window with no process accepting: connections made meanwhile wait
      // in the listening socket's backlog (systemd holds the socket) until the new daemon runs.
      await sb.installUnit(
        'svc-sock.service',
        `[Unit]\nDescription=afterpatch restart test socket service\nRequires=svc-sock.socket\n\n[Service]\nType=notify\nExecStartPre=/bin/sleep 0.4\nExecStart=${tree.daemon} socket\n`,
      );
      assert.equal((await sb.systemctl('start', 'svc-sock.socket')).code, 0);
      assert.equal((await sb.systemctl('start', 'svc-sock.service')).code, 0);
      const pid0 = await mainPid(sb, 'svc-sock.service');
      assert.equal((await ask(port)).line, `svc value=1 pid=${pid0}\n`);

      const inode2 = tree.upgrade(2);
      const answers: Answer[] = [];
      const errors: unknown[] = [];
      let stop = false;
      const client = (async () => {
        while (!stop) {
          try {
            answers.push(await ask(port));
          } catch (e) {
            errors.push(e);
          }
          await sleep(5);
        }
      })();
      let run: Run;
      try {
        await sleep(50);
        run = await afterpatch(sb, state, ['--yes', '--lib', tree.libRegex]);
        const n = answers.length + errors.length;
        while (answers.length + errors.length < n + 5) await sleep(5);
      } finally {
        stop = true;
        await client;
      }
      assert.equal(run.code, 0, run.text);
      assert.deepEqual(units(run), ['svc-sock.service'], run.text);
      assert.equal(resultFor(run, 'svc-sock.service').outcome, 'verified', run.text);

      const pid1 = await mainPid(sb, 'svc-sock.service');
      assert.ok(pid1 > 0 && pid1 !== pid0, `MainPID ${pid0} → ${pid1}`);
      assertMapsCurrent(await hostPidOf(sb, 'svc-sock.service', pid1), tree.lib, inode2);
      assert.equal((await unitState(sb, 'svc-sock.socket')).active, 'active');

      assert.deepEqual(errors.map(String), [], 'every connection was answered');
      const old = `svc value=1 pid=${pid0}\n`;
      const now = `svc value=2 pid=${pid1}\n`;
      assert.deepEqual(
        answers.filter((a) => a.line !== old && a.line !== now),
        [],
        'only the old and the new daemon answered, each a full line',
      );
      assert.ok(
        answers.some((a) => a.line === old),
        'the loop started before the restart',
      );
      assert.ok(
        answers.some((a) => a.line === now),
        'and went on after it',
      );
      // A connection made while no daemon was accepting (ExecStartPre) was still served.
      const queued = answers.filter((a) => a.line === now && a.ms >= 200);
      assert.ok(
        queued.length >= 1,
        `a connection waited through the restart: ${JSON.stringify(answers.map((a) => Math.round(a.ms)))}`,
      );
    }));

  it('reports a KillMode=process leftover as still-stale and does not loop on it', () =>
    scenario('killmode', async (sb, tree, state) => {
      const unit = 'svc-forker.service';
      await sb.installUnit(
        unit,
        `[Unit]\nDescription=afterpatch restart test forker\n\n[Service]\nType=notify\nKillMode=process\nExecStart=${tree.daemon} forker\n`,
      );
      assert.equal((await sb.systemctl('start', unit)).code, 0);
      const pid0 = await mainPid(sb, unit);
      const procs0 = await unitProcs(sb, unit);
      assert.equal(procs0.length, 2, JSON.stringify(procs0));
      const child = procs0.find((p) => p.inner !== pid0);
      assert.ok(child);

      tree.upgrade(2);
      const first = await afterpatch(sb, state, ['--yes', '--lib', tree.libRegex]);
      assert.equal(first.code, 2, first.text);
      assert.equal(planFor(first, unit).action, 'restart');
      const r = resultFor(first, unit);
      assert.equal(r.outcome, 'still-stale', first.text);
      assert.deepEqual(r.stalePids, [{ pid: child.inner, files: [tree.lib] }], first.text);
      assert.equal(first.json.summary.stillStale, 1);
      const pid1 = await mainPid(sb, unit);
      assert.ok(pid1 > 0 && pid1 !== pid0, `MainPID ${pid0} → ${pid1}`);
      // The real system agrees: the old child lives on in the unit with the deleted library.
      assert.ok(alive(child.host));
      assert.ok((await sb.unitPids(unit)).includes(child.host));
      assertMapsDeleted(child.host, tree.lib);

      const second = await afterpatch(sb, state, ['--yes', '--lib', tree.libRegex]);
      assert.equal(second.code, 1, second.text);
      const p2 = planFor(second, unit);
      assert.equal(p2.action, 'skip');
      assert.match(p2.reason, /not again without --force/);
      assert.equal(p2.needsHuman, true);
      assert.deepEqual(p2.pids, [child.inner]);
      assert.deepEqual(second.json.results, []);
      assert.equal(await mainPid(sb, unit), pid1, 'not restarted without --force');

      const forced = await afterpatch(sb, state, ['--yes', '--force', '--lib', tree.libRegex]);
      assert.equal(forced.code, 2, forced.text);
      assert.equal(planFor(forced, unit).action, 'restart');
      const rf = resultFor(forced, unit);
      assert.equal(rf.outcome, 'still-stale');
      assert.deepEqual(
        rf.stalePids.map((s) => s.pid),
        [child.inner],
      );
      const pid2 = await mainPid(sb, unit);
      assert.ok(pid2 > 0 && pid2 !== pid1, `--force restarted it again: MainPID ${pid1} → ${pid2}`);
    }));

  it('reports a unit that fails to start after the upgrade and still restarts the others', () =>
    scenario('failing', async (sb, tree, state) => {
      // svc-fragile refuses to start with any library but version 1.
      await sb.installUnit('svc-fragile.service', notifyUnit(tree, ' 1'));
      await sb.installUnit('svc-sturdy.service', notifyUnit(tree));
      for (const u of ['svc-fragile.service', 'svc-sturdy.service']) {
        assert.equal((await sb.systemctl('start', u)).code, 0, u);
      }
      const fragile0 = await mainPid(sb, 'svc-fragile.service');
      const sturdy0 = await mainPid(sb, 'svc-sturdy.service');
      const inode2 = tree.upgrade(2);

      const run = await afterpatch(sb, state, ['--yes', '--lib', tree.libRegex]);
      assert.equal(run.code, 2, run.text);
      assert.deepEqual(units(run), ['svc-fragile.service', 'svc-sturdy.service'], run.text);
      const f = resultFor(run, 'svc-fragile.service');
      assert.equal(f.outcome, 'failed', run.text);
      assert.equal(f.activeState, 'failed');
      assert.ok(f.message, 'systemctl says why');
      assert.ok(f.journal.length > 0, 'journal lines are attached');
      assert.ok(
        f.journal.some((l) => l.includes('this build needs 1: refusing to start')),
        `the daemon's own message is among them:\n${f.journal.join('\n')}`,
      );
      const s = resultFor(run, 'svc-sturdy.service');
      assert.equal(s.outcome, 'verified', run.text);
      assert.equal(run.json.summary.failed, 1);
      assert.equal(run.json.summary.verified, 1);

      const fragile = await unitState(sb, 'svc-fragile.service');
      assert.equal(fragile.active, 'failed');
      assert.equal(fragile.mainPid, 0);
      assert.ok(fragile0 > 0);
      const sturdy1 = await mainPid(sb, 'svc-sturdy.service');
      assert.ok(sturdy1 > 0 && sturdy1 !== sturdy0, `MainPID ${sturdy0} → ${sturdy1}`);
      assertMapsCurrent(await hostPidOf(sb, 'svc-sturdy.service', sturdy1), tree.lib, inode2);
    }));

  it('reports a unit that does not come back in time as timeout, without waiting for it', () =>
    scenario('timeout', async (sb, tree, state) => {
      // The first start is quick; every later start hangs in ExecStartPre far beyond --timeout.
      const marker = join(tree.root, 'started-once');
      await sb.installUnit(
        'svc-slow.service',
        notifyUnit(
          tree,
          '',
          `ExecStartPre=/bin/sh -c 'if [ -e "$0" ]; then sleep 120; else : > "$0"; fi' ${marker}\nTimeoutStartSec=300\n`,
        ),
      );
      assert.equal((await sb.systemctl('start', 'svc-slow.service')).code, 0);
      tree.upgrade(2);
      const t0 = performance.now();
      const run = await afterpatch(sb, state, ['--yes', '--timeout', '2', '--lib', tree.libRegex]);
      const took = performance.now() - t0;
      assert.equal(run.code, 2, run.text);
      const r = resultFor(run, 'svc-slow.service');
      assert.equal(r.outcome, 'timeout', run.text);
      assert.match(r.message ?? '', /no answer within 2 s/);
      assert.equal(run.json.summary.timeout, 1);
      assert.ok(took < 15_000, `returned after ${Math.round(took)} ms`);
      // The old process was stopped before the start hung: nothing stale is left to act on.
      const again = await afterpatch(sb, state, [
        '--yes',
        '--timeout',
        '2',
        '--lib',
        tree.libRegex,
      ]);
      assert.deepEqual(again.json.plan, [], again.text);
    }));

  it('skips denied units, oneshots and scopes, honours restart.only, and --dry-run changes nothing', () =>
    scenario('denied', async (sb, tree, state) => {
      // Our own program under the bus's name (the distro's dbus.service is masked in the sandbox;
      // units in unitDir take precedence).
      await sb.installUnit('dbus.service', notifyUnit(tree));
      await sb.installUnit(
        'svc-oneshot.service',
        `[Unit]\nDescription=afterpatch restart test oneshot\n\n[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=${tree.daemon} bg\n`,
      );
      await sb.installUnit('svc-allowed.service', notifyUnit(tree));
      await sb.installUnit('svc-other.service', notifyUnit(tree));
      for (const u of [
        'dbus.service',
        'svc-oneshot.service',
        'svc-allowed.service',
        'svc-other.service',
      ]) {
        assert.equal((await sb.systemctl('start', u)).code, 0, u);
      }
      const scope = await sb.exec([
        'systemd-run',
        '--scope',
        '--unit=svc-held',
        '--description=afterpatch restart test scope',
        '--',
        tree.daemon,
        'bg',
      ]);
      assert.equal(scope.code, 0, scope.stderr);
      const oneshot = await unitState(sb, 'svc-oneshot.service');
      assert.deepEqual([oneshot.active, oneshot.sub], ['active', 'exited']);

      const held = new Map<string, number[]>();
      for (const u of [
        'dbus.service',
        'svc-oneshot.service',
        'svc-held.scope',
        'svc-allowed.service',
        'svc-other.service',
      ]) {
        const pids = await sb.unitPids(u);
        assert.equal(pids.length, 1, `${u}: ${pids.join(' ')}`);
        for (const pid of pids) assertMapsCurrent(pid, tree.lib, tree.inode());
        held.set(u, pids);
      }
      const mains = async () => ({
        dbus: await mainPid(sb, 'dbus.service'),
        allowed: await mainPid(sb, 'svc-allowed.service'),
        other: await mainPid(sb, 'svc-other.service'),
      });
      const before = await mains();
      tree.upgrade(2);

      // Dry run: the whole plan, nothing touched, exit 1 because humans must act.
      const dry = await afterpatch(sb, state, ['--dry-run', '--lib', tree.libRegex]);
      assert.equal(dry.code, 1, dry.text);
      assert.equal(dry.json.dryRun, true);
      assert.deepEqual(dry.json.results, []);
      assert.deepEqual(
        units(dry),
        [
          'dbus.service',
          'svc-allowed.service',
          'svc-held.scope',
          'svc-oneshot.service',
          'svc-other.service',
        ],
        dry.text,
      );
      const dbus = planFor(dry, 'dbus.service');
      assert.equal(dbus.action, 'skip');
      assert.match(dbus.reason, /^never restarted automatically: /);
      assert.equal(dbus.needsHuman, true);
      const one = planFor(dry, 'svc-oneshot.service');
      assert.equal(one.action, 'skip');
      assert.match(one.reason, /oneshot/);
      const sc = planFor(dry, 'svc-held.scope');
      assert.equal(sc.action, 'skip');
      assert.match(sc.reason, /scope/);
      assert.equal(planFor(dry, 'svc-allowed.service').action, 'restart');
      assert.equal(planFor(dry, 'svc-other.service').action, 'restart');
      assert.equal(dry.json.summary.planned, 2);
      assert.equal(dry.json.summary.needsHuman, 3);
      assert.deepEqual(await mains(), before, '--dry-run restarted nothing');
      for (const [u, pids] of held) {
        assert.deepEqual(await sb.unitPids(u), pids, `${u} untouched`);
        for (const pid of pids) assertMapsDeleted(pid, tree.lib);
      }
      assert.equal(existsSync(join(state, 'state.json')), false, '--dry-run writes no state');

      // Allow-only mode: only svc-allowed is restarted; naming dbus.service there does not
      // override the built-in safe list.
      const config = join(tree.root, 'only.toml');
      writeFileSync(config, '[restart]\nonly = ["svc-allowed.service", "dbus.service"]\n');
      const run = await afterpatch(sb, state, [
        '--yes',
        '--config',
        config,
        '--lib',
        tree.libRegex,
      ]);
      assert.equal(run.code, 1, run.text);
      assert.deepEqual(
        run.json.results.map((r) => [r.unit, r.outcome]),
        [['svc-allowed.service', 'verified']],
        run.text,
      );
      const other = planFor(run, 'svc-other.service');
      assert.equal(other.action, 'skip');
      assert.match(other.reason, /restart\.only/);
      assert.match(planFor(run, 'dbus.service').reason, /^never restarted automatically: /);
      assert.equal(planFor(run, 'svc-held.scope').action, 'skip');
      assert.equal(planFor(run, 'svc-oneshot.service').action, 'skip');
      const afterRun = await mains();
      assert.notEqual(afterRun.allowed, before.allowed, 'svc-allowed was restarted');
      assert.ok(afterRun.allowed > 0);
      assert.equal(afterRun.dbus, before.dbus, 'dbus.service untouched');
      assert.equal(afterRun.other, before.other, 'svc-other untouched');
      for (const u of [
        'dbus.service',
        'svc-oneshot.service',
        'svc-held.scope',
        'svc-other.service',
      ]) {
        assert.deepEqual(await sb.unitPids(u), held.get(u), `${u} untouched`);
      }
    }));

  // PID 1 itself. The sandbox's systemd maps its private libraries (libsystemd-shared-NNN.so,
  // libsystemd-core-NNN.so) from /usr/lib/<triplet>/systemd, shared with the host: replacing
  // them there would "upgrade" the machine. Instead the test copies that directory into its own
  // tree and binds the copy over the real directory in the sandbox's mount namespace only
  // (bindOver, done by stage 2 before systemd is exec'd, so PID 1 loads the copies). The
  // "upgrade" then rename()s a fresh copy over the copy in the test's own directory on the host:
  // from inside, exactly what dpkg does to the real path — PID 1 maps the old file "(deleted)",
  // and a re-executed systemd loads the new inode from the same path. So `daemon-reexec` is
  // driven and verified for real (same PID 1, new mappings), and the host's files and mounts are
  // never touched (asserted at the end).
  it('advises a stale process of init.scope that is not PID 1, and never calls it "systemd (PID 1)"', () =>
    scenario('initscope', async (sb, tree, state) => {
      // A program started in the sandbox and moved into init.scope, beside systemd itself.
      const bg = await sb.exec([tree.daemon, 'bg']);
      const inner = Number(/started (\d+)/.exec(bg.stdout)?.[1]);
      assert.ok(inner > 1, bg.stdout + bg.stderr);
      const host = hostPidInSandbox(sb, inner);
      writeFileSync(join(sb.cgroupDir, 'init.scope', 'cgroup.procs'), `${host}\n`);
      tree.upgrade(2);
      assertMapsDeleted(host, tree.lib);

      const run = await afterpatch(sb, state, ['--yes']);
      const e = planFor(run, 'init.scope', 'init');
      assert.equal(e.action, 'advise', run.text);
      assert.equal(e.needsHuman, true);
      assert.deepEqual(e.pids, [inner]);
      assert.match(e.reason, new RegExp(`not PID 1.*restart PID ${inner} by hand`));
      assert.deepEqual(run.json.results, [], 'daemon-reexec would not renew it: nothing is done');
      assert.equal(run.code, 1, run.text);
      assert.ok(alive(host));

      const text = await sb.exec([
        process.execPath,
        CLI,
        'restart',
        '--dry-run',
        '--state-dir',
        state,
      ]);
      assert.match(text.stdout, new RegExp(`^init\\.scope \\(PID ${inner}\\) +advise`, 'm'));
      assert.doesNotMatch(text.stdout, /systemd \(PID 1\)/);
    }));

  const sdLibDir = systemdPrivateLibDir();
  it('re-executes a stale PID 1 with daemon-reexec', {
    skip: sdLibDir === undefined ? 'no libsystemd-shared-*.so below /usr/lib/*/systemd' : false,
  }, () => {
    const dir = sdLibDir ?? '';
    const shared = readdirSync(dir).find((n) => /^libsystemd-shared-.*\.so$/.test(n)) ?? '';
    const hostLib = join(dir, shared);
    const hostBefore = statSync(hostLib);
    let copyDir = '';
    return scenario(
      'pid1',
      async (sb, _tree, state) => {
        const inside = join(dir, shared);
        const m0 = mappingsOf(sb.pid1, inside);
        assert.ok(m0.length > 0, `PID 1 maps ${inside}`);
        assert.equal(m0[0]?.inode, statSync(join(copyDir, shared)).ino, 'PID 1 maps our copy');
        assert.ok(m0.every((m) => !m.deleted));

        // The bind is visible only inside: the host still sees its own file at that path.
        assert.equal(statSync(hostLib).ino, hostBefore.ino);
        const inode2 = installByRename(hostLib, join(copyDir, shared));
        assertMapsDeleted(sb.pid1, inside);

        const run = await afterpatch(sb, state, ['--yes']);
        const init = planFor(run, null, 'init');
        assert.equal(init.action, 'daemon-reexec', run.text);
        assert.equal(init.needsHuman, false);
        assert.deepEqual(init.pids, [1]);
        assert.ok(init.files.some((f) => f.path === inside && f.kind === 'code'));
        const r = resultFor(run, null);
        assert.equal(r.action, 'daemon-reexec');
        assert.equal(r.outcome, 'verified', run.text);
        // journald links the same library: restarted after PID 1 (PID 1 goes first, alone).
        const journald = resultFor(run, 'systemd-journald.service');
        assert.equal(journald.outcome, 'verified', run.text);
        assert.equal(run.json.results[0]?.action, 'daemon-reexec');
        assert.equal(run.code, 0, run.text);

        // Same PID 1, new code: it maps the new inode, nothing deleted.
        assert.ok(alive(sb.pid1));
        assertMapsCurrent(sb.pid1, inside, inode2);
        assert.match(await sb.journal(), /systemd\[1\]: Reexecuting\./);
        const state1 = await sb.exec(['systemctl', 'is-system-running']);
        assert.equal(state1.stdout.trim(), 'running');

        const again = await afterpatch(sb, state, ['--yes']);
        assert.equal(again.code, 0, again.text);
        assert.deepEqual(again.json.plan, [], again.text);
      },
      (tree) => {
        copyDir = join(tree.root, 'systemd-libs');
        copyDirFiles(dir, copyDir);
        return { bindOver: { [dir]: copyDir } };
      },
    ).then(() => {
      const hostAfter = statSync(hostLib);
      assert.equal(hostAfter.ino, hostBefore.ino, "the host's library was not replaced");
      assert.equal(hostAfter.mtimeMs, hostBefore.mtimeMs);
    });
  });
});

/** The host PID of the process that has PID `inner` in the sandbox's PID namespace. */
function hostPidInSandbox(sb: Sandbox, inner: number): number {
  const ns = readlinkSync(`/proc/${sb.pid1}/ns/pid`);
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid <= 0 || nsPid(pid) !== inner) continue;
    try {
      if (readlinkSync(`/proc/${pid}/ns/pid`) === ns) return pid;
    } catch {
      // Gone meanwhile.
    }
  }
  throw new Error(`no process with PID ${inner} in sandbox ${sb.name}`);
}

/** Where systemd keeps libsystemd-shared-NNN.so (Debian: /usr/lib/<triplet>/systemd). */
function systemdPrivateLibDir(): string | undefined {
  let entries: string[];
  try {
    entries = readdirSync('/usr/lib');
  } catch {
    return undefined;
  }
  for (const e of entries) {
    if (!/-linux-gnu/.test(e)) continue;
    const d = join('/usr/lib', e, 'systemd');
    try {
      if (readdirSync(d).some((n) => /^libsystemd-shared-.*\.so$/.test(n))) return d;
    } catch {}
  }
  return undefined;
}

/** Copy a flat directory of libraries (regular files and symlinks). */
function copyDirFiles(from: string, to: string): void {
  mkdirSync(to);
  for (const n of readdirSync(from)) {
    const src = join(from, n);
    const st = lstatSync(src);
    if (st.isSymbolicLink()) symlinkSync(readlinkSync(src), join(to, n));
    else if (st.isFile()) copyFileSync(src, join(to, n));
  }
}
