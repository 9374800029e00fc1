// Tests of the systemd sandbox harness itself (needs root; skips with the reason otherwise).
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  bootSandbox,
  canBootSandbox,
  isAlive,
  type Sandbox,
  unifiedCgroupOf,
} from '../../harness/sandbox.ts';

const execFileP = promisify(execFile);
const can = canBootSandbox();
const skip = can.ok ? false : `systemd sandbox unavailable: ${can.reason}`;
const SANDBOX_TS = fileURLToPath(new URL('../../harness/sandbox.ts', import.meta.url));

// A Type=notify daemon: tells systemd READY=1 over $NOTIFY_SOCKET, then sleeps until killed.
const NOTIFY_C = `
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
int main(void) {
  const char *p = getenv("NOTIFY_SOCKET");
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  if (p == NULL || p[0] == 0 || strlen(p) >= sizeof sa.sun_path) return 2;
  size_t n = strlen(p);
  memcpy(sa.sun_path, p, n);
  if (p[0] == '@') sa.sun_path[0] = 0; /* abstract socket */
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  const char msg[] = "READY=1\\nSTATUS=afterpatch test daemon";
  if (fd < 0 || sendto(fd, msg, sizeof msg - 1, 0, (struct sockaddr *)&sa,
                       offsetof(struct sockaddr_un, sun_path) + n) < 0) return 3;
  close(fd);
  for (;;) pause();
}
`;

function showProps(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) out[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return out;
}

async function mainPid(sb: Sandbox, unit: string): Promise<{ pid: number; state: string }> {
  const r = await sb.systemctl('show', '-p', 'MainPID,ActiveState', unit);
  assert.equal(r.code, 0, r.stderr);
  const p = showProps(r.stdout);
  return { pid: Number(p.MainPID), state: p.ActiveState ?? '' };
}

/** The sandbox-side PID of a host PID (last NSpid field). */
function nsPid(hostPid: number): number {
  const status = readFileSync(`/proc/${hostPid}/status`, 'utf8');
  const line = status.split('\n').find((l) => l.startsWith('NSpid:'));
  assert.ok(line, `no NSpid for ${hostPid}`);
  return Number(line.split('\t').at(-1));
}

/** Every PID in a cgroup subtree, read on the host. */
function cgroupTreePids(dir: string): number[] {
  const out: number[] = [];
  const walk = (d: string) => {
    for (const l of readFileSync(join(d, 'cgroup.procs'), 'utf8').split('\n')) {
      if (l !== '') out.push(Number(l));
    }
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name));
    }
  };
  walk(dir);
  return out;
}

/** Dead, or a different process that reused the PID outside the sandbox's cgroup. */
function goneFromSandbox(pid: number, name: string): boolean {
  if (!isAlive(pid)) return true;
  const cg = unifiedCgroupOf(pid);
  return cg === undefined || !(cg === `/${name}` || cg.startsWith(`/${name}/`));
}

function assertCleanedUp(
  sb: Sandbox,
  pids: readonly number[],
  mountinfoBefore: string | undefined,
): void {
  assert.equal(existsSync(sb.cgroupDir), false, `cgroup ${sb.cgroupDir} left behind`);
  assert.equal(existsSync(sb.stateDir), false, `state dir ${sb.stateDir} left behind`);
  for (const pid of pids) assert.ok(goneFromSandbox(pid, sb.name), `PID ${pid} still alive`);
  if (mountinfoBefore !== undefined) {
    assert.equal(readFileSync('/proc/self/mountinfo', 'utf8'), mountinfoBefore);
  }
}

describe('systemd sandbox', { skip }, () => {
  let sb: Sandbox | undefined;
  let work = '';
  let notifyBin = '';

  const box = (): Sandbox => {
    assert.ok(sb, 'sandbox not booted');
    return sb;
  };

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'afterpatch-sandbox-test-'));
    writeFileSync(join(work, 'notifyd.c'), NOTIFY_C);
    notifyBin = join(work, 'notifyd');
    await execFileP('gcc', ['-O1', '-o', notifyBin, join(work, 'notifyd.c')]);
    sb = await bootSandbox();
  });

  after(async () => {
    await sb?.stop();
    if (work !== '') rmSync(work, { recursive: true, force: true });
  });

  it('boots to "running" with its own hostname, machine-id and PID 1', async () => {
    const s = box();
    const r = await s.systemctl('is-system-running');
    assert.equal(r.stdout.trim(), 'running', await s.journal());
    assert.equal((await s.exec(['hostname'])).stdout.trim(), s.name);
    const mid = (await s.exec(['cat', '/etc/machine-id'])).stdout.trim();
    assert.match(mid, /^[0-9a-f]{32}$/);
    assert.notEqual(mid, readFileSync('/etc/machine-id', 'utf8').trim());
    assert.equal((await s.exec(['cat', '/proc/1/comm'])).stdout.trim(), 'systemd');
    assert.equal(nsPid(s.pid1), 1);
    assert.equal(unifiedCgroupOf(s.pid1), `/${s.name}/init.scope`);
    // Inside, the cgroup namespace hides the host's part of the path. On a hybrid host the v1
    // lines (`name=systemd:/` …) stay in the file: only the `0::` line names the unit.
    const inside = (await s.exec(['cat', '/proc/1/cgroup'])).stdout.split('\n');
    assert.ok(inside.includes('0::/init.scope'), inside.join('\n'));
  });

  it('runs a Type=notify unit and a simple unit; unitPids() finds their host PIDs', async () => {
    const s = box();
    await s.installUnit(
      'ap-notify.service',
      `[Unit]\nDescription=afterpatch notify test\n[Service]\nType=notify\nExecStart=${notifyBin}\n`,
    );
    await s.installUnit(
      'ap-simple.service',
      '[Service]\nType=simple\nExecStart=/bin/sleep infinity\n',
    );
    for (const unit of ['ap-notify.service', 'ap-simple.service']) {
      const r = await s.systemctl('start', unit);
      assert.equal(r.code, 0, `${r.stderr}\n${await s.journal(unit)}`);
      const { pid, state } = await mainPid(s, unit);
      assert.equal(state, 'active');
      assert.ok(pid > 1, `MainPID of ${unit}: ${pid}`);
      const pids = await s.unitPids(unit);
      assert.equal(pids.length, 1, `${unit}: ${pids.join(',')}`);
      const host = pids[0] ?? 0;
      assert.ok(unifiedCgroupOf(host)?.endsWith(`/system.slice/${unit}`));
      assert.equal(unifiedCgroupOf(host), `/${s.name}/system.slice/${unit}`);
      assert.equal(nsPid(host), pid, 'NSpid maps the host PID to MainPID');
    }
    const status = await s.systemctl('show', '-p', 'StatusText', '--value', 'ap-notify.service');
    assert.equal(status.stdout.trim(), 'afterpatch test daemon');
    assert.match(await s.journal('ap-notify.service'), /Started ap-notify\.service/);
  });

  it('restart gives the unit a new MainPID and the old process is gone', async () => {
    const s = box();
    for (const unit of ['ap-notify.service', 'ap-simple.service']) {
      const before = await mainPid(s, unit);
      const [oldHost] = await s.unitPids(unit);
      assert.ok(oldHost);
      const r = await s.systemctl('restart', unit);
      assert.equal(r.code, 0, r.stderr);
      const after = await mainPid(s, unit);
      assert.equal(after.state, 'active');
      assert.notEqual(after.pid, before.pid);
      const [newHost] = await s.unitPids(unit);
      assert.ok(newHost && newHost !== oldHost);
      assert.ok(goneFromSandbox(oldHost, s.name), `old PID ${oldHost} still in the sandbox`);
    }
  });

  it('keeps units, network and bound directories per sandbox (options)', async (t) => {
    const hostDir = mkdtempSync(join(work, 'srv-'));
    writeFileSync(join(hostDir, 'marker'), 'per-sandbox\n');
    const dbus = existsSync('/usr/bin/dbus-daemon');
    if (!dbus) t.diagnostic('dbus-daemon not installed: system bus not tested');
    const other = await bootSandbox({ network: true, dbus, bindOver: { '/srv': hostDir } });
    try {
      assert.equal((await other.exec(['cat', '/srv/marker'])).stdout, 'per-sandbox\n');
      assert.equal(existsSync('/srv/marker'), false, 'bind must not show on the host');
      const netdev = (await other.exec(['cat', '/proc/net/dev'])).stdout;
      const ifaces = netdev
        .split('\n')
        .slice(2)
        .filter((l) => l.trim() !== '')
        .map((l) => l.split(':')[0]?.trim());
      assert.deepEqual(ifaces, ['lo']);
      // Units are per sandbox: the first sandbox's unit does not exist here.
      const cat = await other.systemctl('cat', 'ap-simple.service');
      assert.notEqual(cat.code, 0);
      if (dbus) {
        const v = await other.exec([
          'busctl',
          'get-property',
          'org.freedesktop.systemd1',
          '/org/freedesktop/systemd1',
          'org.freedesktop.systemd1.Manager',
          'Version',
        ]);
        assert.equal(v.code, 0, v.stderr);
        assert.match(v.stdout, /^s "\d+/);
        assert.ok(existsSync(`/proc/${other.pid1}/root/run/dbus/system_bus_socket`));
      }
      assert.equal((await other.systemctl('is-system-running')).stdout.trim(), 'running');
    } finally {
      await other.stop();
    }
  });

  it('boots several sandboxes in parallel', async () => {
    const boxes = await Promise.all([bootSandbox(), bootSandbox(), bootSandbox()]);
    try {
      assert.equal(new Set(boxes.map((b) => b.name)).size, 3);
      assert.equal(new Set(boxes.map((b) => b.pid1)).size, 3);
      await Promise.all(
        boxes.map(async (b, i) => {
          await b.installUnit(`ap-par${i}.service`, '[Service]\nExecStart=/bin/sleep infinity\n');
          assert.equal((await b.systemctl('start', `ap-par${i}.service`)).code, 0);
          const [pid] = await b.unitPids(`ap-par${i}.service`);
          assert.equal(unifiedCgroupOf(pid ?? 0), `/${b.name}/system.slice/ap-par${i}.service`);
          assert.equal((await b.systemctl('is-system-running')).stdout.trim(), 'running');
        }),
      );
    } finally {
      await Promise.all(boxes.map((b) => b.stop()));
    }
    for (const b of boxes) assertCleanedUp(b, [b.pid1], undefined);
  });

  it('stop() leaves no process, cgroup, mount or state dir behind, and is idempotent', async () => {
    const mountinfo = readFileSync('/proc/self/mountinfo', 'utf8');
    const s = await bootSandbox();
    await s.installUnit('ap-leak.service', '[Service]\nExecStart=/bin/sleep infinity\n');
    // A forked grandchild too, so the cgroup holds more than the main process.
    await s.installUnit(
      'ap-fork.service',
      '[Service]\nType=forking\nExecStart=/bin/sh -c "sleep infinity & sleep infinity & exit 0"\n',
    );
    assert.equal((await s.systemctl('start', 'ap-leak.service', 'ap-fork.service')).code, 0);
    const pids = cgroupTreePids(s.cgroupDir);
    assert.ok(pids.length >= 5, `expected systemd, journald and 3 sleeps, got ${pids.join(',')}`);
    assert.ok(pids.includes(s.pid1));
    await s.stop();
    assertCleanedUp(s, pids, mountinfo);
    await s.stop(); // idempotent
    await assert.rejects(s.exec(['true']), /stopped/);
    assert.equal(await s.journal(), '');
  });

  it('tears sandboxes down when the test process exits or is signalled', async () => {
    const script = join(work, 'orphan.mts');
    writeFileSync(
      script,
      `import { bootSandbox } from ${JSON.stringify(SANDBOX_TS)};\n` +
        'const sb = await bootSandbox();\n' +
        'console.log(JSON.stringify({ name: sb.name, pid1: sb.pid1, cg: sb.cgroupDir, state: sb.stateDir }));\n' +
        "if (process.argv[2] === 'exit') process.exit(0);\n" +
        'setInterval(() => {}, 1000);\n',
    );
    for (const how of ['exit', 'SIGTERM'] as const) {
      const child = spawn(process.execPath, ['--import', 'tsx', script, how], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const line = await new Promise<string>((resolve, reject) => {
        let buf = '';
        child.stdout.on('data', (b: Buffer) => {
          buf += b.toString();
          if (buf.includes('\n')) resolve(buf.slice(0, buf.indexOf('\n')));
        });
        child.on('exit', () => reject(new Error(`child exited early: ${buf}`)));
      });
      const info = JSON.parse(line) as { name: string; pid1: number; cg: string; state: string };
      if (how === 'SIGTERM') child.kill('SIGTERM');
      await new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) resolve();
        else child.on('exit', () => resolve());
      });
      assert.equal(existsSync(info.cg), false, `${how}: cgroup left behind`);
      assert.equal(existsSync(info.state), false, `${how}: state dir left behind`);
      assert.ok(goneFromSandbox(info.pid1, info.name), `${how}: PID 1 still alive`);
    }
  });

  it('boots and stops quickly (5 cycles)', async (t) => {
    const boots: number[] = [];
    const stops: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      const s = await bootSandbox();
      const t1 = performance.now();
      await s.stop();
      const t2 = performance.now();
      boots.push(t1 - t0);
      stops.push(t2 - t1);
    }
    const fmt = (xs: number[]) => xs.map((x) => `${Math.round(x)}`).join(' ');
    t.diagnostic(`boot ms: ${fmt(boots)}; stop ms: ${fmt(stops)}`);
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
    assert.ok(median(boots) < 1000, `median boot ${median(boots)} ms`);
    assert.ok(median(stops) < 1000, `median stop ${median(stops)} ms`);
  });
});
