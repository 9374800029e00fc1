// bench/fleet-bench/context.ts - what every leg of bench/fleet works with: the test package,
// the rig with afterpatch installed by the role and fleet-app.service (one holder of the
// package's library) on every host, the scripts hyperfine runs, the Ansible command lines and
// the checks. setup() builds it; teardown() takes it down again (runBench's cleanup).
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { CLI } from '../../harness/cli.ts';
import {
  buildTestDeb,
  compileLibrary,
  dpkgInstall,
  dpkgPurge,
  testPackagePaths,
} from '../../harness/fixtures.ts';
import { bootRig, type Rig, type RigHost } from '../../harness/rig.ts';
import {
  childEnv,
  cleanupStep,
  die,
  log,
  makeWorkDir,
  mustRun,
  OUT,
  type Ran,
  REPO,
  removeWorkSync,
  runHost,
  SAFE_PATH,
} from '../lib/bench.ts';
import { cmdline, type HyperfineResult, hyperfine, readHyperfine } from '../lib/hyperfine.ts';
import { writeInSandboxScript } from '../lib/scripts.ts';
import { type BatchStats, batchStats, type Ev, parseEvents } from './events.ts';

export const ANSIBLE_DIR = join(REPO, 'integrations', 'ansible');
export const LIBRARY = join(ANSIBLE_DIR, 'library');
export const ACTION_PLUGINS = join(ANSIBLE_DIR, 'action_plugins');
const HERE = join(REPO, 'bench', 'fleet-bench');
export const BENCH_ANSIBLE = join(HERE, 'ansible');
export const PREPARE_CJS = join(HERE, 'prepare-lib.cjs');

export const PKG = 'afterpatch-bench-fleet';
export const UNIT = 'fleet-app.service';
/** Where the role installs the CLI on each rig host (a per-host directory, see rig.ts). */
export const HOST_CLI = '/opt/afterpatch/bin/afterpatch';
export const { lib: LIB, holder: HOLDER } = testPackagePaths(PKG);

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

/** runBench()'s teardown: the rig (every sandbox, with its processes), then the package. */
export async function teardown(): Promise<void> {
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
}

// ---------------------------------------------------------------------------------------------

/** A hyperfine command: name, argv, --prepare (a command line; `true` when absent). */
export interface Leg {
  name: string;
  argv: string[];
  prepare?: string;
}

export interface FleetJson {
  summary?: Record<string, number>;
  hosts?: { host: string; restarted?: string[]; clean?: boolean; failed?: boolean }[];
}

export interface Ctx {
  /** bench/out/fleet-XXXXXX */
  dir: string;
  /** The CLI copied at the start (a rebuild meanwhile changes nothing). */
  cli: string;
  rig: Rig;
  hosts: readonly RigHost[];
  /** Label of the run's output files: bench/out/fleet-<label>-<leg>.{json,md}. */
  label: string;
  bootS: number;
  installS: number;
  /** The new library, renamed over LIB by `prepare` (all hosts share /usr). */
  libNext: string;
  /** Command line for hyperfine's --prepare: every holder maps LIB "(deleted)" afterwards. */
  prepareLight: string;
  events: string;
  /** The rig's env for Ansible with the callback plugin. */
  ansibleEnv(extra?: Record<string, string>): NodeJS.ProcessEnv;
  /** Runs an Ansible command line (the rig's configuration; 10 minutes at most). */
  ansible(argv: readonly string[], extra?: Record<string, string>): Promise<Ran>;
  /** A script running its arguments inside the host (nsenter). */
  inHost(h: RigHost): string;
  /** `env BENCH_FLEET_EVENTS=events/<label>.jsonl argv…`: the callback records that run. */
  withEvents(label: string, argv: string[]): string[];
  /** Replaces the library now (as prepare does), checked: every host's unit maps it deleted. */
  prepareNow(what: string): Promise<void>;
  mainPids(hosts?: readonly RigHost[]): Promise<string[]>;
  fleetOf(reportDir: string): FleetJson;
  /** Stats of the runs recorded in events/<label>.jsonl. */
  stats(label: string, batchPlay: string): BatchStats;
  /** The recorded runs of events/<label>.jsonl. */
  runsOf(label: string): Ev[][];
  /** Forgets the recorded runs of the labels `which` selects (checks before timed runs). */
  clearEvents(which?: (label: string) => boolean): void;
  /** One hyperfine run: bench/out/fleet-<ctx.label>-<id>.{json,md}; results by leg name. */
  hyperfine(
    id: string,
    legs: readonly Leg[],
    opts: { runs: number; warmup: number; ignoreFailure?: boolean; env: NodeJS.ProcessEnv },
  ): Promise<Map<string, HyperfineResult>>;
  show(r: Ran): string;
}

export function stalePids(pids: readonly number[]): number {
  let n = 0;
  for (const pid of pids) {
    try {
      if (readFileSync(`/proc/${pid}/maps`, 'utf8').includes(` ${LIB} (deleted)\n`)) n++;
    } catch {}
  }
  return n;
}

export function memAvailableKiB(): number {
  const m = /^MemAvailable:\s+([0-9]+) kB$/m.exec(readFileSync('/proc/meminfo', 'utf8'));
  return Number(m?.[1] ?? 0);
}

/**
 * Builds the package and the helpers, boots `count` hosts, installs afterpatch with the role
 * (binary method) and starts fleet-app.service on every host.
 */
export async function setup(count: number, label: string): Promise<Ctx> {
  const dir = makeWorkDir();
  process.on('exit', exitCleanupSync);
  log(`building ${PKG} and the helpers in ${dir}`);
  // The CLI as it is now: the role copies it to the hosts, the playbooks' report runs it.
  const cli = join(dir, 'afterpatch.cjs');
  copyFileSync(CLI, cli);
  chmodSync(cli, 0o755);
  const deb = await buildTestDeb({ name: PKG, version: '1.0', libValue: 1 });
  const libNext = join(dir, 'lib-next.so');
  await compileLibrary(libNext, 2, '2.0');
  await dpkgInstall(deb);
  installedByUs = true;

  log(`booting the rig: ${count} hosts`);
  let t0 = performance.now();
  const r0 = await bootRig({ count });
  rig = r0;
  const bootS = (performance.now() - t0) / 1000;
  for (const p of [r0.dir, r0.inventory]) if (!SAFE_PATH.test(p)) die(`unsafe rig path ${p}`);
  log(`rig up in ${bootS.toFixed(1)} s`);
  const inHostScripts = new Map<string, string>();
  for (const h of r0.hosts) {
    const script = join(dir, `in-${h.name}`);
    writeInSandboxScript(script, `rig host ${h.name}`, h.sandbox.pid1, true);
    inHostScripts.set(h.name, script);
  }
  const events = join(dir, 'events');
  mkdirSync(events);
  const callbacks = join(BENCH_ANSIBLE, 'callback_plugins');
  // The action plugin also for ansible/save.yml, which imports the playbook's task file from
  // another directory (a playbook finds only the action_plugins next to it).
  const ansibleEnv = (extra: Record<string, string> = {}) =>
    childEnv({
      ...r0.env,
      ANSIBLE_CALLBACK_PLUGINS: callbacks,
      ANSIBLE_ACTION_PLUGINS: ACTION_PLUGINS,
      ...extra,
    });
  const show = (r: Ran) => `${r.stdout.slice(-5000)}\n--- stderr ---\n${r.stderr.slice(-3000)}`;
  const ansible = async (argv: readonly string[], extra: Record<string, string> = {}) => {
    const [cmd, ...args] = argv;
    if (cmd === undefined) die('empty argv');
    return runHost(cmd, args, { env: ansibleEnv(extra), cwd: r0.dir, timeoutMs: 600_000 });
  };

  log(`installing afterpatch on ${count} hosts with the role (install.yml, binary method)`);
  t0 = performance.now();
  const inst = await ansible([
    'ansible-playbook',
    '-f',
    String(Math.min(count, 50)),
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
  for (const h of r0.hosts) {
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
  const prepareNow = async (what: string) => {
    await mustRun(process.execPath, [PREPARE_CJS, LIB, libNext]);
    for (const h of r0.hosts) {
      const n = stalePids(await h.sandbox.unitPids(UNIT));
      if (n < 1) die(`${what}: ${h.name}'s ${UNIT} does not map ${LIB} (deleted)`);
    }
  };
  await prepareNow('after the first prepare');
  const runsOf = (l: string) => {
    const file = join(events, `${l}.jsonl`);
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {}
    return [...parseEvents(text).values()];
  };
  return {
    dir,
    cli,
    rig: r0,
    hosts: r0.hosts,
    label,
    bootS,
    installS,
    libNext,
    prepareLight: cmdline([process.execPath, PREPARE_CJS, LIB, libNext]),
    events,
    ansibleEnv,
    ansible,
    inHost: (h) => inHostScripts.get(h.name) ?? die(`no in-host script for ${h.name}`),
    withEvents: (l, argv) => ['env', `BENCH_FLEET_EVENTS=${join(events, `${l}.jsonl`)}`, ...argv],
    prepareNow,
    mainPids: (hs = r0.hosts) =>
      Promise.all(
        hs.map(async (h) =>
          (await h.sandbox.systemctl('show', '-p', 'MainPID', '--value', UNIT)).stdout.trim(),
        ),
      ),
    fleetOf: (reportDir) =>
      JSON.parse(readFileSync(join(reportDir, 'fleet.json'), 'utf8')) as FleetJson,
    runsOf,
    clearEvents: (which = () => true) => {
      for (const n of readdirSync(events))
        if (n.endsWith('.jsonl') && which(n.slice(0, -6))) rmSync(join(events, n));
    },
    stats: (l, batchPlay) => batchStats(runsOf(l), batchPlay),
    hyperfine: async (id, legs, opts) => {
      const base = join(OUT, `fleet-${label}-${id}`);
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
        cwd: r0.dir,
      });
      if (code !== 0) die(`hyperfine ${id} exited ${code}`);
      const out = new Map<string, HyperfineResult>();
      for (const r of readHyperfine(base)) out.set(r.command, r);
      for (const l of legs) if (!out.has(l.name)) die(`hyperfine ${id}: no result for ${l.name}`);
      return out;
    },
    show,
  };
}

/** Writes `vars` as JSON into the work directory; its path, for `-e @file`. */
export function varsFile(ctx: Ctx, label: string, vars: Record<string, unknown>): string {
  const p = join(ctx.dir, `vars-${label}.json`);
  writeFileSync(p, JSON.stringify(vars));
  return p;
}

/** rolling-restart.yml with the bench's variables (+ extra; null removes one): argv, report dir. */
export function rolling(
  ctx: Ctx,
  label: string,
  extra: Record<string, unknown> = {},
  playbook = join(ANSIBLE_DIR, 'rolling-restart.yml'),
  flags: string[] = [],
): { argv: string[]; reportDir: string } {
  const reportDir = join(ctx.dir, `report-${label}`);
  mkdirSync(reportDir, { recursive: true });
  const all: Record<string, unknown> = {
    afterpatch_cli: HOST_CLI,
    afterpatch_report_cli: ctx.cli,
    afterpatch_report_dir: reportDir,
    afterpatch_lib: PKG,
    afterpatch_serial: 1,
    afterpatch_health_command: ['systemctl', 'is-active', UNIT],
    afterpatch_health_delay: 1,
    ...extra,
  };
  // null in `extra`: leave the variable undefined (no health command, …).
  const vars = varsFile(
    ctx,
    label,
    Object.fromEntries(Object.entries(all).filter(([, v]) => v !== null)),
  );
  return {
    argv: ctx.withEvents(label, ['ansible-playbook', ...flags, playbook, '-e', `@${vars}`]),
    reportDir,
  };
}

/** The bare playbook: `systemctl restart UNITS` on `pattern`, in `serial` batches. */
export function baseline(
  ctx: Ctx,
  label: string,
  pattern: string,
  units: string[],
  serial: unknown = 1,
  flags: string[] = [],
): string[] {
  const vars = varsFile(ctx, label, {
    bench_hosts: pattern,
    bench_units: units,
    bench_serial: serial,
  });
  return ctx.withEvents(label, [
    'ansible-playbook',
    ...flags,
    join(BENCH_ANSIBLE, 'baseline.yml'),
    '-e',
    `@${vars}`,
  ]);
}
