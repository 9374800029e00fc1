// Test harness: a fleet of real hosts on one machine, driven by real Ansible over SSH.
//
// Each host is a systemd sandbox (sandbox.ts) with its own network namespace, joined to the test
// runner by a veth pair on a private /30 of a test subnet that exists only inside this machine,
// and running a real sshd (a unit of its own, test host key, test authorised key, no PAM).
// Directories that must differ per host (afterpatch's configuration, state and install
// directory) are bind-mounted per host inside each sandbox's mount namespace; everything else
// (/usr, /var/lib/dpkg, /tmp, …) is shared with the machine, as the sandbox notes describe.
// How and why: docs/testing-systemd-sandbox.md ("A fleet").
//
// Safety: traffic goes only to the addresses this file assigns on its own veth links; processes
// are ended only through Sandbox.stop() (its own cgroup); directories created on the machine are
// removed again only when this file created them and they are empty.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ensureMountPoint, removeMountPoints } from './mount-points.ts';
import { bootSandbox, canBootSandbox, type ExecResult, type Sandbox } from './sandbox.ts';

/**
 * Paths that hold per-host state: bound over by a directory of each host's own. /root too: what
 * Ansible does as root there (its ~/.ansible, the `rpm -q` of its package-manager facts, which
 * makes a ~/.rpmdb with Debian's rpm) stays in the rig's directory, not in the machine's /root.
 */
export const PER_HOST_DIRS = [
  '/etc/afterpatch',
  '/var/lib/afterpatch',
  '/opt/afterpatch',
  '/root',
] as const;

export interface RigHost {
  /** Inventory name: h1, h2, … */
  readonly name: string;
  /** The host's address on its veth link. */
  readonly address: string;
  readonly sandbox: Sandbox;
  /** Machine-side directory bound over each of PER_HOST_DIRS inside this host. */
  readonly dirs: Readonly<Record<(typeof PER_HOST_DIRS)[number], string>>;
}

export interface Rig {
  readonly hosts: readonly RigHost[];
  /** Temporary directory with keys, inventory, ansible.cfg; removed by stop(). */
  readonly dir: string;
  readonly inventory: string;
  /** Environment for ansible / ansible-playbook (ANSIBLE_CONFIG, HOME-independent paths). */
  readonly env: Record<string, string>;
  /** Run an Ansible command (`ansible-playbook`, `ansible`) with the rig's configuration. */
  ansible(
    argv: readonly string[],
    opts?: { timeoutMs?: number; env?: Record<string, string> },
  ): Promise<ExecResult>;
  stop(): Promise<void>;
}

export function canBootRig(): { ok: true } | { ok: false; reason: string } {
  const sb = canBootSandbox();
  if (!sb.ok) return sb;
  for (const tool of ['/usr/sbin/sshd', '/usr/bin/ssh-keygen', '/usr/bin/ansible-playbook']) {
    if (!existsSync(tool)) {
      return {
        ok: false,
        reason: `${tool} not found (apt-get install openssh-server ansible-core)`,
      };
    }
  }
  for (const tool of ['/usr/bin/python3', '/sbin/ip']) {
    if (!existsSync(tool) && !existsSync(tool.replace('/sbin/', '/usr/sbin/'))) {
      return { ok: false, reason: `${tool} not found (apt-get install python3 iproute2)` };
    }
  }
  return { ok: true };
}

interface RunOptions {
  timeoutMs?: number;
  env?: Record<string, string>;
  cwd?: string;
}

/** Runs argv without a shell; resolves with its exit status (1 when it could not run). */
function run(cmd: string, args: readonly string[], o: RunOptions = {}): Promise<ExecResult> {
  return new Promise((resolve) => {
    execFile(
      cmd,
      args,
      {
        timeout: o.timeoutMs ?? 30_000,
        maxBuffer: 64 << 20,
        env: o.env ?? { PATH: process.env.PATH ?? '' },
        cwd: o.cwd,
      },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

async function mustRun(cmd: string, args: readonly string[]): Promise<ExecResult> {
  const r = await run(cmd, args);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r;
}

/** Subnets already routed on this machine (so the rig never shadows a real network). */
async function usedPrefixes(): Promise<string> {
  return (await mustRun('ip', ['-4', 'route', 'show', 'table', 'all'])).stdout;
}

/** A random 10.x.y.0/24 no route of the machine mentions; host i gets 10.x.y.(4i+2)/30. */
async function pickSubnet(): Promise<string> {
  const routes = await usedPrefixes();
  for (let i = 0; i < 50; i++) {
    const b = randomBytes(2);
    const net = `10.${200 + ((b[0] ?? 0) % 50)}.${b[1] ?? 0}`;
    if (!routes.includes(`${net}.`) && !routes.includes('10.0.0.0/8')) return net;
  }
  throw new Error('rig: no free 10.x.y.0/24 test subnet');
}

function waitForPort(host: string, port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const s = connect({ host, port });
      s.once('connect', () => {
        s.destroy();
        resolve();
      });
      s.once('error', () => {
        s.destroy();
        if (Date.now() > deadline) reject(new Error(`rig: ${host}:${port} never answered`));
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

const SSHD_UNIT = (config: string) => `[Unit]
Description=sshd of the afterpatch test rig

[Service]
Type=simple
RuntimeDirectory=sshd
ExecStart=/usr/sbin/sshd -D -e -f ${config}

[Install]
WantedBy=multi-user.target
`;

function sshdConfig(address: string, dir: string): string {
  return [
    `ListenAddress ${address}:22`,
    `HostKey ${join(dir, 'host_key')}`,
    `AuthorizedKeysFile ${join(dir, 'client_key.pub')}`,
    'PermitRootLogin prohibit-password',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'UsePAM no',
    'StrictModes no',
    'PidFile none',
    'UseDNS no',
    'PrintMotd no',
    'Subsystem sftp internal-sftp',
    '',
  ].join('\n');
}

/** The most hosts a rig holds: one /30 each in a /24. */
export const MAX_RIG_HOSTS = 63;

export interface RigOptions {
  /** Number of hosts, 1 to MAX_RIG_HOSTS; default 3. */
  count?: number;
  /** Extra ansible.cfg [defaults] lines. */
  defaults?: Record<string, string>;
}

const INOTIFY_INSTANCES = '/proc/sys/fs/inotify/max_user_instances';
/** inotify instances a rig host's systemd, journald and sshd may take (measured: ~3). */
const INOTIFY_PER_HOST = 8;
/** The value found before this process raised it, and the value it wrote. */
let inotifyRaised: { was: number; set: number } | undefined;
let liveRigs = 0;

/**
 * Raises fs.inotify.max_user_instances so that `count` more hosts fit: every systemd takes
 * several instances, and the default 128 stops the 44th host ("Failed to create control group
 * inotify object: Too many open files"). Restored by restoreInotify() after the last rig.
 */
function raiseInotify(count: number): void {
  const now = Number(readFileSync(INOTIFY_INSTANCES, 'utf8'));
  const want = 256 + INOTIFY_PER_HOST * count * (liveRigs + 1);
  if (!Number.isSafeInteger(now) || now >= want) return;
  writeFileSync(INOTIFY_INSTANCES, String(want));
  inotifyRaised = { was: inotifyRaised?.was ?? now, set: want };
}

/** Puts back the value found, unless someone else changed it since this process raised it. */
function restoreInotify(): void {
  const r = inotifyRaised;
  if (liveRigs > 0 || r === undefined) return;
  inotifyRaised = undefined;
  try {
    if (Number(readFileSync(INOTIFY_INSTANCES, 'utf8')) === r.set)
      writeFileSync(INOTIFY_INSTANCES, String(r.was));
  } catch {}
}

/** fs.inotify.max_user_instances now (for tests and the bench). */
export function inotifyInstances(): number {
  return Number(readFileSync(INOTIFY_INSTANCES, 'utf8'));
}

/** Runs fn over items, at most `limit` at a time; after a failure no new item starts. */
async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, i: number) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  let failed = false;
  const worker = async () => {
    for (let i = next++; i < items.length && !failed; i = next++) {
      try {
        out[i] = await fn(items[i] as T, i);
      } catch (e) {
        failed = true;
        throw e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

export interface HostFootprint {
  host: string;
  /** Processes in the host's cgroup tree (systemd, journald, sshd, … and whatever runs there). */
  processes: number;
  /** Their proportional set size (shared pages split between sharers), KiB. */
  pssKiB: number;
}

/** What each host costs the machine now: its processes and their memory (PSS). */
export function rigFootprint(rig: Pick<Rig, 'hosts'>): HostFootprint[] {
  return rig.hosts.map((h) => {
    let processes = 0;
    let pssKiB = 0;
    const walk = (dir: string) => {
      try {
        for (const pid of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n')) {
          if (pid === '') continue;
          try {
            const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
            processes++;
            pssKiB += Number(/^Pss:\s+([0-9]+) kB$/m.exec(rollup)?.[1] ?? 0);
          } catch {} // gone meanwhile, or a kernel thread
        }
        for (const d of readdirSync(dir, { withFileTypes: true }))
          if (d.isDirectory()) walk(join(dir, d.name));
      } catch {} // the cgroup went away
    };
    walk(h.sandbox.cgroupDir);
    return { host: h.name, processes, pssKiB };
  });
}

export async function bootRig(opts: RigOptions = {}): Promise<Rig> {
  const can = canBootRig();
  if (!can.ok) throw new Error(`cannot boot the rig: ${can.reason}`);
  const count = opts.count ?? 3;
  if (!Number.isSafeInteger(count) || count < 1 || count > MAX_RIG_HOSTS)
    throw new Error(`bootRig: count must be 1 to ${MAX_RIG_HOSTS}, not ${count}`);
  const id = randomBytes(3).toString('hex');
  const dir = mkdtempSync(join(tmpdir(), `afterpatch-rig-${id}-`));
  const remoteTmp = `/tmp/.afterpatch-rig-${id}-ansible`;
  const hosts: RigHost[] = [];
  const links: string[] = [];
  /** Every sandbox boot started (resolved to undefined when it failed): stop() stops them all. */
  const booting: Promise<Sandbox | undefined>[] = [];
  let stopped = false;
  raiseInotify(count);
  liveRigs++;

  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await Promise.all(booting.map((b) => b.then((sb) => sb?.stop().catch(() => {}))));
    // The host side of a veth pair vanishes with its peer's namespace; delete any left over.
    for (const l of links) await run('ip', ['link', 'del', l]);
    rmSync(dir, { recursive: true, force: true });
    rmSync(remoteTmp, { recursive: true, force: true });
    const first = hosts[0];
    removeMountPoints(first === undefined ? undefined : dirname(first.sandbox.cgroupDir));
    liveRigs--;
    restoreInotify();
  };

  try {
    await mustRun('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'host_key')]);
    await mustRun('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'client_key')]);
    const net = await pickSubnet();
    for (const p of PER_HOST_DIRS) ensureMountPoint(p);

    // Many systemds booting at once share the cores: a few at a time, each given more time the
    // more hosts there are (50 hosts: ~25 s on 2 cores with nothing else running).
    const booted = await mapLimit(
      Array.from({ length: count }, (_, i) => i),
      8,
      async (i) => {
        const name = `h${i + 1}`;
        const hostDir = join(dir, name);
        const dirs = Object.fromEntries(
          PER_HOST_DIRS.map((p) => {
            const d = join(hostDir, p.slice(1).replaceAll('/', '-'));
            mkdirSync(d, { recursive: true, mode: p === '/root' ? 0o700 : 0o755 });
            return [p, d];
          }),
        ) as Record<(typeof PER_HOST_DIRS)[number], string>;
        const boot = bootSandbox({
          name: `afterpatch-rig-${id}-${name}`,
          network: true,
          bindOver: dirs,
          timeoutMs: 20_000 + 1_000 * count,
        });
        booting.push(boot.catch(() => undefined));
        const sandbox = await boot;
        return { name, i, sandbox, dirs };
      },
    );
    for (const b of booted) {
      hosts.push({
        name: b.name,
        address: `${net}.${4 * b.i + 2}`,
        sandbox: b.sandbox,
        dirs: b.dirs,
      });
    }
    await mapLimit(hosts, 8, async (h, i) => {
      const link = `ap${id}${h.name}`;
      links.push(link);
      await mustRun('ip', [
        'link',
        'add',
        link,
        'type',
        'veth',
        'peer',
        'name',
        'eth0',
        'netns',
        String(h.sandbox.pid1),
      ]);
      await mustRun('ip', ['addr', 'add', `${net}.${4 * i + 1}/30`, 'dev', link]);
      await mustRun('ip', ['link', 'set', link, 'up']);
      for (const argv of [
        ['ip', 'addr', 'add', `${h.address}/30`, 'dev', 'eth0'],
        ['ip', 'link', 'set', 'eth0', 'up'],
        ['ip', 'link', 'set', 'lo', 'up'],
      ]) {
        const r = await h.sandbox.exec(argv);
        if (r.code !== 0) throw new Error(`rig ${h.name}: ${argv.join(' ')}: ${r.stderr}`);
      }
      const config = join(dir, `sshd_config-${h.name}`);
      writeFileSync(config, sshdConfig(h.address, dir));
      await h.sandbox.installUnit('rig-sshd.service', SSHD_UNIT(config));
      const r = await h.sandbox.systemctl('start', 'rig-sshd.service');
      if (r.code !== 0) throw new Error(`rig ${h.name}: sshd did not start: ${r.stderr}`);
    });
    await Promise.all(hosts.map((h) => waitForPort(h.address, 22, 10_000 + 200 * count)));

    const inventory = join(dir, 'inventory.ini');
    writeFileSync(
      inventory,
      [
        '[rig]',
        ...hosts.map((h) => `${h.name} ansible_host=${h.address}`),
        '',
        '[rig:vars]',
        'ansible_user=root',
        `ansible_ssh_private_key_file=${join(dir, 'client_key')}`,
        'ansible_python_interpreter=/usr/bin/python3',
        '',
      ].join('\n'),
    );
    const defaults: Record<string, string> = {
      inventory,
      host_key_checking: 'False',
      retry_files_enabled: 'False',
      forks: '10',
      local_tmp: join(dir, 'ansible-local'),
      // The hosts share the machine's /tmp: one directory per rig, removed by stop().
      remote_tmp: remoteTmp,
      interpreter_python: '/usr/bin/python3',
      nocows: '1',
      ...opts.defaults,
    };
    const cfg = join(dir, 'ansible.cfg');
    writeFileSync(
      cfg,
      [
        '[defaults]',
        ...Object.entries(defaults).map(([k, v]) => `${k} = ${v}`),
        '',
        '[ssh_connection]',
        'pipelining = True',
        `control_path_dir = ${join(dir, 'cp')}`,
        `ssh_args = -o ControlMaster=auto -o ControlPersist=60s -o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no -o LogLevel=ERROR`,
        '',
      ].join('\n'),
    );
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
      HOME: dir,
      LANG: 'C.UTF-8',
      ANSIBLE_CONFIG: cfg,
      ANSIBLE_FORCE_COLOR: '0',
      ANSIBLE_NOCOLOR: '1',
      ANSIBLE_HOME: join(dir, 'ansible-home'),
    };
    const ansible: Rig['ansible'] = (argv, o = {}) => {
      const [cmd, ...args] = argv;
      if (cmd === undefined) throw new Error('rig.ansible: empty argv');
      return run(cmd, args, {
        cwd: dir,
        timeoutMs: o.timeoutMs ?? 180_000,
        env: { ...env, ...o.env },
      });
    };
    return { hosts, dir, inventory, env, ansible, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
