// End to end, with a real service: a real Prometheus (Debian package `prometheus`) scrapes
// `afterpatch serve` running inside a systemd sandbox (harness/sandbox.ts), with the shipped
// rules (a test copy with `for:` shortened to 1s). A Type=notify service in the sandbox maps
// libsvc.so.1 (harness/stale-lib.ts); the test rename()s a new build over the library, as dpkg
// does, and asserts through Prometheus's HTTP API that AfterpatchUnitsNeedRestart fires for that
// unit; then `afterpatch restart --yes` inside the sandbox restarts it (verified), and the alert
// clears.
//
// Layout, the simplest robust one:
// - The sandbox keeps the machine's network namespace (bootSandbox's default, `network: false`),
//   so 127.0.0.1 inside is the machine's loopback.
// - `afterpatch serve` runs INSIDE the sandbox as a transient service (`systemd-run`), as it would
//   on a host: it sees the sandbox's /proc and cgroups, and it lives and dies with the sandbox
//   (no background nsenter child to babysit; the sandbox's stop() ends it).
// - Prometheus runs on the machine side as this test's own child (killed by its PID), listening
//   on and scraping 127.0.0.1 only. Its TSDB is in a mkdtemp directory that the test removes.
// So the only traffic is on loopback, and nothing of the machine is started, stopped or killed.
//
// The shipped alert's expression, `afterpatch_units_needing_restart > 0`, carries no `unit`
// label: the unit behind a firing alert is found by joining the alert with the per-unit series
// on the target (`afterpatch_unit_needs_restart and on(job, instance) ALERTS{…}`), which is what
// the test asserts.
//
// Needs root, a bootable sandbox, gcc, prometheus and `npm run build`; skips with the reason
// otherwise.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { CLI } from '../../harness/cli.ts';
import { bootSandbox, canBootSandbox, type Sandbox } from '../../harness/sandbox.ts';
import { buildSvc, nsPid, type SvcBuild, type SvcTree } from '../../harness/stale-lib.ts';
import {
  freePort,
  type Prometheus,
  prometheusSkipReason,
  startPrometheus,
} from '../helpers/prometheus.ts';

const ALERT = 'AfterpatchUnitsNeedRestart';
const UNIT = 'svc-prom-e2e.service';
const SERVE_UNIT = 'afterpatch-serve-e2e.service';

const can = canBootSandbox();
const skip = prometheusSkipReason(
  can.ok ? false : `systemd sandbox unavailable: ${can.reason}`,
  'the test service',
);

interface Alert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: 'pending' | 'firing';
}

interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

interface RestartJson {
  format: string;
  plan: { unit: string | null; type: string; action: string }[];
  results: { unit: string | null; outcome: string; activeState: string | null }[];
  summary: Record<string, number>;
}

describe('Prometheus alerting on a real stale service in a systemd sandbox', { skip }, () => {
  let build: SvcBuild | undefined;
  let tree: SvcTree;
  let stateDir: string;
  let sb: Sandbox | undefined;
  let work: string | undefined;
  let prom: Prometheus | undefined;
  let metricsUrl = '';

  before(async () => {
    assert.ok(existsSync(CLI), `${CLI} is missing: run "npm run build" first`);
    build = await buildSvc();
    tree = build.tree('prom-e2e');
    // Below the tree (not /tmp, which the sandbox shares with the machine anyway): shared by
    // `serve` (reads restart outcomes) and `restart` (writes them), as on a host.
    stateDir = join(tree.root, 'state');
    mkdirSync(stateDir);

    sb = await bootSandbox(); // network: false → loopback shared with the machine (see above)
    await sb.installUnit(
      UNIT,
      `[Unit]\nDescription=afterpatch Prometheus end-to-end test service\n\n[Service]\nType=notify\nExecStart=${tree.daemon} notify\n`,
    );
    const started = await sb.systemctl('start', UNIT);
    assert.equal(started.code, 0, started.stderr);

    const servePort = await freePort();
    metricsUrl = `http://127.0.0.1:${servePort}/metrics`;
    const run = await sb.exec([
      'systemd-run',
      `--unit=${SERVE_UNIT}`,
      '--description=afterpatch serve (Prometheus end-to-end test)',
      '--property=Type=exec',
      '--',
      process.execPath,
      CLI,
      'serve',
      '--listen',
      `127.0.0.1:${servePort}`,
      '--interval',
      '1',
      // ≤ the scrape timeout (docs/monitoring.md): a slow scan gives a 503, not a cut scrape.
      '--timeout',
      '1',
      '--state-dir',
      stateDir,
    ]);
    assert.equal(run.code, 0, `systemd-run: ${run.stderr}`);
    await waitFor('afterpatch serve in the sandbox answering', 20_000, async () => {
      try {
        const res = await fetch(metricsUrl);
        const text = await res.text();
        return res.ok && /^afterpatch_last_scan_success 1$/m.test(text) ? true : undefined;
      } catch {
        return undefined;
      }
    });

    work = mkdtempSync(join(tmpdir(), 'afterpatch-prom-e2e-'));
    prom = await startPrometheus(work, servePort);
  });

  after(async () => {
    await prom?.stop();
    await sb?.stop(); // ends the service and `afterpatch serve` with it
    build?.remove();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  async function diagnostics(): Promise<string> {
    const journal = sb ? (await sb.journal()).trimEnd().split('\n').slice(-60).join('\n') : '';
    return `\n--- prometheus ---\n${prom?.log() ?? ''}\n--- sandbox journal (last lines) ---\n${journal}`;
  }

  async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>) {
    const t0 = performance.now();
    while (performance.now() - t0 < timeoutMs) {
      const v = await probe();
      if (v !== undefined) return { value: v, ms: Math.round(performance.now() - t0) };
      await sleep(200);
    }
    assert.fail(`${what}: not within ${timeoutMs} ms${await diagnostics()}`);
  }

  const get = async <T>(path: string): Promise<T | undefined> =>
    (await prom?.get<T>(path)) ?? undefined;

  const query = async (q: string) =>
    (await get<{ result: Sample[] }>(`/query?query=${encodeURIComponent(q)}`))?.result;

  /** The single value of a query with one result, or undefined (no data yet). */
  const scalar = async (q: string) => {
    const r = await query(q);
    return r?.length === 1 ? r[0]?.value[1] : undefined;
  };

  const alerts = async (name: string) =>
    ((await get<{ alerts: Alert[] }>('/alerts'))?.alerts ?? []).filter(
      (a) => a.labels.alertname === name,
    );

  /** Units behind the firing alert: the per-unit series of the targets the alert fires for. */
  const alertedUnits = async () =>
    (
      (await query(
        `afterpatch_unit_needs_restart == 1 and on(job, instance) ALERTS{alertname="${ALERT}",alertstate="firing"}`,
      )) ?? []
    ).map((s) => [s.metric.unit, s.metric.type]);

  it('fires AfterpatchUnitsNeedRestart for a service mapping a replaced library, clears after afterpatch restart', async () => {
    // Baseline: Prometheus scrapes the sandbox's serve, and nothing there runs outdated code.
    const base = await waitFor('first scrape with no unit needing a restart', 20_000, async () =>
      (await scalar('afterpatch_units_needing_restart')) === '0' ? true : undefined,
    );
    console.log(`# baseline scraped ${base.ms} ms after Prometheus started`);
    assert.deepEqual(await alerts(ALERT), [], 'no alert before the upgrade');
    assert.equal(await scalar('afterpatch_last_scan_success'), '1');
    const up = await query('up{job="afterpatch"}');
    assert.deepEqual(
      up?.map((s) => s.value[1]),
      ['1'],
    );

    // The "upgrade": the running service keeps mapping the old, now deleted, library.
    assert.ok(sb);
    const mainPid = async () => {
      const r = await sb?.systemctl('show', '-p', 'MainPID', '--value', UNIT);
      return Number(r?.stdout.trim());
    };
    const pid0 = await mainPid();
    assert.ok(pid0 > 0, `${UNIT} has a MainPID`);
    tree.upgrade(2);

    const fired = await waitFor(`${ALERT} firing for ${UNIT}`, 30_000, async () => {
      const firing = (await alerts(ALERT)).filter((a) => a.state === 'firing');
      return firing.length > 0 ? firing : undefined;
    });
    console.log(`# ${ALERT} firing ${fired.ms} ms after the library was replaced`);
    assert.equal(fired.value.length, 1, JSON.stringify(fired.value));
    const alert = fired.value[0];
    assert.equal(alert?.labels.job, 'afterpatch');
    assert.equal(alert?.labels.severity, 'warning');
    assert.match(alert?.annotations.summary ?? '', /^1 unit\(s\) on 127\.0\.0\.1:\d+ run outdated/);
    assert.deepEqual(await alertedUnits(), [[UNIT, 'system-unit']], 'the alert is for our unit');
    assert.equal(await scalar('afterpatch_units_needing_restart'), '1');
    assert.equal(await scalar('afterpatch_outdated_processes'), '1');

    // The fix, as an operator would run it on the host: inside the sandbox.
    const t0 = performance.now();
    const r = await sb.exec(
      [
        process.execPath,
        CLI,
        'restart',
        '--yes',
        '--json',
        '--timeout',
        '20',
        '--state-dir',
        stateDir,
      ],
      { timeoutMs: 60_000 },
    );
    const text = `exit ${r.code}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`;
    console.log(`# afterpatch restart took ${Math.round(performance.now() - t0)} ms`);
    const json = JSON.parse(r.stdout) as RestartJson;
    assert.equal(r.code, 0, text);
    assert.equal(json.format, 'afterpatch-restart', text);
    assert.deepEqual(
      json.plan.map((p) => [p.unit, p.type, p.action]),
      [[UNIT, 'system-unit', 'restart']],
      text,
    );
    assert.deepEqual(
      json.results.map((x) => [x.unit, x.outcome, x.activeState]),
      [[UNIT, 'verified', 'active']],
      text,
    );
    const pid1 = await mainPid();
    assert.ok(pid1 > 0 && pid1 !== pid0, `MainPID ${pid0} → ${pid1}`);
    const hosts = await sb.unitPids(UNIT);
    assert.deepEqual(
      hosts.map((h) => nsPid(h)),
      [pid1],
    );

    const cleared = await waitFor(`${ALERT} cleared`, 30_000, async () =>
      (await alerts(ALERT)).length === 0 &&
      (await scalar('afterpatch_units_needing_restart')) === '0'
        ? true
        : undefined,
    );
    console.log(`# ${ALERT} cleared ${cleared.ms} ms after afterpatch restart returned`);
    assert.deepEqual(await alertedUnits(), []);
    assert.deepEqual(await query('afterpatch_unit_needs_restart'), []);
    const outdated = await scalar('afterpatch_outdated_processes');
    if (outdated !== '0') {
      // Seen once in CI (1, right after the alert cleared): say which process, next time.
      const scanNow = await sb.exec([process.execPath, CLI, 'scan', '--all']);
      const page = await fetch(metricsUrl).then((res) => res.text(), String);
      assert.fail(
        `afterpatch_outdated_processes ${outdated} once the alert cleared\n--- scan --all in the sandbox now ---\n${scanNow.stdout}${scanNow.stderr}\n--- serve's metrics now ---\n${page}${await diagnostics()}`,
      );
    }
    // serve reads the outcome that restart wrote to the shared state directory.
    await waitFor('afterpatch_restart_results{outcome="verified"} = 1', 20_000, async () =>
      (await scalar('afterpatch_restart_results{outcome="verified"}')) === '1' ? true : undefined,
    );
    assert.deepEqual(await alerts('AfterpatchRestartFailed'), []);
    assert.equal(await scalar('afterpatch_scan_errors_total'), '0');
  });
});
