// Test harness: boots a real systemd as PID 1 of fresh namespaces on a machine whose own PID 1 is
// not systemd, and drives it from the host. How and why: docs/testing-systemd-sandbox.md.
//
// Safety rules this file keeps: it only signals processes it started itself or processes whose
// `0::` cgroup line lies inside the sandbox's own cgroup (and, for PID 1, whose start time is the
// one recorded at boot); it never kills by name; every mount happens inside the sandbox's private
// mount namespace; it removes only the cgroup directory and state directory it created.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { Dirent } from 'node:fs';
import {
  accessSync,
  closeSync,
  constants,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  rmdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { constants as osConstants, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { which } from './tools.ts';

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  /** Kill the command (inside and outside the namespaces) after this long; default 30 s. */
  timeoutMs?: number;
  /** Written to the command's stdin. */
  input?: string;
  /** Added to the command's environment (which otherwise holds only PATH and LANG). */
  env?: Record<string, string>;
}

export interface Sandbox {
  /** Unique name: hostname inside and the name of the sandbox's cgroup on the host. */
  readonly name: string;
  /** Host PID of the sandbox's systemd. */
  readonly pid1: number;
  /** Host directory bound over /etc/systemd/system inside. */
  readonly unitDir: string;
  /** Host path of the sandbox's cgroup (cgroup2); its namespace root. */
  readonly cgroupDir: string;
  /** Host directory holding everything the sandbox needs; removed by stop(). */
  readonly stateDir: string;
  /** Run argv inside all the sandbox's namespaces (nsenter), without a shell. */
  exec(argv: readonly string[], opts?: ExecOptions): Promise<ExecResult>;
  systemctl(...args: string[]): Promise<ExecResult>;
  /** Write a unit file into unitDir and daemon-reload. */
  installUnit(name: string, text: string): Promise<void>;
  /** Host PIDs of the processes in a unit's cgroup tree (read from the host side). */
  unitPids(unit: string): Promise<number[]>;
  /** Journal lines (of one unit, or all), read from the sandbox's volatile journal. */
  journal(unit?: string): Promise<string>;
  /** Power off, then force: SIGKILL, cgroup.kill, rmdir, remove the state dir. Idempotent. */
  stop(): Promise<void>;
}

export interface BootOptions {
  /** Lower-case letters, digits and dashes; default `afterpatch-test-<random>`. */
  name?: string;
  /** Own network namespace (only `lo`, brought up by systemd). Default false: host network. */
  network?: boolean;
  /** Keep dbus.socket/dbus.service unmasked so the sandbox has a system bus. Default false. */
  dbus?: boolean;
  /** Inside path → host directory, bound in the sandbox's mount namespace. Both must exist. */
  bindOver?: Record<string, string>;
  /** Give up booting after this long; default 20 s. */
  timeoutMs?: number;
}

const STAGE_SCRIPT = fileURLToPath(new URL('./sandbox-stage.sh', import.meta.url));
const SYSTEMD_CANDIDATES = ['/lib/systemd/systemd', '/usr/lib/systemd/systemd'];
const TOOL_DIRS = ['/usr/bin', '/bin', '/usr/sbin', '/sbin'];
const PATH_ENV = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** glibc's SIGRTMIN is 34, so systemd's "poweroff" signal SIGRTMIN+4 is 38 (`kill -l SIGRTMIN+4`). */
const SIGRTMIN_PLUS_4 = 38;
const NAME_RE = /^[a-z0-9][a-z0-9-]{0,62}$/;
const UNIT_RE = /^[A-Za-z0-9:_.\\@-]+\.(service|socket|target|timer|path|mount|automount|slice)$/;

/** Units that stay loadable: everything else shipped by the distro is masked. */
function keepUnit(name: string, dbus: boolean): boolean {
  if (name.endsWith('.target') || name.endsWith('.slice')) return true;
  if (name.startsWith('systemd-journald')) return true;
  if (/^systemd-(poweroff|halt|reboot|exit|kexec)\.service$/.test(name)) return true;
  if (dbus && (name === 'dbus.service' || name === 'dbus.socket')) return true;
  return false;
}

// ---------------------------------------------------------------------------------------------
// Preconditions

const findTool = (name: string) => which(name, TOOL_DIRS.join(':'));

function findSystemd(): string | undefined {
  for (const p of SYSTEMD_CANDIDATES) {
    try {
      accessSync(p, constants.X_OK);
      return realpathSync(p);
    } catch {}
  }
  return undefined;
}

function unescapeMountField(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
}

/** The host's cgroup2 mount point (root of the hierarchy), preferring /sys/fs/cgroup. */
function findCgroup2Mount(): string | undefined {
  let text: string;
  try {
    text = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return undefined;
  }
  const found: string[] = [];
  for (const line of text.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const left = line.slice(0, sep).split(' ');
    const right = line.slice(sep + 3).split(' ');
    if (right[0] !== 'cgroup2' || left[3] !== '/' || left[4] === undefined) continue;
    found.push(unescapeMountField(left[4]));
  }
  for (const pref of ['/sys/fs/cgroup', '/sys/fs/cgroup/unified']) {
    if (found.includes(pref)) return pref;
  }
  return found[0];
}

export function canBootSandbox(): { ok: true } | { ok: false; reason: string } {
  if (process.platform !== 'linux') return { ok: false, reason: 'systemd sandbox needs Linux' };
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    return { ok: false, reason: 'systemd sandbox needs root (run the tests as root)' };
  }
  if (findSystemd() === undefined) {
    return { ok: false, reason: `no systemd binary at ${SYSTEMD_CANDIDATES.join(' or ')}` };
  }
  for (const tool of ['unshare', 'nsenter', 'journalctl']) {
    if (findTool(tool) === undefined) {
      return { ok: false, reason: `${tool} not found (apt-get install util-linux systemd)` };
    }
  }
  if (!existsSync(STAGE_SCRIPT)) return { ok: false, reason: `missing ${STAGE_SCRIPT}` };
  const cg2 = findCgroup2Mount();
  if (cg2 === undefined) return { ok: false, reason: 'no cgroup2 hierarchy mounted on the host' };
  try {
    accessSync(join(cg2, 'cgroup.procs'), constants.W_OK);
  } catch {
    return { ok: false, reason: `cgroup2 at ${cg2} is not writable` };
  }
  return { ok: true };
}

// ---------------------------------------------------------------------------------------------
// /proc helpers

interface ProcStat {
  state: string;
  startTime: string;
}

function procStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // Fields after the last ')' (the comm may contain anything): state is field 3, starttime 22.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const state = rest[0];
  const startTime = rest[19];
  if (state === undefined || startTime === undefined) return undefined;
  return { state, startTime };
}

/** Alive = exists and is not a zombie (an exited process nobody reaped yet is dead to us). */
export function isAlive(pid: number): boolean {
  const st = procStat(pid);
  return st !== undefined && st.state !== 'Z' && st.state !== 'X';
}

/** The `0::` line of /proc/PID/cgroup, as seen from this (host) process. */
export function unifiedCgroupOf(pid: number): string | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    if (line.startsWith('0::')) return line.slice(3);
  }
  return undefined;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
/** Wait for p, at most ms (the timer is cleared so it never holds the event loop open). */
async function waitAtMost(p: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p, new Promise<void>((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
}
const sab = new Int32Array(new SharedArrayBuffer(4));
const sleepSync = (ms: number) => Atomics.wait(sab, 0, 0, ms);

function readProcs(cgDir: string): number[] {
  try {
    return readFileSync(join(cgDir, 'cgroup.procs'), 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map(Number);
  } catch {
    return [];
  }
}

/** Every PID in a cgroup subtree (host view). */
function walkProcs(cgDir: string, out: number[] = []): number[] {
  out.push(...readProcs(cgDir));
  let entries: Dirent[];
  try {
    entries = readdirSync(cgDir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) if (e.isDirectory()) walkProcs(join(cgDir, e.name), out);
  return out;
}

function populated(cgDir: string): boolean {
  try {
    return /^populated 1$/m.test(readFileSync(join(cgDir, 'cgroup.events'), 'utf8'));
  } catch {
    return false;
  }
}

/** rmdir a cgroup tree depth-first; returns the directories that could not be removed. */
function rmdirTree(dir: string): string[] {
  const left: string[] = [];
  let entries: Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT' ? [] : [dir];
  }
  for (const e of entries) if (e.isDirectory()) left.push(...rmdirTree(join(dir, e.name)));
  try {
    rmdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') left.push(dir);
  }
  return left;
}

// ---------------------------------------------------------------------------------------------
// Process-exit safety net: whatever a test forgets (or a crash skips) is torn down synchronously.

const live = new Set<SandboxImpl>();
let handlersInstalled = false;

function teardownAllSync(): void {
  for (const sb of live) {
    try {
      sb.forceStopSync();
    } catch (e) {
      process.stderr.write(`afterpatch sandbox teardown: ${(e as Error).message}\n`);
    }
  }
}

function onSignal(sig: NodeJS.Signals): void {
  teardownAllSync();
  process.removeListener(sig, onSignal);
  if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
}

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', teardownAllSync);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, onSignal);
}

// ---------------------------------------------------------------------------------------------

class SandboxImpl implements Sandbox {
  pid1 = 0;
  private pid1Start = '';
  private child: ChildProcess | undefined;
  private childExited: Promise<void> = Promise.resolve();
  private stopping: Promise<void> | undefined;
  private stopped = false;

  constructor(
    readonly name: string,
    readonly cgroupDir: string,
    readonly stateDir: string,
    readonly unitDir: string,
    private readonly network: boolean,
  ) {}

  /** Launch `unshare … sandbox-stage.sh stage1 …` and wait until systemd has finished booting. */
  async start(systemd: string, bindArgs: string[], timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const log = openSync(join(this.stateDir, 'stage.log'), 'a');
    const unshareArgs = ['--pid', '--fork', '--mount', '--uts', '--ipc'];
    if (this.network) unshareArgs.push('--net');
    unshareArgs.push('--mount-proc', '--propagation', 'private', '--kill-child=SIGKILL', '--');
    const child = spawn(
      'unshare',
      [
        ...unshareArgs,
        '/bin/sh',
        STAGE_SCRIPT,
        'stage1',
        join(this.cgroupDir, 'cgroup.procs'),
        systemd,
        this.stateDir,
        this.name,
        ...bindArgs,
      ],
      // detached = setsid(): the sandbox gets its own session, so terminal signals aimed at the
      // test runner's process group do not reach it (teardown is ours to do, in order).
      { detached: true, stdio: ['ignore', log, log], env: { PATH: PATH_ENV } },
    );
    closeSync(log);
    this.child = child;
    this.childExited = new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      child.once('exit', () => resolve());
      child.once('error', () => resolve());
    });
    child.unref();

    const exited = () => child.exitCode !== null || child.signalCode !== null;
    const waitFor = async (what: string, probe: () => boolean) => {
      while (!probe()) {
        if (exited()) throw new Error(`sandbox ${this.name}: exited while waiting for ${what}`);
        if (Date.now() > deadline)
          throw new Error(`sandbox ${this.name}: timeout waiting for ${what}`);
        await sleep(5);
      }
    };

    // unshare --fork has exactly one child: PID 1 of the new PID namespace. (Polling the
    // cgroup's cgroup.procs instead races: systemd may already have moved itself to init.scope.)
    const unsharePid = child.pid;
    if (unsharePid === undefined) throw new Error(`sandbox ${this.name}: unshare did not start`);
    await waitFor('PID 1 to be forked', () => {
      const [pid] = childrenOf(unsharePid);
      if (pid === undefined) return false;
      this.pid1 = pid;
      return true;
    });
    const st = procStat(this.pid1);
    if (st === undefined) throw new Error(`sandbox ${this.name}: PID 1 vanished`);
    this.pid1Start = st.startTime;
    // Stage 2 ends by exec'ing systemd; only then are all namespaces (cgroup too) in place.
    await waitFor("systemd to be exec'd", () => {
      try {
        return readlinkSync(`/proc/${this.pid1}/exe`) === systemd;
      } catch {
        return false;
      }
    });
    await waitFor('/run/systemd/private', () =>
      existsSync(`/proc/${this.pid1}/root/run/systemd/private`),
    );
    const r = await this.exec(['systemctl', 'is-system-running', '--wait'], {
      timeoutMs: Math.max(1000, deadline - Date.now()),
    });
    const state = r.stdout.trim();
    if (state !== 'running' && state !== 'degraded') {
      throw new Error(`sandbox ${this.name}: is-system-running says ${JSON.stringify(state)}`);
    }
  }

  /** Diagnostics for a failed boot: stage log, console, failed units. */
  diagnostics(): string {
    const read = (f: string) => {
      try {
        return readFileSync(join(this.stateDir, f), 'utf8').slice(-4000);
      } catch {
        return '';
      }
    };
    return `--- stage.log ---\n${read('stage.log')}\n--- console ---\n${read('console')}`;
  }

  /** PID 1 is still the process we booted (same PID, same start time, inside our cgroup). */
  private pid1IsOurs(): boolean {
    if (this.pid1 <= 0) return false;
    const st = procStat(this.pid1);
    if (st === undefined || st.state === 'Z' || st.startTime !== this.pid1Start) return false;
    return this.insideOurCgroup(this.pid1);
  }

  private insideOurCgroup(pid: number): boolean {
    const cg = unifiedCgroupOf(pid);
    const root = `/${basename(this.cgroupDir)}`;
    return cg !== undefined && (cg === root || cg.startsWith(`${root}/`));
  }

  private nsenterArgs(): string[] {
    const args = ['--target', String(this.pid1), '--mount', '--uts', '--ipc', '--pid', '--cgroup'];
    if (this.network) args.push('--net');
    return args;
  }

  exec(argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    if (this.stopped || this.stopping) {
      return Promise.reject(new Error(`sandbox ${this.name} is stopped`));
    }
    if (argv.length === 0) return Promise.reject(new Error('exec: empty argv'));
    const timeoutMs = opts.timeoutMs ?? 30_000;
    return new Promise<ExecResult>((resolve, reject) => {
      const child = spawn('nsenter', [...this.nsenterArgs(), '--', ...argv], {
        stdio: ['pipe', 'pipe', 'pipe'],
        env: {
          PATH: PATH_ENV,
          LANG: 'C.UTF-8',
          SYSTEMD_PAGER: '',
          SYSTEMD_COLORS: '0',
          ...opts.env,
        },
      });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on('data', (b: Buffer) => out.push(b));
      child.stderr.on('data', (b: Buffer) => err.push(b));
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        // nsenter forks the command into the PID namespace and just waits for it: kill the
        // command (our grandchild) first, then nsenter itself (our child).
        const pid = child.pid;
        if (pid !== undefined) {
          for (const kid of childrenOf(pid)) killQuietly(kid, 'SIGKILL');
        }
        child.kill('SIGKILL');
      }, timeoutMs);
      child.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        const stdout = Buffer.concat(out).toString('utf8');
        const stderr = Buffer.concat(err).toString('utf8');
        if (timedOut) {
          reject(
            new Error(
              `sandbox ${this.name}: ${JSON.stringify(argv)} timed out after ${timeoutMs} ms\n${stderr}`,
            ),
          );
          return;
        }
        const sig = signal === null ? 0 : (osConstants.signals[signal] ?? 0);
        resolve({ code: code ?? 128 + sig, stdout, stderr });
      });
      child.stdin.on('error', () => {});
      child.stdin.end(opts.input ?? '');
    });
  }

  systemctl(...args: string[]): Promise<ExecResult> {
    return this.exec(['systemctl', ...args]);
  }

  async installUnit(name: string, text: string): Promise<void> {
    if (!UNIT_RE.test(name)) throw new Error(`installUnit: bad unit name ${JSON.stringify(name)}`);
    await writeFile(join(this.unitDir, name), text, { mode: 0o644 });
    const r = await this.systemctl('daemon-reload');
    if (r.code !== 0) throw new Error(`daemon-reload failed (${r.code}): ${r.stderr}`);
  }

  async unitPids(unit: string): Promise<number[]> {
    const r = await this.systemctl('show', '--property=ControlGroup', '--value', unit);
    if (r.code !== 0) throw new Error(`systemctl show ${unit} failed: ${r.stderr}`);
    const cg = r.stdout.trim();
    if (cg === '') return [];
    if (!cg.startsWith('/') || cg.split('/').some((c) => c === '..' || c === '.')) {
      throw new Error(`unexpected ControlGroup ${JSON.stringify(cg)}`);
    }
    const pids: number[] = [];
    const walk = async (dir: string): Promise<void> => {
      try {
        const text = await readFile(join(dir, 'cgroup.procs'), 'utf8');
        for (const l of text.split('\n')) if (l !== '') pids.push(Number(l));
        const entries = await readdir(dir, { withFileTypes: true });
        for (const e of entries) if (e.isDirectory()) await walk(join(dir, e.name));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
    };
    await walk(join(this.cgroupDir, cg));
    return pids.sort((a, b) => a - b);
  }

  journal(unit?: string): Promise<string> {
    if (this.stopped || !this.pid1IsOurs()) return Promise.resolve('');
    const args = [
      '-D',
      `/proc/${this.pid1}/root/run/log/journal`,
      '--no-pager',
      '-o',
      'short-precise',
    ];
    if (unit !== undefined) args.push('-u', unit);
    return new Promise((resolve) => {
      execFile('journalctl', args, { timeout: 10_000, maxBuffer: 16 << 20 }, (_e, stdout, stderr) =>
        resolve(`${stdout}${stderr}`),
      );
    });
  }

  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    // 1. Orderly poweroff; systemd stops its units, then PID 1 exits and the namespaces die.
    if (this.pid1IsOurs()) {
      killQuietly(this.pid1, SIGRTMIN_PLUS_4);
      await waitAtMost(this.childExited, 5000);
    }
    // 2. Whatever is left: SIGKILL PID 1 (kills the whole PID namespace) and our unshare.
    this.killEverythingSync();
    await waitAtMost(this.childExited, 2000);
    for (let i = 0; i < 200 && populated(this.cgroupDir); i++) await sleep(10);
    this.removeSync();
  }

  /** Synchronous last resort for process exit / signals. */
  forceStopSync(): void {
    if (this.stopped) return;
    this.killEverythingSync();
    for (let i = 0; i < 200 && populated(this.cgroupDir); i++) sleepSync(10);
    this.removeSync();
  }

  private killEverythingSync(): void {
    if (this.pid1IsOurs()) killQuietly(this.pid1, 'SIGKILL');
    const c = this.child;
    // Our own child: its PID cannot be reused before Node has reaped it (exitCode set).
    if (c?.pid !== undefined && c.exitCode === null && c.signalCode === null) {
      killQuietly(c.pid, 'SIGKILL');
    }
    if (existsSync(this.cgroupDir)) {
      try {
        writeFileSync(join(this.cgroupDir, 'cgroup.kill'), '1');
      } catch {
        // Kernels before 5.14 have no cgroup.kill: kill what the cgroup tree lists.
        for (const pid of walkProcs(this.cgroupDir)) {
          if (this.insideOurCgroup(pid)) killQuietly(pid, 'SIGKILL');
        }
      }
    }
  }

  private removeSync(): void {
    const left = rmdirTree(this.cgroupDir);
    rmSync(this.stateDir, { recursive: true, force: true });
    this.stopped = true;
    live.delete(this);
    if (left.length > 0) {
      throw new Error(`sandbox ${this.name}: could not remove cgroups ${left.join(', ')}`);
    }
  }
}

function killQuietly(pid: number, sig: NodeJS.Signals | number): void {
  try {
    process.kill(pid, sig);
  } catch {}
}

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .split(' ')
      .filter((s) => s.trim() !== '')
      .map(Number);
  } catch {
    return [];
  }
}

/** Prepare the state directory: units, machine-id, console/kmsg files, the /run seed. */
function prepareState(stateDir: string, name: string, dbus: boolean): void {
  mkdirSync(join(stateDir, 'units'), { mode: 0o755 });
  writeFileSync(join(stateDir, 'machine-id'), `${randomBytes(16).toString('hex')}\n`, {
    mode: 0o444,
  });
  writeFileSync(join(stateDir, 'hostname'), `${name}\n`, { mode: 0o644 });
  writeFileSync(join(stateDir, 'console'), '');
  writeFileSync(join(stateDir, 'kmsg'), '');

  const run = join(stateDir, 'run');
  const unitMasks = join(run, 'systemd', 'system');
  const genMasks = join(run, 'systemd', 'system-generators');
  const envGenMasks = join(run, 'systemd', 'system-environment-generators');
  const journald = join(run, 'systemd', 'journald.conf.d');
  for (const d of [unitMasks, genMasks, envGenMasks, journald]) mkdirSync(d, { recursive: true });

  const mask = (dirs: string[], into: string, keep: (n: string) => boolean) => {
    const done = new Set<string>();
    for (const dir of dirs) {
      let names: Dirent[];
      try {
        names = readdirSync(dir, { withFileTypes: true });
      } catch {
        continue;
      }
      for (const e of names) {
        if (e.isDirectory() || done.has(e.name) || keep(e.name)) continue;
        done.add(e.name);
        symlinkSync('/dev/null', join(into, e.name));
      }
    }
  };
  // Unit directories below /run/systemd/system in systemd's search path.
  mask(
    ['/usr/local/lib/systemd/system', '/lib/systemd/system', '/usr/lib/systemd/system'],
    unitMasks,
    (n) => keepUnit(n, dbus) || n.endsWith('.wants') || n.endsWith('.requires') || n.endsWith('.d'),
  );
  for (const kind of ['system-generators', 'system-environment-generators']) {
    mask(
      [
        `/etc/systemd/${kind}`,
        `/usr/local/lib/systemd/${kind}`,
        `/lib/systemd/${kind}`,
        `/usr/lib/systemd/${kind}`,
      ],
      kind === 'system-generators' ? genMasks : envGenMasks,
      () => false,
    );
  }
  writeFileSync(
    join(journald, '50-afterpatch-test.conf'),
    '[Journal]\nStorage=volatile\nReadKMsg=no\nForwardToConsole=no\nForwardToWall=no\n',
  );
}

export async function bootSandbox(opts: BootOptions = {}): Promise<Sandbox> {
  const can = canBootSandbox();
  if (!can.ok) throw new Error(`cannot boot a systemd sandbox: ${can.reason}`);
  const systemd = findSystemd();
  const cg2 = findCgroup2Mount();
  if (systemd === undefined || cg2 === undefined) throw new Error('unreachable');

  const name = opts.name ?? `afterpatch-test-${randomBytes(5).toString('hex')}`;
  if (!NAME_RE.test(name)) throw new Error(`bootSandbox: bad name ${JSON.stringify(name)}`);

  const bindArgs: string[] = [];
  for (const [inside, hostDir] of Object.entries(opts.bindOver ?? {})) {
    if (!inside.startsWith('/') || !hostDir.startsWith('/')) {
      throw new Error(`bindOver: paths must be absolute (${inside} → ${hostDir})`);
    }
    for (const p of [inside, hostDir]) {
      if (!existsSync(p)) throw new Error(`bindOver: ${p} does not exist (create it first)`);
    }
    if (statSync(inside).isDirectory() !== statSync(hostDir).isDirectory()) {
      throw new Error(`bindOver: ${inside} and ${hostDir} must both be directories or both files`);
    }
    bindArgs.push(inside, hostDir);
  }

  // Non-recursive mkdir: EEXIST means another job owns this name; never take over its cgroup.
  const cgroupDir = join(cg2, name);
  mkdirSync(cgroupDir);
  let stateDir: string;
  try {
    stateDir = mkdtempSync(join(tmpdir(), `${name}-`));
    prepareState(stateDir, name, opts.dbus ?? false);
  } catch (e) {
    rmdirTree(cgroupDir);
    throw e;
  }

  const sb = new SandboxImpl(
    name,
    cgroupDir,
    stateDir,
    join(stateDir, 'units'),
    opts.network ?? false,
  );
  installHandlers();
  live.add(sb);
  try {
    await sb.start(systemd, bindArgs, opts.timeoutMs ?? 20_000);
  } catch (e) {
    const diag = sb.diagnostics();
    await sb.stop().catch(() => {});
    throw new Error(`${(e as Error).message}\n${diag}`, { cause: e });
  }
  return sb;
}
