// apply + verify + state, driven through FakeSystemd with real files: outcomes that need evidence,
// outcomes that survive a state directory that cannot be written, signals, the lock race.
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { defaultConfig } from '../../src/config/load.ts';
import { EnvironmentError } from '../../src/errors.ts';
import { restartExitCode } from '../../src/exit.ts';
import { silentLog } from '../../src/log.ts';
import { restartToJson } from '../../src/output/restart.ts';
import { acquireLock } from '../../src/restart/lock.ts';
import { applyRestart, type RestartReport } from '../../src/restart/restart.ts';
import { FakeSystemd } from '../helpers/fake-systemd.ts';
import { FAKE_INIT, FAKE_STALE_SSHD, makeProcTree, mapsLine } from '../helpers/fakeproc.ts';
import { planEntry, scanStub } from '../helpers/restart-plan.ts';
import { scratchDirs } from '../helpers/scratch.ts';
import { IS_ROOT, mountTinyTmpfs } from '../helpers/tmpfs.ts';

const CHILD = fileURLToPath(new URL('../helpers/restart-child.ts', import.meta.url));
const CLEAN = {
  name: 'svc',
  maps: mapsLine('/usr/sbin/svc'),
  cgroup: '0::/system.slice/a.service\n',
};

describe('restart: apply and verify', () => {
  const fresh = scratchDirs('afterpatch-apply');
  /** A cgroup tree in a plain directory: one cgroup.procs per cgroup path. */
  const cgroups = (tree: Record<string, number[]>) => {
    const d = fresh();
    for (const [cg, pids] of Object.entries(tree)) {
      mkdirSync(join(d, cg), { recursive: true });
      writeFileSync(join(d, cg, 'cgroup.procs'), pids.map((p) => `${p}\n`).join(''));
    }
    return d;
  };
  const apply = (
    plan: ReturnType<typeof planEntry>[],
    o: { procRoot: string; cgroupMount: string | null; client?: FakeSystemd; stateDir?: string },
  ) =>
    applyRestart(
      { scan: scanStub(), plan },
      {
        config: defaultConfig(),
        client: o.client ?? new FakeSystemd().unit('a.service'),
        log: silentLog(),
        stateDir: o.stateDir ?? fresh(),
        procRoot: o.procRoot,
        cgroupMount: o.cgroupMount,
      },
    );
  const outcome = (r: RestartReport) => r.results.map((x) => [x.unit, x.outcome, x.message]);

  it('says verified only when the unit cgroup was read and its processes map nothing stale', async () => {
    const fx = makeProcTree({ 1: FAKE_INIT, 200: CLEAN });
    after(() => fx.cleanup());
    const r = await apply([planEntry('a.service')], {
      procRoot: fx.root,
      cgroupMount: cgroups({ 'system.slice/a.service': [200] }),
    });
    assert.deepEqual(outcome(r), [['a.service', 'verified', null]]);
    assert.equal(restartExitCode(r), 0);
  });

  it('is unverified, with the reason, when the unit cgroup cannot be read (was: verified)', async () => {
    const fx = makeProcTree({ 1: FAKE_INIT });
    after(() => fx.cleanup());
    const r = await apply([planEntry('a.service')], {
      procRoot: fx.root,
      cgroupMount: cgroups({}),
    });
    assert.equal(r.results[0]?.outcome, 'unverified');
    assert.match(
      r.results[0]?.message ?? '',
      /cannot read .*system\.slice\/a\.service\/cgroup\.procs \(ENOENT\)/,
    );
    assert.equal(restartExitCode(r), 2);
    const json = restartToJson(r) as { summary: Record<string, number> };
    assert.equal(json.summary.unverified, 1);
    assert.equal(json.summary.verified, 0);
    // Recorded as not done: the next run skips it for the same files unless --force.
    assert.equal(r.stateError, null);
  });

  it('is unverified when no cgroup hierarchy is known, or the processes are under another --proc-root', async () => {
    const fx = makeProcTree({ 1: FAKE_INIT });
    after(() => fx.cleanup());
    const none = await apply([planEntry('a.service')], { procRoot: fx.root, cgroupMount: null });
    assert.deepEqual(outcome(none)[0]?.slice(0, 2), ['a.service', 'unverified']);
    const other = await applyRestart(
      { scan: scanStub(), plan: [planEntry('a.service')] },
      {
        config: defaultConfig(),
        client: new FakeSystemd().unit('a.service'),
        log: silentLog(),
        stateDir: fresh(),
        procRoot: fx.root,
      },
    );
    assert.equal(other.results[0]?.outcome, 'unverified');
    assert.match(other.results[0]?.message ?? '', /not under --proc-root/);
  });

  it('is still-stale when the cgroup has a process on the old library', async () => {
    const fx = makeProcTree({ 1: FAKE_INIT, 300: FAKE_STALE_SSHD });
    after(() => fx.cleanup());
    const r = await apply([planEntry('a.service')], {
      procRoot: fx.root,
      cgroupMount: cgroups({ 'system.slice/a.service': [], 'system.slice/a.service/sub': [300] }),
    });
    assert.equal(r.results[0]?.outcome, 'still-stale');
    assert.deepEqual(r.results[0]?.stalePids, [{ pid: 300, files: ['/usr/lib/libcrypto.so.3'] }]);
  });

  it('after daemon-reexec verifies every process of init.scope the plan named, not PID 1 only', async () => {
    const fx = makeProcTree({
      1: FAKE_INIT,
      345: { ...FAKE_STALE_SSHD, cgroup: '0::/init.scope\n' },
    });
    after(() => fx.cleanup());
    const r = await apply([planEntry(null, [1, 345])], { procRoot: fx.root, cgroupMount: null });
    assert.equal(r.results[0]?.outcome, 'still-stale');
    assert.deepEqual(
      r.results[0]?.stalePids.map((p) => p.pid),
      [345],
    );
    const clean = await apply([planEntry(null, [1])], { procRoot: fx.root, cgroupMount: null });
    assert.equal(clean.results[0]?.outcome, 'verified');
  });
});

describe('restart: outcomes are reported when the state cannot be saved', {
  skip: !IS_ROOT && 'needs root to mount a tmpfs',
}, () => {
  const root = mkdtempSync(join(tmpdir(), 'afterpatch-full-'));
  after(() => rmSync(root, { recursive: true, force: true }));

  const fx = makeProcTree({ 1: FAKE_INIT, 200: CLEAN });
  after(() => fx.cleanup());
  const cg = join(root, 'cg');
  mkdirSync(join(cg, 'system.slice/a.service'), { recursive: true });
  writeFileSync(join(cg, 'system.slice/a.service/cgroup.procs'), '200\n');
  /** Restarts a.service (verified) with the state in `dir`; `onAct` runs while systemd acts. */
  const restartWith = (dir: string, onAct: () => void) => {
    const client = new FakeSystemd().unit('a.service');
    client.onAct = onAct;
    const report = applyRestart(
      { scan: scanStub(), plan: [planEntry('a.service')] },
      {
        config: defaultConfig(),
        client,
        log: silentLog(),
        stateDir: dir,
        procRoot: fx.root,
        cgroupMount: cg,
      },
    );
    return { client, report };
  };
  const mounted = async (
    name: string,
    mount: (dir: string) => () => void,
    body: (dir: string) => Promise<void>,
  ) => {
    const dir = join(root, name);
    mkdirSync(dir);
    const unmount = mount(dir);
    try {
      await body(dir);
    } finally {
      unmount();
    }
  };
  const readOnlyBind = (dir: string) => {
    execFileSync('mount', ['--bind', dir, dir]);
    return () => execFileSync('umount', ['-l', dir]);
  };
  /** The unit's outcome is in the report although the state could not be written. */
  const reportedNotSaved = (r: RestartReport, errno: string) => {
    assert.deepEqual(
      r.results.map((x) => [x.unit, x.outcome]),
      [['a.service', 'verified']],
    );
    assert.match(r.stateError ?? '', new RegExp(`cannot write .*state\\.json \\(${errno}\\)`));
    assert.equal(restartExitCode(r), 4);
  };
  const remountRo = (dir: string) => execFileSync('mount', ['-o', 'remount,bind,ro', dir]);

  it('a full disk after the restarts: results returned, stateError set, lock released (was: exit 3, nothing)', () =>
    mounted(
      'full',
      (d) => mountTinyTmpfs(d, 8192),
      async (dir) => {
        // The disk fills up while systemd restarts the unit.
        const { report } = restartWith(dir, () => {
          try {
            writeFileSync(join(dir, 'filler'), Buffer.alloc(64 * 1024));
          } catch {
            // ENOSPC: full now, as wanted.
          }
        });
        const r = await report;
        reportedNotSaved(r, 'ENOSPC');
        assert.equal(existsSync(join(dir, 'lock')), false, 'the lock is released');
        assert.equal(existsSync(join(dir, 'state.json')), false, 'no half-written state');
      },
    ));

  it('a state directory that turns read-only during the restarts: results returned, stateError EROFS', () =>
    mounted('ro-after', readOnlyBind, async (dir) => {
      const { report } = restartWith(dir, () => remountRo(dir));
      const r = await report;
      reportedNotSaved(r, 'EROFS');
    }));

  it('a read-only state directory before anything is done: one clear error, no action', () =>
    mounted('ro-before', readOnlyBind, async (dir) => {
      remountRo(dir);
      const { client, report } = restartWith(dir, () => {});
      await assert.rejects(
        report,
        (e: unknown) =>
          e instanceof EnvironmentError && /cannot create .*lock.*\(EROFS\)/.test(e.message),
      );
      assert.equal(client.acts.length, 0);
    }));
});

/** Spawns the child helper; resolves lines as they come. */
function child(args: string[]): { proc: ChildProcess; next: () => Promise<string> } {
  const proc = spawn(process.execPath, ['--import', 'tsx', CHILD, ...args], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const queue: string[] = [];
  const waiters: ((l: string) => void)[] = [];
  createInterface({ input: proc.stdout as NodeJS.ReadableStream }).on('line', (l) => {
    const w = waiters.shift();
    if (w) w(l);
    else queue.push(l);
  });
  proc.once('exit', () => {
    for (const w of waiters.splice(0)) w('');
  });
  return {
    proc,
    next: () =>
      new Promise((resolve) => {
        const l = queue.shift();
        if (l !== undefined) resolve(l);
        else waiters.push(resolve);
      }),
  };
}

describe('restart: signals and the lock', () => {
  const root = mkdtempSync(join(tmpdir(), 'afterpatch-sig-'));
  after(() => rmSync(root, { recursive: true, force: true }));

  it('SIGTERM during a batch: the batch finishes, the rest is skipped, outcomes saved, lock released', async () => {
    const dir = join(root, 'sig');
    const c = child(['apply', dir]);
    assert.equal(await c.next(), 'acting');
    c.proc.kill('SIGTERM');
    const out = JSON.parse(await c.next());
    assert.deepEqual(out, {
      acts: 1,
      results: [['a.service', 'unverified']],
      interrupted: 'SIGTERM',
      stateError: null,
    });
    const state = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8'));
    assert.deepEqual(Object.keys(state.units), ['system-unit:a.service']);
    assert.equal(existsSync(join(dir, 'lock')), false);
  });

  it('20 restarts started together over a stale lock: exactly one takes it (30 rounds)', async () => {
    const dir = join(root, 'race');
    mkdirSync(dir, { mode: 0o755 });
    const dead = spawn(process.execPath, ['-e', '0']);
    await new Promise((r) => dead.once('exit', r));
    // The old code let two of them in about once in three rounds.
    const kids = Array.from({ length: 20 }, () => child(['lock', dir]));
    try {
      for (const k of kids) assert.equal(await k.next(), 'ready');
      for (let round = 0; round < 30; round++) {
        // A lock left by a dead process; in odd rounds in the format with the start time.
        writeFileSync(join(dir, 'lock'), round % 2 ? `${dead.pid} 12345\n` : `${dead.pid}\n`);
        for (const k of kids) k.proc.stdin?.write('go\n');
        const answers = await Promise.all(kids.map((k) => k.next()));
        const won = answers.filter((a) => a === 'acquired');
        assert.equal(won.length, 1, `round ${round}:\n${answers.join('\n')}`);
        for (const a of answers) {
          if (a !== 'acquired')
            assert.match(a, /^busy another afterpatch restart \(PID \d+\) is running/);
        }
        for (const k of kids) k.proc.stdin?.write('release\n');
        for (const k of kids) assert.equal(await k.next(), 'released');
        assert.equal(existsSync(join(dir, 'lock')), false);
        assert.equal(existsSync(join(dir, 'lock.takeover')), false);
      }
    } finally {
      for (const k of kids) k.proc.stdin?.write('exit\n');
      await Promise.all(
        kids.map(
          (k) => new Promise((r) => (k.proc.exitCode === null ? k.proc.once('exit', r) : r(null))),
        ),
      );
    }
  });

  it('a lock whose PID now belongs to another process (another start time) is taken over', () => {
    const dir = join(root, 'reused');
    mkdirSync(dir, { mode: 0o755 });
    writeFileSync(join(dir, 'lock'), `${process.pid} 1\n`);
    const release = acquireLock(dir);
    assert.match(readFileSync(join(dir, 'lock'), 'utf8'), new RegExp(`^${process.pid} \\d+\n$`));
    assert.throws(() => acquireLock(dir), /another afterpatch restart \(PID \d+\) is running/);
    release();
    assert.equal(existsSync(join(dir, 'lock')), false);
  });
});
