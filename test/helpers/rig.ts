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
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ensureMountPoint, removeMountPoints } from './mount-points.ts';
import { bootSandbox, canBootSandbox, type ExecResult, type Sandbox } from './sandbox.ts';

/** Paths that hold per-host state: bound over by a directory of each host's own. */
export const PER_HOST_DIRS = ['/etc/afterpatch', '/var/lib/afterpatch', '/opt/afterpatch'] as const;

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

export interface RigOptions {
  /** Number of hosts; default 3. */
  count?: number;
  /** Extra ansible.cfg [defaults] lines. */
  defaults?: Record<string, string>;
}

export async function bootRig(opts: RigOptions = {}): Promise<Rig> {
  const can = canBootRig();
  if (!can.ok) throw new Error(`cannot boot the rig: ${can.reason}`);
  const count = opts.count ?? 3;
  const id = randomBytes(3).toString('hex');
  const dir = mkdtempSync(join(tmpdir(), `afterpatch-rig-${id}-`));
  const remoteTmp = `/tmp/.afterpatch-rig-${id}-ansible`;
  const hosts: RigHost[] = [];
  const links: string[] = [];
  let stopped = false;

  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await Promise.all(hosts.map((h) => h.sandbox.stop().catch(() => {})));
    // The host side of a veth pair vanishes with its peer's namespace; delete any left over.
    for (const l of links) await run('ip', ['link', 'del', l]);
    rmSync(dir, { recursive: true, force: true });
    rmSync(remoteTmp, { recursive: true, force: true });
    const first = hosts[0];
    removeMountPoints(first === undefined ? undefined : dirname(first.sandbox.cgroupDir));
  };

  try {
    await mustRun('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'host_key')]);
    await mustRun('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'client_key')]);
    const net = await pickSubnet();
    for (const p of PER_HOST_DIRS) ensureMountPoint(p);

    const booted = await Promise.all(
      Array.from({ length: count }, async (_, i) => {
        const name = `h${i + 1}`;
        const hostDir = join(dir, name);
        const dirs = Object.fromEntries(
          PER_HOST_DIRS.map((p) => {
            const d = join(hostDir, p.slice(1).replaceAll('/', '-'));
            mkdirSync(d, { recursive: true, mode: 0o755 });
            return [p, d];
          }),
        ) as Record<(typeof PER_HOST_DIRS)[number], string>;
        const sandbox = await bootSandbox({
          name: `afterpatch-rig-${id}-${name}`,
          network: true,
          bindOver: dirs,
        });
        return { name, i, sandbox, dirs };
      }),
    );
    for (const b of booted) {
      const address = `${net}.${4 * b.i + 2}`;
      hosts.push({ name: b.name, address, sandbox: b.sandbox, dirs: b.dirs });
      const link = `ap${id}${b.name}`;
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
        String(b.sandbox.pid1),
      ]);
      await mustRun('ip', ['addr', 'add', `${net}.${4 * b.i + 1}/30`, 'dev', link]);
      await mustRun('ip', ['link', 'set', link, 'up']);
      for (const argv of [
        ['ip', 'addr', 'add', `${address}/30`, 'dev', 'eth0'],
        ['ip', 'link', 'set', 'eth0', 'up'],
        ['ip', 'link', 'set', 'lo', 'up'],
      ]) {
        const r = await b.sandbox.exec(argv);
        if (r.code !== 0) throw new Error(`rig ${b.name}: ${argv.join(' ')}: ${r.stderr}`);
      }
      const config = join(dir, `sshd_config-${b.name}`);
      writeFileSync(config, sshdConfig(address, dir));
      await b.sandbox.installUnit('rig-sshd.service', SSHD_UNIT(config));
      const r = await b.sandbox.systemctl('start', 'rig-sshd.service');
      if (r.code !== 0) throw new Error(`rig ${b.name}: sshd did not start: ${r.stderr}`);
    }
    await Promise.all(hosts.map((h) => waitForPort(h.address, 22, 10_000)));

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
