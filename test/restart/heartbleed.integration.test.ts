// The Heartbleed drill (an operator patches OpenSSL, then restarts exactly what still maps it),
// against the real thing: Debian's nginx runs as nginx.service in a systemd sandbox with its own
// network namespace (docs/testing-systemd-sandbox.md), the machine reinstalls libssl3 (new
// inodes, exactly as a security upgrade), and `afterpatch restart --lib libssl --yes` must
// restart nginx — master and workers — so that none of its processes maps the old libssl any
// more, and nginx still serves.
//
// What it touches on the machine: the libssl3 package is reinstalled (same version:
// `apt-get install --reinstall libssl3=<installed version>`, or `dpkg -i` of the cached .deb of
// that version). Machine processes that use libssl then map a deleted file until they restart,
// as after any security update; nothing of the machine is restarted or signalled. nginx runs only
// inside the sandbox: its port 80 is the sandbox's own loopback, its /run is private, and per-test
// directories are bound over /var/log/nginx and /var/lib/nginx inside, so it writes nothing of
// the machine's. /etc/nginx is read, never written.
//
// Needs root, a bootable sandbox, nginx (package nginx or nginx-light, installed with a
// policy-rc.d that exits 101 so it never starts on the machine), libssl3 from dpkg, the libssl3
// .deb of the installed version (from the mirror or /var/cache/apt/archives), and
// `npm run build`. Skips with the reason otherwise.
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  statSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CLI } from '../../harness/cli.ts';
import { bootSandbox, canBootSandbox, type Sandbox } from '../../harness/sandbox.ts';
import { alive, mappingsOf, nsPid, removeScratch, TEST_TMP } from '../../harness/stale-lib.ts';
import type { RestartDocument } from '../../src/formats/restart.ts';
import { afterpatchJson as afterpatch, withJournalOnFailure } from '../helpers/sandbox-cli.ts';

const NGINX = '/usr/sbin/nginx';
const NGINX_UNIT_PATHS = [
  '/lib/systemd/system/nginx.service',
  '/usr/lib/systemd/system/nginx.service',
];
const UNIT = 'nginx.service';
const SSL = 'libssl.so.3';
const CRYPTO = 'libcrypto.so.3';
const APT_ARCHIVES = '/var/cache/apt/archives';

// ---------------------------------------------------------------------------------------------
// Preconditions (synchronous, so the whole suite can skip with the reason)

interface Libssl3 {
  version: string;
  arch: string;
}

/** libssl3 as dpkg has it installed, or why not. */
function installedLibssl3(): Libssl3 | string {
  let out: string;
  try {
    out = execFileSync(
      'dpkg-query',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's format, not a JS template
      ['-W', '-f', '${db:Status-Abbrev}\t${Version}\t${Architecture}', 'libssl3'],
      {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      },
    );
  } catch {
    return 'libssl3 is not a dpkg package on this machine';
  }
  const [status, version, arch] = out.split('\t');
  if (status?.trim() !== 'ii' || !version || !arch) return `libssl3 is not installed (${out})`;
  return { version, arch };
}

function nginxUnitPath(): string | undefined {
  return NGINX_UNIT_PATHS.find((p) => existsSync(p));
}

function preconditions(): { skip: string | false; libssl3: Libssl3 | undefined } {
  const can = canBootSandbox();
  if (!can.ok) return { skip: `systemd sandbox unavailable: ${can.reason}`, libssl3: undefined };
  if (!existsSync(NGINX) || nginxUnitPath() === undefined) {
    return {
      skip: `nginx is not installed (${NGINX}, ${NGINX_UNIT_PATHS.join(' or ')}): install nginx-light with a policy-rc.d that exits 101`,
      libssl3: undefined,
    };
  }
  const lib = installedLibssl3();
  if (typeof lib === 'string') return { skip: lib, libssl3: undefined };
  return { skip: false, libssl3: lib };
}

const pre = preconditions();

// ---------------------------------------------------------------------------------------------
// The JSON reports, as far as this test reads them (docs/json.md, docs/restart.md)

interface ScanFileJson {
  path: string;
  kind: string;
  inode: number;
  package: { name: string; version: string; manager: string } | null;
}

interface ScanJson {
  format: string;
  formatVersion: number;
  entries: {
    type: string;
    key: string;
    unit?: string;
    pids: number[];
    files: { path: string; kind: string; package: { name: string } | null }[];
    action: { kind: string };
  }[];
  processes: { pid: number; owner: string; files: ScanFileJson[] }[];
}

type RestartJson = RestartDocument;

// ---------------------------------------------------------------------------------------------
// The real system

async function mainPid(sb: Sandbox): Promise<number> {
  const r = await sb.systemctl('show', '-p', 'MainPID', '--value', '--', UNIT);
  assert.equal(r.code, 0, r.stderr);
  return Number(r.stdout.trim());
}

interface Proc {
  host: number;
  inner: number;
}

/** nginx.service's processes (master and workers): host PIDs from its cgroup, inner PIDs. */
async function nginxProcs(sb: Sandbox): Promise<Proc[]> {
  const out: Proc[] = [];
  for (const host of await sb.unitPids(UNIT)) {
    const inner = nsPid(host);
    if (inner !== undefined) out.push({ host, inner });
  }
  return out.sort((a, b) => a.inner - b.inner);
}

/** Master (MainPID) and workers (its children), checked against the cgroup. */
async function nginxTree(sb: Sandbox): Promise<{ master: Proc; workers: Proc[]; all: Proc[] }> {
  const main = await mainPid(sb);
  const all = await nginxProcs(sb);
  const master = all.find((p) => p.inner === main);
  assert.ok(master, `MainPID ${main} is in ${UNIT}'s cgroup: ${JSON.stringify(all)}`);
  const workers = all.filter((p) => p !== master);
  assert.ok(workers.length >= 1, `nginx has workers: ${JSON.stringify(all)}`);
  for (const w of workers) assert.equal(ppid(w.host), master.host, `${w.host} is a worker`);
  return { master, workers, all };
}

function ppid(hostPid: number): number | undefined {
  try {
    const m = /^PPid:\s+(\d+)$/m.exec(readFileSync(`/proc/${hostPid}/status`, 'utf8'));
    return m?.[1] === undefined ? undefined : Number(m[1]);
  } catch {
    return undefined;
  }
}

/** Paths (as the process sees them, " (deleted)" removed) of mapped files named `name`. */
function mappedPaths(hostPid: number, name: string): string[] {
  const paths = new Set<string>();
  for (const line of readFileSync(`/proc/${hostPid}/maps`, 'utf8').split('\n')) {
    const path = line
      .split(/ +/)
      .slice(5)
      .join(' ')
      .replace(/ \(deleted\)$/, '');
    if (path.endsWith(`/${name}`)) paths.add(path);
  }
  return [...paths];
}

/** Every mapping of `path` is the current file (inode) and none is "(deleted)". */
function assertMapsCurrent(hostPid: number, path: string): void {
  const m = mappingsOf(hostPid, path);
  assert.ok(m.length > 0, `PID ${hostPid} maps ${path}`);
  const inode = statSync(path).ino;
  assert.deepEqual(
    m.filter((x) => x.deleted || x.inode !== inode),
    [],
    `PID ${hostPid} maps only the current ${path} (inode ${inode})`,
  );
}

function assertMapsDeleted(hostPid: number, path: string): void {
  const m = mappingsOf(hostPid, path);
  assert.ok(m.length > 0, `PID ${hostPid} maps ${path}`);
  assert.ok(
    m.every((x) => x.deleted),
    `PID ${hostPid} maps ${path} "(deleted)": ${JSON.stringify(m)}`,
  );
}

/** GET http://127.0.0.1/ from inside the sandbox's network namespace (node: curl may be absent). */
async function httpGet(sb: Sandbox): Promise<{ status: number; server: string | null }> {
  const script = `
const req = require('node:http').get({ host: '127.0.0.1', port: 80, path: '/', timeout: 5000 }, (res) => {
  res.resume();
  res.on('end', () => console.log(JSON.stringify({ status: res.statusCode, server: res.headers.server ?? null })));
});
req.on('timeout', () => req.destroy(new Error('no answer within 5 s')));
req.on('error', (e) => { console.error(e.message); process.exit(1); });
`;
  const r = await sb.exec([process.execPath, '-e', script], { timeoutMs: 15_000 });
  assert.equal(r.code, 0, `GET http://127.0.0.1/ inside the sandbox: ${r.stderr}`);
  return JSON.parse(r.stdout) as { status: number; server: string | null };
}

function run(
  cmd: string,
  args: readonly string[],
  timeoutMs: number,
): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(
      cmd,
      args,
      {
        // Inherit the environment (proxy settings may be needed to reach the mirror).
        env: {
          ...process.env,
          DEBIAN_FRONTEND: 'noninteractive',
          NEEDRESTART_SUSPEND: '1',
          LC_ALL: 'C',
        },
        timeout: timeoutMs,
        killSignal: 'SIGKILL',
        maxBuffer: 16 * 1024 * 1024,
      },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 127) : 0;
        resolve({
          code,
          out: `${cmd} ${args.join(' ')}: exit ${code}\n${stdout}${stderr}`.trimEnd(),
        });
      },
    );
  });
}

/**
 * Reinstall the installed libssl3 version on the machine, as a security upgrade replaces files:
 * apt (from the mirror or its cache), else `dpkg -i` of the cached .deb of that version.
 * Succeeds only when both libraries really got new inodes; otherwise says why.
 */
async function reinstallLibssl3(
  lib: Libssl3,
  paths: readonly string[],
): Promise<{ ok: true; how: string } | { ok: false; reason: string }> {
  const inodes = () => paths.map((p) => statSync(p).ino);
  const before = inodes();
  const replaced = () => inodes().every((ino, i) => ino !== before[i]);
  const log: string[] = [];

  const apt = await run(
    'apt-get',
    [
      'install',
      '--reinstall',
      '-y',
      '-q',
      '--no-install-recommends',
      '-o',
      'DPkg::Lock::Timeout=30',
      `libssl3=${lib.version}`,
    ],
    45_000,
  );
  if (apt.code === 0 && replaced())
    return { ok: true, how: `apt-get install --reinstall libssl3=${lib.version}` };
  log.push(apt.out);

  // apt names cached files <name>_<version, ':' as %3a>_<arch>.deb.
  const deb = join(APT_ARCHIVES, `libssl3_${lib.version.replace(/:/g, '%3a')}_${lib.arch}.deb`);
  if (existsSync(deb)) {
    const dpkg = await run('dpkg', ['--force-confold', '-i', deb], 45_000);
    if (dpkg.code === 0 && replaced()) return { ok: true, how: `dpkg -i ${deb}` };
    log.push(dpkg.out);
  } else {
    log.push(`no cached ${deb}`);
  }
  return {
    ok: false,
    reason: `could not reinstall libssl3 ${lib.version} (no mirror, no cached .deb?):\n${log.join('\n')}`,
  };
}

// ---------------------------------------------------------------------------------------------

describe('the Heartbleed drill: nginx in a systemd sandbox, libssl3 reinstalled', {
  skip: pre.skip,
}, () => {
  let sb: Sandbox | undefined;
  let dir = '';

  before(() => {
    assert.ok(existsSync(CLI), `${CLI} is missing: run "npm run build" first`);
    mkdirSync(TEST_TMP, { recursive: true, mode: 0o755 });
    dir = mkdtempSync(join(TEST_TMP, 'heartbleed-'));
  });

  after(async () => {
    await sb?.stop();
    if (dir) removeScratch(dir);
  });

  it('restarts nginx master and workers onto the new libssl, keeps serving, then does nothing', async (t) => {
    const lib = pre.libssl3;
    assert.ok(lib);
    const unitPath = nginxUnitPath();
    assert.ok(unitPath);

    // nginx's writable directories, per test: nothing lands in the machine's.
    const bindOver: Record<string, string> = {};
    for (const [inside, sub] of [
      ['/var/log/nginx', 'log'],
      ['/var/lib/nginx', 'lib'],
    ] as const) {
      if (!existsSync(inside)) continue;
      const d = join(dir, sub);
      mkdirSync(d);
      chmodSync(d, 0o755); // the workers (www-data) traverse /var/lib/nginx
      bindOver[inside] = d;
    }
    const stateDir = join(dir, 'state');

    try {
      sb = await bootSandbox({ network: true, bindOver });
    } catch (e) {
      t.skip(`the sandbox did not boot: ${e instanceof Error ? e.message : String(e)}`);
      return;
    }
    const box = sb;
    await withJournalOnFailure(box, async () => {
      // Port 80 must be the sandbox's own: never start nginx in the machine's network namespace.
      assert.notEqual(
        readlinkSync(`/proc/${box.pid1}/ns/net`),
        readlinkSync('/proc/self/ns/net'),
        'the sandbox has its own network namespace',
      );

      // The distro unit, verbatim, where it wins over the sandbox's masks.
      await box.installUnit(UNIT, readFileSync(unitPath, 'utf8'));
      const start = await box.systemctl('start', UNIT);
      assert.equal(
        start.code,
        0,
        `systemctl start ${UNIT}: ${start.stderr}\n${await box.journal(UNIT)}`,
      );
      const t0 = await nginxTree(box);
      assert.notEqual(
        readlinkSync(`/proc/${t0.master.host}/ns/net`),
        readlinkSync('/proc/self/ns/net'),
        'nginx listens in the sandbox only',
      );
      const get0 = await httpGet(box);
      assert.equal(get0.status, 200);
      assert.match(get0.server ?? '', /^nginx/);

      const sslPaths = mappedPaths(t0.master.host, SSL);
      const cryptoPaths = mappedPaths(t0.master.host, CRYPTO);
      assert.equal(sslPaths.length, 1, `nginx maps one ${SSL}: ${sslPaths.join(' ')}`);
      assert.equal(cryptoPaths.length, 1, `nginx maps one ${CRYPTO}: ${cryptoPaths.join(' ')}`);
      const libs = [...sslPaths, ...cryptoPaths];
      const sslPath = sslPaths[0] ?? '';
      for (const p of t0.all) for (const path of libs) assertMapsCurrent(p.host, path);

      // The "security update".
      const re = await reinstallLibssl3(lib, libs);
      if (!re.ok) {
        t.skip(re.reason);
        return;
      }
      t.diagnostic(`libssl3 ${lib.version} reinstalled with ${re.how}`);
      for (const p of t0.all) for (const path of libs) assertMapsDeleted(p.host, path);

      // Before: scan names nginx.service, the stale libssl belongs to package libssl3.
      const scan = await afterpatch<ScanJson>(box, 'afterpatch-scan', [
        'scan',
        '--json',
        '--lib',
        'libssl',
      ]);
      const entries = scan.json.entries.filter((e) => e.type === 'system-unit' && e.unit === UNIT);
      assert.equal(entries.length, 1, `scan reports ${UNIT}:\n${scan.text}`);
      const entry = entries[0];
      assert.ok(entry);
      assert.deepEqual(
        [...entry.pids].sort((a, b) => a - b),
        t0.all.map((p) => p.inner),
        `scan: every nginx process:\n${scan.text}`,
      );
      assert.equal(entry.action.kind, 'restart');
      const sslFile = entry.files.find((f) => f.path === sslPath);
      assert.ok(sslFile, `scan: ${UNIT} maps a stale ${sslPath}:\n${scan.text}`);
      assert.equal(sslFile.kind, 'code');
      assert.equal(sslFile.package?.name, 'libssl3', scan.text);
      const master = scan.json.processes.find((p) => p.pid === t0.master.inner);
      const masterSsl = master?.files.find((f) => f.path === sslPath);
      assert.ok(masterSsl, `scan lists nginx's master with ${sslPath}:\n${scan.text}`);
      assert.equal(masterSsl.package?.name, 'libssl3');
      assert.equal(masterSsl.package?.version, lib.version);
      assert.equal(masterSsl.package?.manager, 'dpkg');
      assert.equal(
        masterSsl.inode,
        mappingsOf(t0.master.host, sslPath)[0]?.inode,
        'the old inode, as in maps',
      );

      // The drill.
      const runArgs = ['restart', '--lib', 'libssl', '--yes', '--json', '--state-dir', stateDir];
      const r = await afterpatch<RestartJson>(box, 'afterpatch-restart', runArgs);
      assert.equal(r.code, 0, r.text);
      assert.equal(r.json.dryRun, false);
      assert.deepEqual(
        r.json.plan.map((e) => e.unit),
        [UNIT],
        r.text,
      );
      const plan = r.json.plan[0];
      assert.ok(plan);
      assert.equal(plan.type, 'system-unit');
      assert.equal(plan.action, 'restart', r.text);
      assert.equal(plan.needsHuman, false);
      assert.deepEqual(
        [...plan.pids].sort((a, b) => a - b),
        t0.all.map((p) => p.inner),
      );
      assert.deepEqual(plan.files, [{ path: sslPath, kind: 'code' }]);
      assert.equal(r.json.results.length, 1, r.text);
      const result = r.json.results[0];
      assert.ok(result);
      assert.equal(result.unit, UNIT);
      assert.equal(result.action, 'restart');
      assert.equal(result.outcome, 'verified', r.text);
      assert.deepEqual(result.stalePids, []);
      assert.equal(result.activeState, 'active');
      assert.equal(r.json.summary.verified, 1);
      assert.equal(r.json.summary.needsHuman, 0);

      // The real system: a new master, and every process of the unit maps the new libraries.
      const t1 = await nginxTree(box);
      assert.notEqual(t1.master.inner, t0.master.inner, 'nginx master was restarted');
      for (const p of t0.all)
        assert.equal(alive(p.host), false, `old nginx process ${p.host} is gone`);
      for (const p of t1.all) for (const path of libs) assertMapsCurrent(p.host, path);
      const get1 = await httpGet(box);
      assert.equal(get1.status, 200, 'nginx still serves');
      t.diagnostic(
        `nginx master ${t0.master.inner} → ${t1.master.inner}, ${t1.workers.length} worker(s), all on the new ${SSL}`,
      );

      // Idempotent: nothing stale is left, so nothing is restarted.
      const again = await afterpatch<RestartJson>(box, 'afterpatch-restart', runArgs);
      assert.equal(again.code, 0, again.text);
      assert.deepEqual(again.json.plan, [], again.text);
      assert.deepEqual(again.json.results, []);
      assert.equal(await mainPid(box), t1.master.inner, 'not restarted again');
      assert.deepEqual(await nginxProcs(box), t1.all);
    });
  });
});
