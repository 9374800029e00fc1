// The shipped systemd units (integrations/systemd/): static checks, `systemd-analyze verify`, and
// real runs inside the systemd sandbox (docs/testing-systemd-sandbox.md):
//   - afterpatch-metrics.service, hardened as shipped, writes afterpatch.prom and still sees a
//     stale service running as another user (CAP_SYS_PTRACE); the same unit without that
//     capability cannot read it (so the check is not vacuous);
//   - afterpatch-metrics.timer is accepted and schedules the service;
//   - afterpatch-restart.service restarts a stale test unit and the restart is verified.
// The units name /usr/bin/afterpatch; the copies installed here run `<node> dist/afterpatch.cjs`
// instead, with the paths that would touch the host (node_exporter's directory, /var/lib/afterpatch)
// moved into the test's own directory. Everything else is the shipped text.
//
// Needs root, a bootable sandbox, gcc and `npm run build` (skips with the reason otherwise).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CLI } from '../../harness/cli.ts';
import { bootSandbox, canBootSandbox, type Sandbox } from '../../harness/sandbox.ts';
import { buildSvc, mappingsOf, type SvcBuild, type SvcTree } from '../../harness/stale-lib.ts';

const UNITS = new URL('../../integrations/systemd/', import.meta.url).pathname;
const METRICS = 'afterpatch-metrics.service';
const TIMER = 'afterpatch-metrics.timer';
const RESTART = 'afterpatch-restart.service';
const TEXTFILE_DIR = '/var/lib/prometheus/node-exporter';

const unitText = (name: string) => readFileSync(join(UNITS, name), 'utf8');

/** `Key=value` lines of a unit file (all values of repeated keys). */
function directives(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';') || line.startsWith('['))
      continue;
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    const key = line.slice(0, eq).trim();
    out.set(key, [...(out.get(key) ?? []), line.slice(eq + 1).trim()]);
  }
  return out;
}

const one = (d: Map<string, string[]>, key: string): string | undefined => d.get(key)?.at(-1);

function run(
  file: string,
  args: readonly string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 127) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

function findTool(name: string): string | undefined {
  for (const dir of ['/usr/bin', '/bin', '/usr/sbin', '/sbin']) {
    if (existsSync(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

/** A path we may splice into a unit file unquoted. */
function plainPath(p: string): string {
  assert.match(p, /^\/[A-Za-z0-9._/+-]+$/, `unit-safe path: ${p}`);
  return p;
}

/**
 * The CLI the units run. The sandboxed units use a copy outside the checkout (set in before()):
 * with PrivateTmp= and ProtectHome=, a checkout under /tmp or /home is out of their sight.
 */
let unitCli = CLI;

/**
 * The shipped unit, runnable here: /usr/bin/afterpatch → `<node> <unitCli>`, and the host
 * paths it would write moved to `paths` (the rest of the text unchanged).
 */
function testCopy(
  text: string,
  paths: { textfileDir?: string; stateDir?: string; dropCaps?: string[] } = {},
): string {
  let t = text.replaceAll(
    '/usr/bin/afterpatch',
    `${plainPath(process.execPath)} ${plainPath(unitCli)}`,
  );
  if (paths.textfileDir !== undefined) t = t.replaceAll(TEXTFILE_DIR, plainPath(paths.textfileDir));
  if (paths.stateDir !== undefined) {
    // StateDirectory= would create /var/lib/afterpatch on the host (the sandbox shares /var).
    const dir = plainPath(paths.stateDir);
    t = t
      .replace(/^StateDirectory=.*$/m, `ReadWritePaths=${dir}`)
      .replace(/^(ExecStart=.* restart --yes)$/m, `$1 --state-dir ${dir}`);
  }
  for (const cap of paths.dropCaps ?? []) {
    t = t.replace(/^(CapabilityBoundingSet=.*)$/m, (l) =>
      l.replace(` ${cap}`, '').replace(cap, ''),
    );
  }
  return t;
}

describe('systemd units: static checks', () => {
  it('afterpatch-metrics.service: oneshot, textfile, hardened, but sees all of /proc', () => {
    const d = directives(unitText(METRICS));
    assert.equal(one(d, 'Type'), 'oneshot');
    assert.equal(one(d, 'ExecStart'), `/usr/bin/afterpatch metrics --textfile ${TEXTFILE_DIR}`);
    assert.equal(one(d, 'ProtectSystem'), 'strict');
    assert.deepEqual(d.get('ReadWritePaths'), [TEXTFILE_DIR]);
    assert.equal(one(d, 'ConditionPathIsDirectory'), TEXTFILE_DIR);
    for (const k of ['PrivateTmp', 'NoNewPrivileges', 'ProtectKernelTunables', 'PrivateNetwork'])
      assert.equal(one(d, k), 'yes', k);
    const caps = (one(d, 'CapabilityBoundingSet') ?? '').split(/\s+/);
    assert.ok(caps.includes('CAP_SYS_PTRACE'), 'reads every process’s maps');
    assert.ok(!caps.includes('CAP_SYS_ADMIN'));
    // Any of these would hide processes from the scan or break Node.js.
    for (const k of ['ProtectProc', 'ProcSubset', 'PrivatePIDs', 'PrivateUsers', 'User'])
      assert.equal(d.get(k), undefined, `${k} must not be set`);
    assert.equal(d.get('MemoryDenyWriteExecute'), undefined, 'V8 needs W+X pages');
  });

  it('afterpatch-metrics.timer: every 5 minutes, persistent', () => {
    const d = directives(unitText(TIMER));
    assert.equal(one(d, 'OnCalendar'), '*:0/5');
    assert.equal(one(d, 'Persistent'), 'true');
    assert.equal(one(d, 'WantedBy'), 'timers.target');
    assert.equal(d.get('Unit'), undefined, 'triggers the service of the same name');
  });

  it('afterpatch-restart.service: oneshot restart --yes, only runs when enabled or started', () => {
    const d = directives(unitText(RESTART));
    assert.equal(one(d, 'Type'), 'oneshot');
    assert.equal(one(d, 'ExecStart'), '/usr/bin/afterpatch restart --yes');
    assert.equal(one(d, 'StateDirectory'), 'afterpatch');
    assert.equal(one(d, 'ProtectSystem'), 'strict');
    assert.equal(one(d, 'NoNewPrivileges'), 'yes');
    // Hooked to the unattended-upgrade services, never to boot.
    const wanted = (one(d, 'WantedBy') ?? '').split(/\s+/);
    assert.ok(wanted.includes('apt-daily-upgrade.service'));
    assert.ok(!wanted.some((w) => /multi-user|default|timers/.test(w)));
    const afterUnits = (one(d, 'After') ?? '').split(/\s+/);
    for (const w of wanted) assert.ok(afterUnits.includes(w), `After=${w}`);
  });
});

const analyze = findTool('systemd-analyze');
describe('systemd units: systemd-analyze verify', {
  skip: analyze === undefined ? 'systemd-analyze not installed' : false,
}, () => {
  const dir = mkdtempSync(join(tmpdir(), 'afterpatch-units-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('finds nothing wrong but the missing /usr/bin/afterpatch in the shipped files', async () => {
    const files = [METRICS, TIMER, RESTART].map((n) => join(UNITS, n));
    const r = await run(analyze ?? '', ['verify', '--man=no', ...files]);
    const complaints = r.stderr
      .split('\n')
      .filter((l) => l.trim() !== '')
      .filter((l) => !/Command \/usr\/bin\/afterpatch is not executable/.test(l));
    assert.deepEqual(complaints, [], r.stderr);
  });

  it('verifies cleanly once afterpatch exists', async () => {
    for (const n of [METRICS, TIMER, RESTART]) {
      writeFileSync(join(dir, n), testCopy(unitText(n)));
    }
    const r = await run(analyze ?? '', [
      'verify',
      '--man=no',
      ...[METRICS, TIMER, RESTART].map((n) => join(dir, n)),
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr.trim(), '');
  });

  it('accepts the timer calendar', async () => {
    const r = await run(analyze ?? '', ['calendar', '*:0/5']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Normalized form: \*-\*-\* \*:00\/5:00/);
  });
});

// ---------------------------------------------------------------------------------------------

const can = canBootSandbox();
describe('systemd units in a systemd sandbox', {
  skip: can.ok ? false : `systemd sandbox unavailable: ${can.reason}`,
}, () => {
  let build: SvcBuild | undefined;
  let sb: Sandbox | undefined;

  before(async () => {
    assert.ok(existsSync(CLI), `${CLI} is missing: run "npm run build" first`);
    build = await buildSvc();
    // The services below include one running as nobody: let it reach its program.
    chmodSync(build.dir, 0o755);
    unitCli = join(build.dir, 'afterpatch.cjs');
    copyFileSync(CLI, unitCli);
    sb = await bootSandbox();
  });

  after(async () => {
    await sb?.stop().catch(() => {});
    build?.remove();
    unitCli = CLI;
  });

  async function withJournal<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      const journal = (await sb?.journal())?.trimEnd().split('\n').slice(-60).join('\n');
      throw new Error(`${(e as Error).message}\n--- journal ---\n${journal}`, { cause: e });
    }
  }

  async function show(unit: string, props: string): Promise<Record<string, string>> {
    const r = await (sb as Sandbox).systemctl('show', '-p', props, '--', unit);
    assert.equal(r.code, 0, r.stderr);
    const out: Record<string, string> = {};
    for (const line of r.stdout.split('\n')) {
      const eq = line.indexOf('=');
      if (eq > 0) out[line.slice(0, eq)] = line.slice(eq + 1);
    }
    return out;
  }

  /** A Type=notify service mapping the tree's libsvc.so.1, started and then made stale. */
  async function staleService(tree: SvcTree, unit: string, extra = ''): Promise<number> {
    const box = sb as Sandbox;
    await box.installUnit(
      unit,
      `[Unit]\nDescription=afterpatch unit test (stale)\n\n[Service]\nType=notify\nExecStart=${tree.daemon} notify\n${extra}`,
    );
    const s = await box.systemctl('start', unit);
    assert.equal(s.code, 0, s.stderr);
    const [pid] = await box.unitPids(unit);
    assert.ok(pid !== undefined, `${unit} runs`);
    tree.upgrade(2);
    assert.ok(
      mappingsOf(pid, tree.lib).every((m) => m.deleted),
      `${unit} maps the old library`,
    );
    return pid;
  }

  /** Gauge value of one exposition line (exact series text before the value). */
  function metric(text: string, series: string): number | undefined {
    for (const line of text.split('\n')) {
      if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
    }
    return undefined;
  }

  it('afterpatch-metrics.service writes afterpatch.prom and sees other users’ processes', () =>
    withJournal(async () => {
      const box = sb as Sandbox;
      const tree = (build as SvcBuild).tree('metrics');
      const textDir = join(tree.root, 'node-exporter');
      mkdirSync(textDir);
      await staleService(tree, 'svc-nobody.service', 'User=nobody\n');

      await box.installUnit(METRICS, testCopy(unitText(METRICS), { textfileDir: textDir }));
      const r = await box.systemctl('start', METRICS);
      assert.equal(r.code, 0, r.stderr);
      const st = await show(METRICS, 'Result,ActiveState,ExecMainStatus');
      assert.equal(st.Result, 'success');
      assert.equal(st.ExecMainStatus, '0');
      assert.equal(st.ActiveState, 'inactive', 'a oneshot without RemainAfterExit');

      const prom = readFileSync(join(textDir, 'afterpatch.prom'), 'utf8');
      assert.equal(metric(prom, 'afterpatch_last_scan_success'), 1, prom);
      assert.equal(metric(prom, 'afterpatch_unreadable_processes'), 0, prom);
      assert.equal(metric(prom, 'afterpatch_scan_partial'), 0, prom);
      assert.ok((metric(prom, 'afterpatch_outdated_processes') ?? 0) >= 1, prom);
      assert.match(prom, /^afterpatch_unit_needs_restart\{[^}]*svc-nobody\.service[^}]*\} 1$/m);
      // Only the .prom file: the temporary file was renamed into place.
      assert.deepEqual(
        readdirSync(textDir).filter((n) => !n.endsWith('.prom')),
        [],
      );

      // Control: the same hardened unit without CAP_SYS_PTRACE cannot read nobody's maps.
      const weak = join(tree.root, 'node-exporter-weak');
      mkdirSync(weak);
      await box.installUnit(
        'afterpatch-metrics-noptrace.service',
        testCopy(unitText(METRICS), { textfileDir: weak, dropCaps: ['CAP_SYS_PTRACE'] }),
      );
      const r2 = await box.systemctl('start', 'afterpatch-metrics-noptrace.service');
      assert.equal(r2.code, 0, r2.stderr);
      const weakProm = readFileSync(join(weak, 'afterpatch.prom'), 'utf8');
      assert.ok((metric(weakProm, 'afterpatch_unreadable_processes') ?? 0) >= 1, weakProm);
      assert.doesNotMatch(weakProm, /svc-nobody\.service/);
      // …and says its scan is partial, so AfterpatchScanPartial fires (was: zeros only).
      assert.equal(metric(weakProm, 'afterpatch_scan_partial'), 1, weakProm);

      // The hardening is in effect here (not silently ignored by a systemd in a container): with
      // the same settings, only the textfile directory is writable.
      const probe = testCopy(unitText(METRICS), { textfileDir: weak }).replace(
        /^ExecStart=.*$/m,
        `ExecStart=/bin/sh -c 'touch ${weak}/inside; touch ${tree.root}/outside'`,
      );
      await box.installUnit('afterpatch-metrics-probe.service', probe);
      const p = await box.systemctl('start', 'afterpatch-metrics-probe.service');
      assert.notEqual(p.code, 0, 'touch outside ReadWritePaths must fail');
      assert.ok(existsSync(join(weak, 'inside')));
      assert.ok(!existsSync(join(tree.root, 'outside')));
      assert.match(await box.journal('afterpatch-metrics-probe.service'), /Read-only file system/);

      const s = await box.systemctl('stop', 'svc-nobody.service');
      assert.equal(s.code, 0, s.stderr);
    }));

  it('afterpatch-metrics.timer schedules the service', () =>
    withJournal(async () => {
      const box = sb as Sandbox;
      await box.installUnit(TIMER, unitText(TIMER));
      const r = await box.systemctl('start', TIMER);
      assert.equal(r.code, 0, r.stderr);
      const t = await show(TIMER, 'ActiveState,Triggers,NextElapseUSecRealtime,Persistent');
      assert.equal(t.ActiveState, 'active');
      assert.equal(t.Triggers, METRICS);
      assert.equal(t.Persistent, 'yes');
      assert.notEqual(t.NextElapseUSecRealtime ?? '', '');
      await box.systemctl('stop', TIMER);
    }));

  it('afterpatch-restart.service restarts a stale unit and verifies it', () =>
    withJournal(async () => {
      const box = sb as Sandbox;
      const tree = (build as SvcBuild).tree('restart');
      const stateDir = join(tree.root, 'state');
      mkdirSync(stateDir);
      const before = await staleService(tree, 'svc-stale.service');

      await box.installUnit(RESTART, testCopy(unitText(RESTART), { stateDir }));
      const r = await box.systemctl('start', RESTART);
      assert.equal(r.code, 0, r.stderr);
      const st = await show(RESTART, 'Result,ExecMainStatus');
      assert.equal(st.Result, 'success');

      const [afterPid] = await box.unitPids('svc-stale.service');
      assert.ok(afterPid !== undefined && afterPid !== before, 'svc-stale.service was restarted');
      const maps = mappingsOf(afterPid, tree.lib);
      assert.ok(maps.length > 0 && maps.every((m) => !m.deleted && m.inode === tree.inode()));
      const log = await box.journal(RESTART);
      assert.match(log, /svc-stale\.service/);
      assert.match(log, /verified/);
      assert.ok(existsSync(join(stateDir, 'state.json')), 'state kept in the given directory');

      // A second run has nothing to do and still succeeds.
      const again = await box.systemctl('start', RESTART);
      assert.equal(again.code, 0, again.stderr);
      assert.equal((await show(RESTART, 'Result')).Result, 'success');
      assert.deepEqual(await box.unitPids('svc-stale.service'), [afterPid]);
    }));
});
