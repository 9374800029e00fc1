// bench/fleet.ts [N] - what does a fleet run cost per host, and what does that make of 500 hosts?
// Run it through the wrapper `bench/fleet` (root, lock, NODE_EXTRA_CA_CERTS unset); details and
// how to read the results: bench/README.md; the model built on the numbers: docs/fleet.md, "Scale".
//
//   1. builds a test .deb (test/helpers/fixtures.ts: a library and a holder linked against it),
//      installs it on the machine (all rig hosts share /usr), and compiles test/fixtures/c/spawner.c;
//   2. boots the rig (N hosts, default 3: test/helpers/rig.ts), installs the CLI on every host with
//      the role (integrations/ansible/install.yml, binary method) and starts fleet-app.service
//      (one holder) on each host;
//   3. light hosts: `prepare` rename()s a new copy of the library over the installed one (as dpkg
//      does), so every holder maps it "(deleted)"; then:
//      b. ad hoc `ansible -m raw -a true`, `-m ping` and `-M integrations/ansible/library -m
//         afterpatch -a state=scanned` against one host and all N hosts at forks 1 (per-host
//         serial cost = difference / (N-1)), all N at forks N, and `raw` with SSH connection
//         sharing off (the cost of a new SSH connection); the module's answers checked (`-t`),
//         the SSH commands per task counted (`-vvv`);
//      c. rolling-restart.yml over all hosts, serial 1, one stale unit per host, against a
//         minimal playbook doing only `systemctl restart` per host with serial 1 (both checked
//         once first); plus rolling-restart.yml with nothing to restart, over all hosts and over
//         one host (the gather + verify cost per host). A callback plugin records play and task
//         times and the controller's CPU, so batches are timed one by one;
//   4. heavy host (the last one): bench-heavy.service runs the spawner, which starts HEAVY
//      (default 5,000) holders; the library is replaced again and:
//      a. `afterpatch scan --json` and the module alone (`node library/afterpatch ARGS`) inside a
//         light and the heavy host (nsenter), against `grep -l deleted /proc/[0-9]*/maps` there
//         and nsenter running `true`; `restart --dry-run --json` on the heavy host; JSON sizes;
//      b. the module's round trip to the heavy host against the light one and `ping`;
//      c. one rolling-restart.yml batch on the heavy host against the minimal playbook;
//      d. the controller's save of one batch (tasks/save-result.yml alone: one task per batch)
//         for 1, FORKS and FLEET synthetic hosts holding the heavy host's gather result, and 1
//         and FLEET holding its verify result (no host contacted); `afterpatch report` over
//         FLEET hosts' results saved that way (the gather file, the restart batches' files);
//   5. prints the tables, the per-host figures and the model (500 hosts, forks 50, 12 hours);
//   6. always (finally, exit, SIGINT/SIGTERM/SIGHUP): stops hyperfine (our child, by PID), stops
//      the rig (every sandbox, with its processes, through the harness), purges the test package,
//      removes bench/out/fleet-XXXXXX/.
//
// Environment: RUNS (3; in-host legs run twice as often), WARMUP (1), PLAY_RUNS (2, playbook
// legs, no warmup), HEAVY (5000 processes on the heavy host, at least 100); the model's knobs:
// FLEET (500 hosts), FORKS (50), CORES (2, the controller's), WINDOW_H (12), HEALTH_S (60: health
// checks and warm-up per batch beyond the measured `systemctl is-active`), MARGIN (0.33: share of
// the window kept free).
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { CLI } from '../test/helpers/cli.ts';
import {
  buildTestDeb,
  C_SOURCES,
  compileLibrary,
  dpkgInstall,
  dpkgPurge,
  isInstalled,
  testPackagePaths,
} from '../test/helpers/fixtures.ts';
import { bootRig, canBootRig, type Rig, type RigHost } from '../test/helpers/rig.ts';
import {
  childEnv,
  cleanupStep,
  cmdline,
  die,
  type HyperfineResult as HfResult,
  hyperfine,
  intEnv,
  log,
  makeWorkDir,
  mustRun,
  numEnv,
  OUT,
  type Ran,
  REPO,
  readHyperfine,
  removeWorkSync,
  requireSafePaths,
  requireTools,
  runBench,
  runHost,
  SAFE_PATH,
  sleep,
  waitForDist,
  writeInSandboxScript,
  writeScript,
} from './common.ts';

const ANSIBLE_DIR = join(REPO, 'integrations', 'ansible');
const LIBRARY = join(ANSIBLE_DIR, 'library');

const PKG = 'afterpatch-bench-fleet';
const UNIT = 'fleet-app.service';
const HEAVY_UNIT = 'bench-heavy.service';
/** Where the role installs the CLI on each rig host (a per-host directory, see rig.ts). */
const HOST_CLI = '/opt/afterpatch/bin/afterpatch';
const { lib: LIB, holder: HOLDER } = testPackagePaths(PKG);

// ---------------------------------------------------------------------------------------------
// Parameters

const nArg = process.argv[2] ?? '3';
if (!/^[0-9]{1,2}$/.test(nArg) || Number(nArg) < 2 || Number(nArg) > 20) {
  process.stderr.write('usage: bench/fleet [N]  (N: number of rig hosts, 2-20, default 3)\n');
  process.exit(2);
}
const N = Number(nArg);

// ---------------------------------------------------------------------------------------------
// Cleanup, whatever happens

let rig: Rig | undefined;
let installedByUs = false;

/** Last resort on exit (a signal): the rig's directory, the package, our directory. */
function exitCleanupSync(): void {
  if (rig !== undefined) rmSync(rig.dir, { recursive: true, force: true });
  if (installedByUs) {
    // Synchronously: the event loop is gone. dpkg is called with a fixed argv.
    try {
      execFileSync('dpkg', ['--purge', PKG], { stdio: 'ignore', env: childEnv() });
    } catch {}
  }
  removeWorkSync();
}

// ---------------------------------------------------------------------------------------------
// Scripts and files (fixed text; the only values written into them are checked against
// SAFE_PATH or are numbers and fixed names)

/**
 * hyperfine's --prepare: `node prepare.cjs LIB NEW [CGROUP_PROCS MIN]` waits (when asked) until
 * at least MIN processes of that cgroup map LIB, replaced or not (a restarted heavy unit is up
 * again), then
 * renames a copy of NEW over LIB, as dpkg does: every process mapping LIB maps it "(deleted)".
 */
const PREPARE_CJS = `'use strict';
// bench/fleet --prepare (see bench/fleet.ts)
const fs = require('node:fs');
const [lib, next, procs, min] = process.argv.slice(2);
function upCount() {
  let n = 0;
  for (const pid of fs.readFileSync(procs, 'utf8').split('\\n')) {
    if (pid === '') continue;
    try {
      const maps = fs.readFileSync('/proc/' + pid + '/maps', 'utf8');
      if (maps.includes(' ' + lib + '\\n') || maps.includes(' ' + lib + ' (deleted)\\n')) n++;
    } catch {}
  }
  return n;
}
if (procs !== undefined) {
  const deadline = Date.now() + 180000;
  while (upCount() < Number(min)) {
    if (Date.now() > deadline) {
      console.error('prepare: the heavy unit did not come back in 180 s');
      process.exit(1);
    }
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
  }
}
fs.copyFileSync(next, lib + '.bench-fleet-new');
fs.renameSync(lib + '.bench-fleet-new', lib);
`;

/** Records play, task and result times as JSON lines in $BENCH_FLEET_EVENTS (playbooks only). */
const CALLBACK_PY = `# bench/fleet: play, task and result times as JSON lines in $BENCH_FLEET_EVENTS.
from __future__ import annotations

import json
import os
import time

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'bench_fleet_events'
    CALLBACK_NEEDS_ENABLED = False

    def __init__(self):
        super().__init__()
        path = os.environ.get('BENCH_FLEET_EVENTS')
        self._f = open(path, 'a', encoding='utf-8') if path else None
        self._run = '%d-%d' % (os.getpid(), time.time_ns())

    def _emit(self, ev, **kw):
        if self._f is None:
            return
        # CPU of this (the main) process, and of its reaped children: workers, ssh, local modules.
        c = os.times()
        kw.update(t=time.time(), ev=ev, run=self._run, cs=c.user + c.system,
                  cc=c.children_user + c.children_system)
        self._f.write(json.dumps(kw) + '\\n')
        self._f.flush()

    def v2_playbook_on_start(self, playbook):
        self._emit('start')

    def v2_playbook_on_play_start(self, play):
        self._emit('play', name=play.get_name())

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._emit('task', name=task.get_name())

    def v2_runner_on_ok(self, result):
        self._emit('ok', host=result._host.get_name(), task=result._task.get_name())

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._emit('failed', host=result._host.get_name(), task=result._task.get_name())

    def v2_playbook_on_stats(self, stats):
        self._emit('end')
`;

const BASELINE_YML = `---
# bench/fleet baseline: a rolling restart without afterpatch - systemctl restart, one host at a time.
- name: Baseline - systemctl restart, serial 1
  hosts: "{{ bench_hosts | default('all') }}"
  gather_facts: false
  serial: 1
  tasks:
    - name: Restart the units
      ansible.builtin.command:
        argv: "{{ ['systemctl', 'restart', '--'] + bench_units }}"
      changed_when: true
`;

/**
 * The controller's save of one batch, alone: rolling-restart.yml's tasks/save-result.yml over
 * synthetic hosts that are never contacted (the save runs on the controller). Every host's
 * result is bench_result (-e @file); -e: bench_hosts, afterpatch_phase, afterpatch_report_dir.
 */
const SAVE_YML = `---
# bench/fleet: tasks/save-result.yml alone, one batch of synthetic hosts (none is contacted).
- name: Save - one batch
  hosts: "{{ bench_hosts }}"
  gather_facts: false
  vars_files: [${join(ANSIBLE_DIR, 'vars', 'report.yml')}]
  tasks:
    - name: Save
      ansible.builtin.import_tasks: ${join(ANSIBLE_DIR, 'tasks', 'save-result.yml')}
      vars:
        afterpatch_result_var: bench_result
`;

// ---------------------------------------------------------------------------------------------
// hyperfine

interface Leg {
  name: string;
  argv: string[];
  /** hyperfine --prepare for this leg (a command line); `true` when absent. */
  prepare?: string;
}

async function runHyperfine(
  id: string,
  legs: readonly Leg[],
  opts: { runs: number; warmup: number; ignoreFailure?: boolean; env: NodeJS.ProcessEnv },
): Promise<Map<string, HfResult>> {
  const base = join(OUT, `fleet-N${N}-${id}`);
  const args: string[] = [];
  if (opts.ignoreFailure) args.push('-i');
  if (legs.some((l) => l.prepare !== undefined)) {
    for (const l of legs) args.push('--prepare', l.prepare ?? 'true');
  }
  for (const l of legs) args.push('-n', l.name, cmdline(l.argv));
  log(`hyperfine ${id}: ${legs.length} commands, warmup ${opts.warmup}, ${opts.runs} runs`);
  const code = await hyperfine(base, {
    warmup: opts.warmup,
    runs: opts.runs,
    args,
    env: opts.env,
    ...(rig === undefined ? {} : { cwd: rig.dir }),
  });
  if (code !== 0) die(`hyperfine ${id} exited ${code}`);
  const results = readHyperfine(base);
  const out = new Map<string, HfResult>();
  for (const r of results) out.set(r.command, r);
  for (const l of legs) if (!out.has(l.name)) die(`hyperfine ${id}: no result for ${l.name}`);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Callback events

interface Ev {
  t: number;
  /** CPU seconds so far of ansible-playbook's main process, and of its reaped children. */
  cs: number;
  cc: number;
  ev: string;
  run: string;
  name?: string;
  host?: string;
  task?: string;
}

function readEvents(file: string): Map<string, Ev[]> {
  const runs = new Map<string, Ev[]>();
  if (!existsSync(file)) return runs;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    const e = JSON.parse(line) as Ev;
    const list = runs.get(e.run) ?? [];
    list.push(e);
    runs.set(e.run, list);
  }
  return runs;
}

interface Span {
  name: string;
  s: number;
  /** CPU (s) of the main process and of its children during the span. */
  self: number;
  kids: number;
}

/** Durations (s) of plays: each play start to the next play start or the end of the run. */
function playSpans(evs: readonly Ev[]): Span[] {
  const out: Span[] = [];
  const marks = evs.filter((e) => e.ev === 'play' || e.ev === 'end');
  for (let i = 0; i + 1 < marks.length; i++) {
    const a = marks[i];
    const b = marks[i + 1];
    if (a?.ev === 'play' && b !== undefined)
      out.push({ name: a.name ?? '', s: b.t - a.t, self: b.cs - a.cs, kids: b.cc - a.cc });
  }
  return out;
}

/** Durations (s) of tasks inside plays whose name starts with `play`. */
function taskSpans(evs: readonly Ev[], play: string): Span[] {
  const out: Span[] = [];
  let inPlay = false;
  let cur: Ev | undefined;
  for (const e of evs) {
    if (e.ev === 'play' || e.ev === 'end' || e.ev === 'task') {
      if (cur !== undefined)
        out.push({
          name: cur.name ?? '',
          s: e.t - cur.t,
          self: e.cs - cur.cs,
          kids: e.cc - cur.cc,
        });
      cur = undefined;
    }
    if (e.ev === 'play') inPlay = (e.name ?? '').startsWith(play);
    if (e.ev === 'task' && inPlay) cur = e;
  }
  return out;
}

function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] ?? 0) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
}

/** The batches Ansible makes of `hosts` hosts with `serial: sizes` (the last size repeats). */
function serialBatches(hosts: number, sizes: readonly number[]): number[] {
  const out: number[] = [];
  for (let left = hosts, i = 0; left > 0; i++) {
    const size = Math.min(left, sizes[Math.min(i, sizes.length - 1)] ?? 1);
    out.push(size);
    left -= size;
  }
  return out;
}

interface BatchStats {
  batches: number[];
  plays: Map<string, number>;
  /** Medians of the plays' CPU: main process, children. */
  playSelf: Map<string, number>;
  playKids: Map<string, number>;
  tasks: Map<string, number>;
  total: number;
}

/** Per-batch times of `batchPlay` (every run), medians of the other plays and of its tasks. */
function batchStats(file: string, batchPlay: string): BatchStats {
  const runs = [...readEvents(file).values()];
  const batches: number[] = [];
  const plays = new Map<string, number[]>();
  const playSelf = new Map<string, number[]>();
  const playKids = new Map<string, number[]>();
  const tasks = new Map<string, number[]>();
  const totals: number[] = [];
  for (const evs of runs) {
    const start = evs.find((e) => e.ev === 'start');
    const end = evs.find((e) => e.ev === 'end');
    if (start === undefined || end === undefined) continue;
    totals.push(end.t - start.t);
    const perPlay = new Map<string, Span>();
    for (const p of playSpans(evs)) {
      if (p.name.startsWith(batchPlay)) batches.push(p.s);
      const q = perPlay.get(p.name);
      perPlay.set(p.name, {
        name: p.name,
        s: (q?.s ?? 0) + p.s,
        self: (q?.self ?? 0) + p.self,
        kids: (q?.kids ?? 0) + p.kids,
      });
    }
    for (const [k, v] of perPlay) {
      plays.set(k, [...(plays.get(k) ?? []), v.s]);
      playSelf.set(k, [...(playSelf.get(k) ?? []), v.self]);
      playKids.set(k, [...(playKids.get(k) ?? []), v.kids]);
    }
    for (const t of taskSpans(evs, batchPlay))
      tasks.set(t.name, [...(tasks.get(t.name) ?? []), t.s]);
  }
  const med = (m: Map<string, number[]>) =>
    new Map([...m].map(([k, v]): [string, number] => [k, median(v)]));
  return {
    batches,
    plays: med(plays),
    playSelf: med(playSelf),
    playKids: med(playKids),
    tasks: med(tasks),
    total: median(totals),
  };
}

// ---------------------------------------------------------------------------------------------
// Checks

interface ScanDoc {
  format?: string;
  summary?: { processes?: number; scanned?: number };
  entries?: { unit?: string | null; pids?: number[] }[];
}

interface ModuleResult {
  failed?: boolean;
  needs_restart?: boolean;
  msg?: string;
  scan?: ScanDoc;
}

function stalePids(pids: readonly number[]): number {
  let n = 0;
  for (const pid of pids) {
    try {
      if (readFileSync(`/proc/${pid}/maps`, 'utf8').includes(` ${LIB} (deleted)\n`)) n++;
    } catch {}
  }
  return n;
}

function memAvailableKiB(): number {
  const m = /^MemAvailable:\s+([0-9]+) kB$/m.exec(readFileSync('/proc/meminfo', 'utf8'));
  return Number(m?.[1] ?? 0);
}

// ---------------------------------------------------------------------------------------------

const f1 = (x: number) => x.toFixed(1);
const f2 = (x: number) => x.toFixed(2);
const f3 = (x: number) => x.toFixed(3);
const ms = (x: number) => `${Math.round(x * 1000).toLocaleString('en-US')} ms`;
const sms = (x: number) => `${x < 0 ? '−' : '+'}${ms(Math.abs(x))}`;
const kib = (b: number) => `${(b / 1024).toFixed(1)} KiB`;

async function main(): Promise<void> {
  const runs = intEnv('RUNS', 3, 2, 100);
  const warmup = intEnv('WARMUP', 1, 0, 100);
  const playRuns = intEnv('PLAY_RUNS', 2, 2, 100);
  const heavyN = intEnv('HEAVY', 5000, 100, 20_000);
  const cores = intEnv('CORES', 2, 1, 1024);
  const fleet = intEnv('FLEET', 500, 1, 100_000);
  const forks = intEnv('FORKS', 50, 1, 1000);
  const windowH = numEnv('WINDOW_H', 12, 1, 168);
  const healthS = numEnv('HEALTH_S', 60, 0, 3600);
  const margin = numEnv('MARGIN', 0.33, 0, 0.9);

  // --- preconditions -------------------------------------------------------------------------
  if (process.getuid?.() !== 0) die('must run as root (boots systemd sandboxes, installs a .deb)');
  const can = canBootRig();
  if (!can.ok) die(`cannot boot the rig: ${can.reason}`);
  await requireTools(
    ['hyperfine', 'gcc', 'dpkg-deb', 'ansible', 'nsenter'],
    'apt-get install hyperfine gcc dpkg-dev ansible-core',
  );
  await waitForDist();
  requireSafePaths([LIBRARY]);
  if (await isInstalled(PKG))
    die(`${PKG} is installed (left by an interrupted run?): dpkg --purge ${PKG}`);
  {
    const procs = readdirSync('/proc').filter((n) => /^[0-9]+$/.test(n)).length;
    const need = heavyN + procs + 1000;
    const pidMax = Number(readFileSync('/proc/sys/kernel/pid_max', 'utf8'));
    const threadsMax = Number(readFileSync('/proc/sys/kernel/threads-max', 'utf8'));
    if (need > pidMax) die(`kernel.pid_max is ${pidMax}, need ${need} for HEAVY=${heavyN}`);
    if (need > threadsMax) die(`kernel.threads-max is ${threadsMax}, need ${need}`);
    // ~0.2 MiB a holder (measured: see the summary), and room for everything else.
    const needKiB = heavyN * 400 + 2 * 1024 * 1024;
    if (memAvailableKiB() < needKiB)
      die(`MemAvailable ${memAvailableKiB()} KiB < ${needKiB} KiB needed for HEAVY=${heavyN}`);
  }

  // --- build ---------------------------------------------------------------------------------
  const dir = makeWorkDir();
  process.on('exit', exitCleanupSync);
  log(`building ${PKG}, the spawner and the helpers in ${dir}`);
  // The CLI as it is now: the role copies it to the hosts, the playbooks' report runs it; a
  // rebuild of dist/ by someone else during the run changes neither.
  const cli = join(dir, 'afterpatch.cjs');
  copyFileSync(CLI, cli);
  chmodSync(cli, 0o755);
  const deb = await buildTestDeb({ name: PKG, version: '1.0', libValue: 1 });
  const libNext = join(dir, 'lib-next.so');
  await compileLibrary(libNext, 2, '2.0');
  const spawner = join(dir, 'spawner');
  await mustRun('gcc', ['-O2', '-Wall', '-o', spawner, join(C_SOURCES, 'spawner.c')]);
  const prepareCjs = join(dir, 'prepare.cjs');
  writeFileSync(prepareCjs, PREPARE_CJS);
  const prepareLight = cmdline([process.execPath, prepareCjs, LIB, libNext]);
  const callbacks = join(dir, 'callback_plugins');
  mkdirSync(callbacks);
  writeFileSync(join(callbacks, 'bench_fleet_events.py'), CALLBACK_PY);
  const baselineYml = join(dir, 'baseline.yml');
  writeFileSync(baselineYml, BASELINE_YML);
  const saveYml = join(dir, 'save.yml');
  writeFileSync(saveYml, SAVE_YML);
  await dpkgInstall(deb);
  installedByUs = true;

  // --- rig -----------------------------------------------------------------------------------
  log(`booting the rig: ${N} hosts`);
  let t0 = performance.now();
  const r0 = await bootRig({ count: N });
  rig = r0;
  const bootS = (performance.now() - t0) / 1000;
  const hosts = r0.hosts;
  const light = hosts[0];
  const heavy = hosts[N - 1];
  if (light === undefined || heavy === undefined) die('the rig has no hosts');
  for (const p of [r0.dir, r0.inventory]) if (!SAFE_PATH.test(p)) die(`unsafe rig path ${p}`);
  log(`rig up in ${f1(bootS)} s: ${hosts.map((h) => `${h.name}=${h.address}`).join(' ')}`);
  const inHost = new Map<string, string>();
  for (const h of hosts) {
    const script = join(dir, `in-${h.name}`);
    writeInSandboxScript(script, `rig host ${h.name}`, h.sandbox.pid1, true);
    inHost.set(h.name, script);
  }
  const inH = (h: RigHost) => inHost.get(h.name) ?? die(`no in-host script for ${h.name}`);

  const events = join(dir, 'events');
  mkdirSync(events);
  const ansibleEnv = (extra: Record<string, string> = {}) =>
    childEnv({ ...r0.env, ANSIBLE_CALLBACK_PLUGINS: callbacks, ...extra });
  const ansible = async (argv: string[], extra: Record<string, string> = {}) => {
    const [cmd, ...args] = argv;
    if (cmd === undefined) die('empty argv');
    return runHost(cmd, args, { env: ansibleEnv(extra), cwd: r0.dir, timeoutMs: 600_000 });
  };
  const show = (r: Ran) => `${r.stdout.slice(-5000)}\n--- stderr ---\n${r.stderr.slice(-3000)}`;

  log('installing afterpatch on every host with the role (install.yml, binary method)');
  t0 = performance.now();
  const inst = await ansible([
    'ansible-playbook',
    join(ANSIBLE_DIR, 'install.yml'),
    '-e',
    JSON.stringify({
      afterpatch_install_method: 'binary',
      afterpatch_binary: cli,
      afterpatch_binary_dest: HOST_CLI,
    }),
  ]);
  const installS = (performance.now() - t0) / 1000;
  if (inst.code !== 0) die(`install.yml failed:\n${show(inst)}`);

  for (const h of hosts) {
    // The holder maps the package's library; PID 1 (systemd, its parent) is its lifeline.
    // StartLimitIntervalSec=0: the timed runs restart it more often than systemd's default allows.
    await h.sandbox.installUnit(
      UNIT,
      `[Unit]\nDescription=bench/fleet app\nStartLimitIntervalSec=0\n\n` +
        `[Service]\nType=exec\nExecStart=${HOLDER} 3600 1\n`,
    );
    const r = await h.sandbox.systemctl('start', UNIT);
    if (r.code !== 0) die(`${h.name}: ${UNIT} did not start: ${r.stderr}`);
  }
  const checkStale = async (what: string) => {
    for (const h of hosts) {
      const n = stalePids(await h.sandbox.unitPids(UNIT));
      if (n < 1) die(`${what}: ${h.name}'s ${UNIT} does not map ${LIB} (deleted)`);
    }
  };
  await mustRun(process.execPath, [prepareCjs, LIB, libNext]);
  await checkStale('after prepare');

  // --- b. ad hoc: raw, ping, the module ---------------------------------------------------------
  const moduleArgs = `state=scanned afterpatch=${HOST_CLI}`;
  const adhoc = (pattern: string, forksN: number, mod: 'raw' | 'ping' | 'afterpatch') => {
    const a = ['ansible', pattern, '-f', String(forksN)];
    if (mod === 'raw') return [...a, '-m', 'raw', '-a', 'true'];
    if (mod === 'ping') return [...a, '-m', 'ping'];
    return [...a, '-M', LIBRARY, '-m', 'afterpatch', '-a', moduleArgs];
  };
  // No connection sharing: every task opens a fresh SSH connection (ansible adds ControlPath
  // only when ssh_args has ControlPersist).
  const coldSsh =
    'ANSIBLE_SSH_ARGS=-o ControlMaster=no -o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no -o LogLevel=ERROR';
  const cold = (argv: string[]) => ['env', coldSsh, ...argv];
  const legsB: Leg[] = [
    { name: 'raw true, 1 host, forks 1', argv: adhoc(light.name, 1, 'raw') },
    { name: `raw true, ${N} hosts, forks 1`, argv: adhoc('all', 1, 'raw') },
    { name: 'raw true no ControlPersist, 1 host', argv: cold(adhoc(light.name, 1, 'raw')) },
    { name: `raw true no ControlPersist, ${N} hosts`, argv: cold(adhoc('all', 1, 'raw')) },
    { name: 'ping, 1 host, forks 1', argv: adhoc(light.name, 1, 'ping') },
    { name: `ping, ${N} hosts, forks 1`, argv: adhoc('all', 1, 'ping') },
    { name: 'afterpatch, 1 host, forks 1', argv: adhoc(light.name, 1, 'afterpatch') },
    { name: `afterpatch, ${N} hosts, forks 1`, argv: adhoc('all', 1, 'afterpatch') },
    { name: `raw true, ${N} hosts, forks ${N}`, argv: adhoc('all', N, 'raw') },
    { name: `ping, ${N} hosts, forks ${N}`, argv: adhoc('all', N, 'ping') },
    { name: `afterpatch, ${N} hosts, forks ${N}`, argv: adhoc('all', N, 'afterpatch') },
  ];
  // Checked: the module's answers below (tree), every leg's exit status (hyperfine, no -i).
  // The module's answer per host, as `ansible -t` saves it (= what the controller receives).
  const tree = async (pattern: string, label: string) => {
    const d = join(dir, `tree-${label}`);
    const r = await ansible([...adhoc(pattern, N, 'afterpatch'), '-t', d]);
    if (r.code !== 0) die(`module (${label}): exit ${r.code}\n${show(r)}`);
    const out = new Map<string, { bytes: number; doc: ModuleResult }>();
    for (const h of hosts) {
      const p = join(d, h.name);
      if (!existsSync(p)) continue;
      const doc = JSON.parse(readFileSync(p, 'utf8')) as ModuleResult;
      if (doc.failed || doc.needs_restart !== true || (doc.scan?.summary?.processes ?? 0) < 1)
        die(`module (${label}) on ${h.name}: ${JSON.stringify(doc).slice(0, 2000)}`);
      out.set(h.name, { bytes: statSync(p).size, doc });
    }
    return out;
  };
  const treeLight = await tree('all', 'light');
  // How many SSH commands (ssh, sftp) one task costs per host.
  const sshOps = async (mod: 'raw' | 'ping' | 'afterpatch') => {
    const r = await ansible([...adhoc(light.name, 1, mod), '-vvv']);
    if (r.code !== 0) die(`-vvv ${mod}: exit ${r.code}\n${show(r)}`);
    const lines = r.stdout.split('\n').filter((l) => l.includes('SSH: EXEC'));
    return {
      total: lines.length,
      transfers: lines.filter((l) => /SSH: EXEC (sftp|scp)/.test(l)).length,
    };
  };
  const ops = {
    raw: await sshOps('raw'),
    ping: await sshOps('ping'),
    afterpatch: await sshOps('afterpatch'),
  };
  log(`SSH commands per host and task: ${JSON.stringify(ops)}`);

  const hfB = await runHyperfine('adhoc', legsB, { runs, warmup, env: ansibleEnv() });

  // --- c. playbooks: rolling-restart.yml against the minimal baseline --------------------------
  const rollingVars = (label: string, extra: Record<string, unknown>) => {
    const reportDir = join(dir, `report-${label}`);
    mkdirSync(reportDir, { recursive: true });
    const p = join(dir, `vars-${label}.json`);
    writeFileSync(
      p,
      JSON.stringify({
        afterpatch_cli: HOST_CLI,
        afterpatch_report_cli: cli,
        afterpatch_report_dir: reportDir,
        afterpatch_lib: PKG,
        afterpatch_serial: 1,
        afterpatch_health_command: ['systemctl', 'is-active', UNIT],
        afterpatch_health_delay: 1,
        ...extra,
      }),
    );
    return { vars: p, reportDir };
  };
  const withEvents = (label: string, argv: string[]) => [
    'env',
    `BENCH_FLEET_EVENTS=${join(events, `${label}.jsonl`)}`,
    ...argv,
  ];
  const rolling = (label: string, extra: Record<string, unknown> = {}) => {
    const { vars, reportDir } = rollingVars(label, extra);
    return {
      argv: withEvents(label, [
        'ansible-playbook',
        join(ANSIBLE_DIR, 'rolling-restart.yml'),
        '-e',
        `@${vars}`,
      ]),
      reportDir,
    };
  };
  const baseline = (label: string, pattern: string, units: string[]) => {
    const p = join(dir, `vars-${label}.json`);
    writeFileSync(p, JSON.stringify({ bench_hosts: pattern, bench_units: units }));
    return withEvents(label, ['ansible-playbook', baselineYml, '-e', `@${p}`]);
  };
  // The "nothing to restart" legs start from clean hosts: restart the unit everywhere first.
  const prepareClean = join(dir, 'prepare-clean');
  writeScript(
    prepareClean,
    `#!/bin/sh\n# bench/fleet --prepare: restart ${UNIT} on every rig host (nothing stale left)\nset -e\n` +
      hosts.map((h) => `${inH(h)} systemctl restart ${UNIT}\n`).join(''),
  );
  const c1 = rolling('rolling');
  const c3 = rolling('rolling-clean');
  const c4 = rolling('rolling-clean-1', { afterpatch_hosts: light.name });
  const legsC: Leg[] = [
    { name: `rolling-restart.yml, ${N} hosts, serial 1`, argv: c1.argv, prepare: prepareLight },
    {
      name: `baseline playbook (systemctl restart), ${N} hosts, serial 1`,
      argv: baseline('baseline', 'all', [UNIT]),
      prepare: prepareLight,
    },
    {
      name: `rolling-restart.yml, nothing to restart, ${N} hosts`,
      argv: c3.argv,
      prepare: prepareClean,
    },
    {
      name: 'rolling-restart.yml, nothing to restart, 1 host',
      argv: c4.argv,
      prepare: prepareClean,
    },
  ];
  interface FleetJson {
    summary?: Record<string, number>;
    hosts?: { host: string; restarted?: string[]; clean?: boolean }[];
  }
  const fleetOf = (reportDir: string) =>
    JSON.parse(readFileSync(join(reportDir, 'fleet.json'), 'utf8')) as FleetJson;
  const mainPids = () =>
    Promise.all(
      hosts.map(async (h) => {
        const r = await h.sandbox.systemctl('show', '-p', 'MainPID', '--value', UNIT);
        return r.stdout.trim();
      }),
    );
  log('checking the playbooks once (untimed)');
  await mustRun(process.execPath, [prepareCjs, LIB, libNext]);
  await checkStale('before the rolling restart check');
  let before = await mainPids();
  const [c1cmd, ...c1args] = c1.argv;
  const rc1 = await ansible([c1cmd ?? 'env', ...c1args]);
  if (rc1.code !== 0) die(`rolling-restart.yml failed:\n${show(rc1)}`);
  let after = await mainPids();
  const f = fleetOf(c1.reportDir);
  if (
    f.summary?.clean !== N ||
    hosts.some((h) => f.hosts?.find((x) => x.host === h.name)?.restarted?.[0] !== UNIT) ||
    after.some((p, i) => p === before[i])
  )
    die(
      `rolling-restart.yml: expected ${N} clean hosts, ${UNIT} restarted on each: ${JSON.stringify(f)}`,
    );
  await mustRun(process.execPath, [prepareCjs, LIB, libNext]);
  before = await mainPids();
  const [bcmd, ...bargs] = legsC[1]?.argv ?? [];
  const rb = await ansible([bcmd ?? 'env', ...bargs]);
  if (rb.code !== 0) die(`baseline playbook failed:\n${show(rb)}`);
  after = await mainPids();
  if (after.some((p, i) => p === before[i])) die('baseline playbook: a unit was not restarted');
  // The timed runs' events only.
  for (const n of readdirSync(events)) rmSync(join(events, n));

  const hfC = await runHyperfine('playbooks', legsC.slice(0, 2), {
    runs: playRuns,
    warmup: 0,
    env: ansibleEnv(),
  });
  // The per-host gather + verify cost is a difference of two runs: twice the runs. Checked
  // after the timing (exit status by hyperfine; the report of the last run here).
  const hfClean = await runHyperfine('playbooks-clean', legsC.slice(2), {
    runs: 2 * playRuns,
    warmup: 0,
    env: ansibleEnv(),
  });
  for (const [k, v] of hfClean) hfC.set(k, v);
  const fc = fleetOf(c3.reportDir);
  if (fc.summary?.clean !== N || fc.hosts?.some((h) => (h.restarted ?? []).length > 0))
    die(`nothing to restart: expected ${N} clean hosts, nothing restarted: ${JSON.stringify(fc)}`);
  const rollStats = batchStats(join(events, 'rolling.jsonl'), 'Restart - batch');
  const baseStats = batchStats(join(events, 'baseline.jsonl'), 'Baseline');
  const cleanStats = batchStats(join(events, 'rolling-clean.jsonl'), 'Restart - batch');
  const clean1Stats = batchStats(join(events, 'rolling-clean-1.jsonl'), 'Restart - batch');

  // --- heavy host ------------------------------------------------------------------------------
  log(`heavy host ${heavy.name}: ${HEAVY_UNIT} starts ${heavyN} holders`);
  await heavy.sandbox.installUnit(
    HEAVY_UNIT,
    `[Unit]\nDescription=bench/fleet: ${heavyN} processes mapping ${LIB}\nStartLimitIntervalSec=0\n\n` +
      `[Service]\nType=exec\nExecStart=${spawner} ${heavyN} ${HOLDER} 3600 /run/bench-heavy/pids\n` +
      'RuntimeDirectory=bench-heavy\nTasksMax=infinity\nLimitNPROC=infinity\n',
  );
  const memBefore = memAvailableKiB();
  t0 = performance.now();
  const st = await heavy.sandbox.systemctl('start', HEAVY_UNIT);
  if (st.code !== 0) die(`${HEAVY_UNIT} did not start: ${st.stderr}`);
  const cg = (
    await heavy.sandbox.systemctl('show', '-p', 'ControlGroup', '--value', HEAVY_UNIT)
  ).stdout.trim();
  if (!/^\/[A-Za-z0-9_.@/-]+$/.test(cg) || cg.includes('..')) die(`bad ControlGroup ${cg}`);
  const procsFile = join(heavy.sandbox.cgroupDir, cg, 'cgroup.procs');
  if (!SAFE_PATH.test(procsFile)) die(`unsafe cgroup path ${procsFile}`);
  const heavyPrepareArgs = [prepareCjs, LIB, libNext, procsFile, String(heavyN)];
  const prepareHeavy = cmdline([process.execPath, ...heavyPrepareArgs]);
  // Waits until all holders map the library, then replaces it.
  await mustRun(process.execPath, heavyPrepareArgs);
  const spawnS = (performance.now() - t0) / 1000;
  const heavyProcs = stalePids(await heavy.sandbox.unitPids(HEAVY_UNIT));
  if (heavyProcs < heavyN) die(`only ${heavyProcs} of ${heavyN} heavy processes are stale`);
  await sleep(1000);
  const perProcKiB = (memBefore - memAvailableKiB()) / heavyN;
  log(
    `${heavyProcs} processes stale on ${heavy.name} (up in ${f1(spawnS)} s, ` +
      `~${Math.round(perProcKiB)} KiB of memory each)`,
  );
  await checkStale('heavy phase');

  // a. in-host: scan, the module alone, against grep and nsenter -------------------------------
  const scanArgv = (h: RigHost) => [inH(h), HOST_CLI, 'scan', '--json'];
  const moduleArgsFile = join(dir, 'module-args.json');
  writeFileSync(moduleArgsFile, JSON.stringify({ state: 'scanned', afterpatch: HOST_CLI }));
  const moduleArgv = (h: RigHost) => [inH(h), 'node', join(LIBRARY, 'afterpatch'), moduleArgsFile];
  const dryRunArgv = [inH(heavy), HOST_CLI, 'restart', '--dry-run', '--json'];
  const grep = (h: RigHost) => [inH(h), 'sh', '-c', 'grep -l deleted /proc/[0-9]*/maps; exit 0'];
  /** Runs argv on the machine; its standard output as JSON, or {} when it is not JSON. */
  const runJson = async <T extends object>(argv: readonly string[]) => {
    const [cmd, ...args] = argv;
    const r = await runHost(cmd ?? '', args);
    let doc = {} as T;
    try {
      doc = JSON.parse(r.stdout) as T;
    } catch {}
    return { r, doc };
  };
  const checkInHost = async () => {
    const sizes = { lightScan: 0, heavyScan: 0, lightModuleOut: 0, heavyModuleOut: 0 };
    for (const [h, min] of [
      [light, 1],
      [heavy, heavyN],
    ] as const) {
      const { r, doc } = await runJson<ScanDoc>(scanArgv(h));
      if (r.code !== 1 || doc.format !== 'afterpatch-scan' || (doc.summary?.processes ?? 0) < min)
        die(`scan on ${h.name}: exit ${r.code}, ${JSON.stringify(doc.summary)}\n${r.stderr}`);
      const { r: m, doc: res } = await runJson<ModuleResult>(moduleArgv(h));
      if (m.code !== 0 || res.failed || (res.scan?.summary?.processes ?? 0) < min)
        die(`module alone on ${h.name}: exit ${m.code}: ${m.stdout.slice(0, 2000)}${m.stderr}`);
      if (h === light) {
        sizes.lightScan = Buffer.byteLength(r.stdout);
        sizes.lightModuleOut = Buffer.byteLength(m.stdout);
      } else {
        sizes.heavyScan = Buffer.byteLength(r.stdout);
        sizes.heavyModuleOut = Buffer.byteLength(m.stdout);
      }
    }
    const { r: d, doc: plan } = await runJson<{ plan?: { unit?: string | null }[] }>(dryRunArgv);
    if (d.code > 1 || !plan.plan?.some((e) => e.unit === HEAVY_UNIT))
      die(`restart --dry-run on ${heavy.name}: exit ${d.code}\n${d.stdout.slice(0, 2000)}`);
    return sizes;
  };
  const legsA: Leg[] = [
    { name: `nsenter true (${light.name})`, argv: [inH(light), 'true'] },
    { name: 'grep maps, light host', argv: grep(light) },
    { name: 'scan --json, light host', argv: scanArgv(light) },
    { name: 'module alone, light host', argv: moduleArgv(light) },
    { name: 'grep maps, heavy host', argv: grep(heavy) },
    { name: 'scan --json, heavy host', argv: scanArgv(heavy) },
    { name: 'restart --dry-run --json, heavy host', argv: dryRunArgv },
    { name: 'module alone, heavy host', argv: moduleArgv(heavy) },
  ];
  log('checking the in-host commands once (untimed)');
  const sizes = await checkInHost();
  // -i: scan exits 1 when it finds stale code (checked before and after the timing).
  const hfA = await runHyperfine('in-host', legsA, {
    runs: runs * 2,
    warmup: warmup + 1,
    ignoreFailure: true,
    env: childEnv(),
  });
  await checkInHost();

  // b. the module's round trip to the heavy host ----------------------------------------------
  const treeHeavy = await tree(`${light.name}:${heavy.name}`, 'heavy');
  const heavyModuleBytes = treeHeavy.get(heavy.name)?.bytes ?? 0;
  if ((treeHeavy.get(heavy.name)?.doc.scan?.summary?.processes ?? 0) < heavyN)
    die(`the module did not see the ${heavyN} processes on ${heavy.name}`);
  const hfBH = await runHyperfine(
    'adhoc-heavy',
    [
      { name: 'ping, heavy host', argv: adhoc(heavy.name, 1, 'ping') },
      { name: 'afterpatch, light host', argv: adhoc(light.name, 1, 'afterpatch') },
      { name: 'afterpatch, heavy host', argv: adhoc(heavy.name, 1, 'afterpatch') },
    ],
    { runs, warmup, env: ansibleEnv() },
  );

  // c. one batch with the heavy host ------------------------------------------------------------
  const units = [UNIT, HEAVY_UNIT];
  const ch = rolling('rolling-heavy', {
    afterpatch_hosts: heavy.name,
    afterpatch_health_command: ['systemctl', 'is-active', ...units],
  });
  const heavyBaseName = 'baseline playbook (systemctl restart), heavy host';
  const legsCH: Leg[] = [
    { name: 'rolling-restart.yml, heavy host', argv: ch.argv, prepare: prepareHeavy },
    {
      name: heavyBaseName,
      argv: baseline('baseline-heavy', heavy.name, units),
      prepare: prepareHeavy,
    },
  ];
  log('checking the heavy batch once (untimed)');
  await mustRun(process.execPath, heavyPrepareArgs);
  const [hcmd, ...hargs] = ch.argv;
  const rh = await ansible([hcmd ?? 'env', ...hargs]);
  if (rh.code !== 0) die(`rolling-restart.yml (heavy) failed:\n${show(rh)}`);
  const fh = fleetOf(ch.reportDir);
  const restarted = fh.hosts?.find((x) => x.host === heavy.name)?.restarted ?? [];
  if (fh.summary?.clean !== 1 || !restarted.includes(HEAVY_UNIT))
    die(`rolling-restart.yml (heavy): ${JSON.stringify(fh)}`);
  // What the controller keeps per phase and batch (hosts/PHASE.FIRST-HOST.jsonl).
  const saved = new Map<string, number>();
  const savedDir = join(ch.reportDir, 'hosts');
  for (const n of readdirSync(savedDir)) saved.set(n, statSync(join(savedDir, n)).size);
  for (const n of readdirSync(events)) if (n.includes('heavy')) rmSync(join(events, n));
  const jsonLines = (file: string) =>
    readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l !== '');
  /** The heavy host's result of a phase as the playbook saved it (its batch: itself alone). */
  const heavyResult = (phase: string) => {
    const lines = jsonLines(join(savedDir, `${phase}.${heavy.name}.jsonl`));
    if (lines.length !== 1) die(`${phase}.${heavy.name}.jsonl: ${lines.length} lines, expected 1`);
    return JSON.parse(lines[0] ?? '') as Record<string, unknown>;
  };

  // d. the batch save at scale: tasks/save-result.yml alone over synthetic hosts, each holding
  // the heavy host's result, in one batch of 1, FORKS and FLEET hosts (the gather phase saves
  // all hosts at once; a restart batch, its hosts), or its (small) verify result.
  const synth = (i: number) => `host${String(i + 1).padStart(5, '0')}`;
  const saveInventory = join(dir, 'save-inventory.ini');
  writeFileSync(
    saveInventory,
    `[synthetic]\n${Array.from({ length: fleet }, (_, i) => `${synth(i)}\n`).join('')}`,
  );
  const resultVars = new Map<string, string>();
  for (const phase of ['1-gather', '2-restart', '3-verify']) {
    // An extra variable, the same for every host: the save reads it through hostvars as it
    // reads a registered result (checked by hand: a result registered per host, marked unsafe,
    // saved within 5 % of the same time).
    const p = join(dir, `result-${phase}.json`);
    writeFileSync(p, JSON.stringify({ bench_result: heavyResult(phase) }));
    resultVars.set(phase, p);
  }
  /** One batch of n synthetic hosts saving `phase`; `file` is what the save writes. */
  const saveRun = (phase: string, n: number) => {
    const label = `save-${phase}-${n}`;
    const reportDir = join(dir, `report-${label}`);
    mkdirSync(join(reportDir, 'hosts'), { recursive: true });
    const vars = join(dir, `vars-${label}.json`);
    writeFileSync(
      vars,
      JSON.stringify({
        bench_hosts: `all[0:${n - 1}]`,
        afterpatch_phase: phase,
        afterpatch_report_dir: reportDir,
      }),
    );
    const result = resultVars.get(phase) ?? die(`no result for ${phase}`);
    return {
      label,
      phase,
      n,
      argv: withEvents(label, [
        'ansible-playbook',
        '-i',
        saveInventory,
        saveYml,
        '-e',
        `@${result}`,
        '-e',
        `@${vars}`,
      ]),
      file: join(reportDir, 'hosts', `${phase}.${synth(0)}.jsonl`),
    };
  };
  /** The save wrote one line per host, in order, each the heavy host's result renamed. */
  const checkSaved = (s: ReturnType<typeof saveRun>) => {
    const lines = jsonLines(s.file);
    const want = JSON.stringify({ ...heavyResult(s.phase), host: '' });
    if (
      lines.length !== s.n ||
      lines.some((l, i) => {
        const doc = JSON.parse(l) as Record<string, unknown>;
        return doc.host !== synth(i) || JSON.stringify({ ...doc, host: '' }) !== want;
      })
    )
      die(`${s.label}: ${s.file} does not hold ${s.n} hosts' results (${lines.length} lines)`);
    return lines;
  };
  const midN = Math.min(forks, fleet);
  const saves = [
    ...[...new Set([1, midN, fleet])].map((n) => saveRun('1-gather', n)),
    ...[...new Set([1, fleet])].map((n) => saveRun('3-verify', n)),
  ];
  const saveName = (s: ReturnType<typeof saveRun>) =>
    `save ${s.phase}, ${s.n} host${s.n === 1 ? '' : 's'}`;
  await runHyperfine(
    'save',
    saves.map((s) => ({ name: saveName(s), argv: s.argv })),
    { runs: playRuns, warmup: 0, env: ansibleEnv() },
  );
  for (const s of saves) checkSaved(s);
  /** The save task's time (median over the runs) for one batch of n hosts saving phase. */
  const saveTime = (phase: string, n: number) =>
    batchStats(join(events, `save-${phase}-${n}.jsonl`), 'Save - one batch').tasks.get(
      `Save the results of ${phase}`,
    ) ?? die(`no save task timed for ${phase}, ${n} hosts`);

  // The report the playbook rewrites after every batch, at fleet scale, the middle of the run:
  // the gather phase's file (FLEET hosts, from the leg above) and FLEET/2 hosts' restart
  // results, in the files of `serial: [1, '1%']` batches.
  const big = join(dir, 'report-fleet');
  mkdirSync(big);
  const gatherAll = saves.find((s) => s.phase === '1-gather' && s.n === fleet);
  if (gatherAll === undefined) die('no gather save of all hosts');
  copyFileSync(gatherAll.file, join(big, `1-gather.${synth(0)}.jsonl`));
  const restartAll = saveRun('2-restart', Math.ceil(fleet / 2));
  const rr = await ansible(restartAll.argv);
  if (rr.code !== 0) die(`${restartAll.label}: exit ${rr.code}\n${show(rr)}`);
  const restartLines = checkSaved(restartAll);
  let first = 0;
  const restartBatches = serialBatches(restartAll.n, [1, Math.max(1, Math.floor(fleet / 100))]);
  for (const size of restartBatches) {
    const batch = restartLines.slice(first, first + size);
    writeFileSync(join(big, `2-restart.${synth(first)}.jsonl`), `${batch.join('\n')}\n`);
    first += size;
  }
  const reportLeg = (files: string) =>
    // report exits 1 when a host needs work: that is the expected answer here.
    ['sh', '-c', `${process.execPath} ${cli} report --json ${files} > /dev/null; [ $? -le 1 ]`];
  const reportSmall = `report --json, 1 host (${saved.size} files)`;
  const reportBig = `report --json, ${fleet} hosts (${1 + restartBatches.length} files: gather, ${restartBatches.length} restart batches)`;
  const legsR: Leg[] = [
    { name: reportSmall, argv: reportLeg(`${savedDir}/*.jsonl`) },
    { name: reportBig, argv: reportLeg(`${big}/*.jsonl`) },
  ];
  for (const l of legsR) {
    const [cmd, ...args] = l.argv;
    const r = await runHost(cmd ?? '', args);
    if (r.code !== 0) die(`${l.name}: exit ${r.code}: ${r.stderr}`);
  }
  const hfR = await runHyperfine('report', legsR, { runs, warmup, env: childEnv() });

  const hfCH = await runHyperfine('playbooks-heavy', legsCH, {
    runs: playRuns,
    warmup: 0,
    env: ansibleEnv(),
  });
  const heavyStats = batchStats(join(events, 'rolling-heavy.jsonl'), 'Restart - batch');
  const heavyBaseStats = batchStats(join(events, 'baseline-heavy.jsonl'), 'Baseline');

  // --- report ----------------------------------------------------------------------------------
  const lines: string[] = [];
  const say = (s = '') => lines.push(s);
  const get = (m: Map<string, HfResult>, name: string) => {
    const r = m.get(name);
    if (r === undefined) die(`no result ${name}`);
    return r;
  };
  const cpu = (r: HfResult) => r.user + r.system;
  const row = (r: HfResult, vs: HfResult) =>
    `| ${r.command} | ${ms(r.mean)} ± ${Math.round((r.stddev ?? 0) * 1000)} | ${ms(cpu(r))} | ${f2(r.mean / vs.mean)}× |`;
  const table = (title: string, m: Map<string, HfResult>, vs: HfResult, what: string) => {
    say(`| ${title} | wall (mean ± σ) | ${what} | vs ${vs.command} |`);
    say('|---|---:|---:|---:|');
    for (const r of m.values()) say(row(r, vs));
    say();
  };
  say(
    `bench/fleet: ${N} rig hosts, heavy host ${heavyProcs} stale processes; RUNS=${runs}, PLAY_RUNS=${playRuns}`,
  );
  say(
    `rig boot ${f1(bootS)} s; install.yml (role, binary method) ${f1(installS)} s for ${N} hosts`,
  );
  say(
    `heavy host: ${heavyN} holders up in ${f1(spawnS)} s, ~${Math.round(perProcKiB)} KiB of memory each`,
  );
  say();

  // a
  table('in-host leg', hfA, get(hfA, `nsenter true (${light.name})`), 'CPU (user+sys)');
  const sc = (n: string) => get(hfA, n).mean;
  say(
    `scan --json vs grep: light ${f2(sc('scan --json, light host') / sc('grep maps, light host'))}×, heavy ${f2(sc('scan --json, heavy host') / sc('grep maps, heavy host'))}×`,
  );
  say(
    `JSON: scan --json light ${kib(sizes.lightScan)}, heavy ${kib(sizes.heavyScan)}; module output light ${kib(sizes.lightModuleOut)}, heavy ${kib(sizes.heavyModuleOut)}; as ansible -t saves it light ${kib(treeLight.get(light.name)?.bytes ?? 0)}, heavy ${kib(heavyModuleBytes)}`,
  );
  say(
    `saved per phase by rolling-restart.yml (heavy host): ${[...saved].map(([k, v]) => `${k} ${kib(v)}`).join(', ')}`,
  );
  say();

  // b
  const rawAll1 = get(hfB, `raw true, ${N} hosts, forks 1`);
  table('ad hoc leg', hfB, rawAll1, 'controller CPU');
  const perHost = (a: string, b: string) => {
    const x = get(hfB, a);
    const y = get(hfB, b);
    return { wall: (x.mean - y.mean) / (N - 1), cpu: (cpu(x) - cpu(y)) / (N - 1), one: y };
  };
  const raw = perHost(`raw true, ${N} hosts, forks 1`, 'raw true, 1 host, forks 1');
  const rawCold = perHost(
    `raw true no ControlPersist, ${N} hosts`,
    'raw true no ControlPersist, 1 host',
  );
  const ping = perHost(`ping, ${N} hosts, forks 1`, 'ping, 1 host, forks 1');
  const ap = perHost(`afterpatch, ${N} hosts, forks 1`, 'afterpatch, 1 host, forks 1');
  say(
    '| per host and task (forks 1: (N hosts − 1 host) / (N − 1)) | wall | controller CPU | vs raw | SSH commands |',
  );
  say('|---|---:|---:|---:|---:|');
  for (const [k, v, o] of [
    ['raw true, shared connection', raw, ops.raw],
    ['raw true, new connection', rawCold, ops.raw],
    ['ping (Python, pipelined)', ping, ops.ping],
    ['afterpatch module', ap, ops.afterpatch],
  ] as const) {
    say(
      `| ${k} | ${ms(v.wall)} | ${ms(v.cpu)} | ${f2(v.wall / raw.wall)}× | ${o.total} (${o.transfers} transfers) |`,
    );
  }
  say();
  for (const m of ['raw true', 'ping', 'afterpatch'] as const) {
    const a = get(hfB, `${m}, ${N} hosts, forks 1`).mean;
    const b = get(hfB, `${m}, ${N} hosts, forks ${N}`).mean;
    say(`${m}: forks ${N} vs forks 1 over ${N} hosts: ${f2(a / b)}× faster`);
  }
  const modAloneL = sc('module alone, light host');
  const modAloneH = sc('module alone, heavy host');
  say(
    `afterpatch module round trip (light host) ${ms(ap.wall)} = module alone on the host ${ms(modAloneL)} + Ansible and SSH ${ms(ap.wall - modAloneL)}`,
  );
  const apL = get(hfBH, 'afterpatch, light host');
  const apH = get(hfBH, 'afterpatch, heavy host');
  table('module leg', hfBH, get(hfBH, 'ping, heavy host'), 'controller CPU');
  say(
    `heavy vs light host: module alone ${sms(modAloneH - modAloneL)}, round trip ${sms(apH.mean - apL.mean)}, controller CPU ${sms(cpu(apH) - cpu(apL))}`,
  );
  say();

  // c
  const base = get(hfC, legsC[1]?.name ?? '');
  table('playbook leg', hfC, base, 'controller CPU');
  const roll = get(hfC, legsC[0]?.name ?? '');
  const clean = get(hfC, legsC[2]?.name ?? '');
  const clean1 = get(hfC, legsC[3]?.name ?? '');
  const gv = {
    wall: (clean.mean - clean1.mean) / (N - 1),
    cpu: (cpu(clean) - cpu(clean1)) / (N - 1),
  };
  say(
    `gather + verify per host (nothing to restart, ${N} hosts − 1 host): wall ${ms(gv.wall)}, controller CPU ${ms(gv.cpu)}`,
  );
  say(
    `restart phase per host (stale − nothing to restart, / ${N}): wall ${ms((roll.mean - clean.mean) / N)}, controller CPU ${ms((cpu(roll) - cpu(clean)) / N)}`,
  );
  const fmtStats = (label: string, s: BatchStats) => {
    say(
      `${label}: batch median ${ms(median(s.batches))} (${s.batches.length} batches: ${s.batches.map(f2).join(' ')} s), run median ${f2(s.total)} s`,
    );
    say(`  plays: ${[...s.plays].map(([k, v]) => `${k.split(' - ')[0]} ${f2(v)} s`).join(', ')}`);
    const tasks = [...s.tasks].filter(([, v]) => v >= 0.05);
    if (tasks.length > 0)
      say(`  batch tasks (≥ 50 ms): ${tasks.map(([k, v]) => `${k} ${f2(v)} s`).join('; ')}`);
  };
  fmtStats('rolling-restart.yml, light hosts', rollStats);
  fmtStats('baseline playbook, light hosts', baseStats);
  fmtStats('rolling-restart.yml, nothing to restart', cleanStats);
  // Who spends the controller's CPU: ansible-playbook's main process (one thread: results,
  // templating, callbacks, for every host) or its workers and their ssh (the callback's os.times()).
  const phaseCpu = (m: Map<string, number>) =>
    [...m].filter(([k]) => /^(Gather|Verify)/.test(k)).reduce((a, [, v]) => a + v, 0);
  const mainPerHost = (phaseCpu(cleanStats.playSelf) - phaseCpu(clean1Stats.playSelf)) / (N - 1);
  const kidsPerHost = (phaseCpu(cleanStats.playKids) - phaseCpu(clean1Stats.playKids)) / (N - 1);
  say(
    `gather + verify plays, controller CPU per host (callback, os.times()): main process ${ms(mainPerHost)}, workers and ssh ${ms(kidsPerHost)}`,
  );
  say();
  table('heavy batch leg', hfCH, get(hfCH, heavyBaseName), 'controller CPU');
  fmtStats('rolling-restart.yml, heavy host', heavyStats);
  fmtStats('baseline playbook, heavy host', heavyBaseStats);
  say();
  // d
  const saveG1 = saveTime('1-gather', 1);
  const saveGMid = saveTime('1-gather', midN);
  const saveGF = saveTime('1-gather', fleet);
  const saveV1 = saveTime('3-verify', 1);
  const saveVF = saveTime('3-verify', fleet);
  /** Growth of the save per host beyond the first, from a batch of 1 to a batch of n. */
  const perExtraHost = (t1: number, tn: number, n: number) => (n > 1 ? (tn - t1) / (n - 1) : 0);
  say(
    `| save leg: tasks/save-result.yml, one task per batch, synthetic hosts | save task (median of ${playRuns}) | per host beyond the first |`,
  );
  say('|---|---:|---:|');
  for (const s of saves) {
    const t = saveTime(s.phase, s.n);
    const what =
      s.phase === '1-gather' ? `heavy host's gather result (${heavyN} stale)` : 'verify result';
    say(
      `| ${what}, ${s.n} host${s.n === 1 ? '' : 's'} | ${ms(t)} | ${s.n > 1 ? ms(perExtraHost(s.phase === '1-gather' ? saveG1 : saveV1, t, s.n)) : '—'} |`,
    );
  }
  say();
  say(
    `the heavy batch's own save (rig, 1 host, 2-restart): ${ms(heavyStats.tasks.get('Save the results of 2-restart') ?? Number.NaN)}; the gather file of ${fleet} heavy hosts: ${(statSync(gatherAll.file).size / 1048576).toFixed(1)} MiB`,
  );
  say();
  const rS = get(hfR, reportSmall);
  const rB = get(hfR, reportBig);
  table('report leg', hfR, rS, 'CPU');

  // --- the model ---------------------------------------------------------------------------------
  const P = cores;
  const waves = Math.ceil(fleet / forks);
  const coldWall = Math.max(0, rawCold.wall - raw.wall);
  const coldCpu = Math.max(0, rawCold.cpu - raw.cpu);
  const heavyCpu = Math.max(0, cpu(apH) - cpu(apL));
  // One gather (or verify) phase = the module task, the other per-host tasks (group_by, the
  // skipped `fail`) and saving the results (one task for the whole phase: one batch), one after
  // the other (linear strategy).
  const lMod = ap.wall - modAloneL + modAloneH + coldWall;
  const cMod = ap.cpu + coldCpu + heavyCpu;
  // The rig's gather + verify per host holds a light host's share of the save (the verify legs'
  // growth per host): the save is charged whole below.
  const lightSave = perExtraHost(saveV1, saveVF, fleet);
  const cLocalRaw = gv.cpu / 2 - ap.cpu - lightSave;
  const cLocal = Math.max(0, cLocalRaw);
  // The save of a phase's FLEET results, measured: one process (a worker) and the main
  // process, not spread over the cores. The 1-host run below (the fixed part) already holds
  // the save of one light result.
  const saveG = Math.max(0, saveGF - saveV1);
  const saveV = Math.max(0, saveVF - saveV1);
  const modLat = waves * lMod;
  const modCpu = (fleet * cMod) / P;
  // The main process is one thread: its share is a floor however many cores the controller has.
  const mainBound = (fleet * mainPerHost) / 2;
  const gatherT = Math.max(Math.max(modLat, modCpu) + (fleet * cLocal) / P + saveG, mainBound);
  const verifyT = Math.max(Math.max(modLat, modCpu) + (fleet * cLocal) / P + saveV, mainBound);
  // A run's fixed part: the 1-host run minus that host's share (start-up, the report tasks
  // that run once, plays' overhead).
  const fixedRun = Math.max(0, clean1.mean - gv.wall);
  const reportGrowth = Math.max(0, rB.mean - rS.mean);
  const fixed = fixedRun + 2 * reportGrowth;
  say(
    `model: ${fleet} hosts of ${heavyN} processes, forks ${forks}, controller ${P} cores (CPU-bound), window ${windowH} h, margin ${Math.round(margin * 100)} %`,
  );
  say(
    `  module task per host: latency ${ms(lMod)} (Ansible+SSH ${ms(ap.wall - modAloneL)} + module on the heavy host ${ms(modAloneH)} + new connection ${ms(coldWall)}), controller CPU ${ms(cMod)} (module ${ms(ap.cpu)} + new connection ${ms(coldCpu)} + heavy result ${ms(heavyCpu)})`,
  );
  say(
    `  other per-host tasks per phase: ${ms(cLocal)} CPU (gather + verify ${ms(gv.cpu)} / 2 − module ${ms(ap.cpu)} − the light result's share of the save ${ms(lightSave)}${cLocalRaw < 0 ? ` = ${sms(cLocalRaw)}, taken as 0` : ''})`,
  );
  say(
    `  saving the phase's ${fleet} results in one task (measured; less the 1-host save in the fixed part, ${f2(saveV1)} s): gather ${f2(saveGF)} s → ${f2(saveG)} s, verify ${f2(saveVF)} s → ${f2(saveV)} s`,
  );
  say(
    `  gather: module max(latency ${waves} waves × ${f2(lMod)} s = ${f1(modLat)} s, CPU ${fleet} × ${f3(cMod)} s / ${P} = ${f1(modCpu)} s) + other tasks ${fleet} × ${f3(cLocal)} s / ${P} + save ${f1(saveG)} s → ${f1(gatherT)} s; verify ${f1(verifyT)} s; floor of the main process ${fleet} × ${f3(mainPerHost / 2)} s = ${f1(mainBound)} s a phase`,
  );
  say(
    `  fixed: a run's own (1-host run − 1 host's share) ${f1(fixedRun)} s + the summary and final report at ${fleet} hosts 2 × ${f2(reportGrowth)} s more`,
  );
  const gatherVerify = gatherT + verifyT + fixed;
  say(`  gather + verify at ${fleet} hosts: ${f1(gatherVerify)} s = ${f1(gatherVerify / 60)} min`);
  // A batch: the measured heavy-host batch (its save of one result included), the report
  // rewrite at fleet size, health beyond the measured `systemctl is-active`, and for every
  // further host in the batch the controller CPU of its tasks (restart module, health command,
  // the others) spread over the cores, and its share of the batch's one save, which is not
  // (measured up to FORKS hosts a batch, the largest the model's batches run in one wave).
  const b1 = median(heavyStats.batches) + reportGrowth;
  const cB = cMod + ping.cpu + cLocal;
  const saveB =
    midN > 1 ? perExtraHost(saveG1, saveGMid, midN) : perExtraHost(saveG1, saveGF, fleet);
  const usable = windowH * 3600 * (1 - margin) - gatherVerify;
  say(
    `  batch of 1 heavy host: ${f1(median(heavyStats.batches))} s measured + ${f2(reportGrowth)} s report at ${fleet} hosts = ${f1(b1)} s; each further host in a batch + ${ms(cB)} CPU / ${P} cores + ${ms(saveB)} to save its result`,
  );
  say(`  usable window: ${windowH} h × ${f2(1 - margin)} − gather/verify = ${f1(usable / 3600)} h`);
  say(
    '| health + warm-up per batch | batch (1 host) | smallest serial that fits | batches | recommended serial | batches | restart phase | whole run |',
  );
  say('|---:|---:|---|---:|---|---:|---:|---:|');
  for (const h of [...new Set([0, healthS, 300, 900])]) {
    const bt = (s: number) => Math.ceil(s / forks) * (b1 + h) + (s - 1) * (cB / P + saveB);
    // A serial list's batches and their time.
    const plan = (sizes: number[]) => {
      const batches = serialBatches(fleet, sizes);
      return { t: batches.reduce((t, size) => t + bt(size), 0), n: batches.length };
    };
    let s = 1;
    while (s < fleet && plan([1, s]).t > usable) s++;
    // Recommended: a canary, then 1 % of the fleet, then the smallest whole percentage >= s
    // (Ansible rounds a percentage down, at least 1 host).
    const pctSize = (pct: number) => Math.max(1, Math.floor((pct * fleet) / 100));
    let pct = 1;
    while (pctSize(pct) < s && pct < 100) pct++;
    const rec = pct === 1 ? [1, pctSize(1)] : [1, pctSize(1), pctSize(pct)];
    const recText = pct === 1 ? "[1, '1%']" : `[1, '1%', '${pct}%']`;
    const p0 = plan([1, s]);
    const p1 = plan(rec);
    say(
      `| ${h} s | ${f1(b1 + h)} s | ${s === 1 ? '1' : `[1, ${s}]`} | ${p0.n} | ${recText} | ${p1.n} | ${f1(p1.t / 3600)} h | ${f1((p1.t + gatherVerify) / 3600)} h${p1.t > usable ? ' (over)' : ''} |`,
    );
  }
  const text = `${lines.join('\n')}\n`;
  process.stdout.write(`\n${text}`);
  writeFileSync(join(OUT, `fleet-summary-N${N}.txt`), text);
  log(`results in ${OUT}/fleet-N${N}-*.{json,md} and fleet-summary-N${N}.txt`);
}

await runBench({ name: 'bench/fleet', workPrefix: 'fleet-', timestamps: true }, main, async () => {
  const r = rig;
  if (r !== undefined) {
    log('stopping the rig');
    await cleanupStep('stopping the rig', () => r.stop());
    rig = undefined;
  }
  if (installedByUs) {
    log(`purging ${PKG}`);
    await cleanupStep(`dpkg --purge ${PKG}`, () => dpkgPurge(PKG));
    installedByUs = false;
  }
});
