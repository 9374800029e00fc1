// The Prometheus path for a fleet, end to end (docs/fleet.md, "Watching a fleet with
// Prometheus"): three real hosts (systemd sandboxes with their own network namespace,
// harness/rig.ts) each run `afterpatch serve` as a unit on their own rig address; one real
// Prometheus (Debian's, our own child on the machine, test/helpers/prometheus.ts) scrapes the
// three over the rig's veth links, with the shipped rules (`for:` shortened to 1 s).
//
// A test package shared by all hosts (/usr is the machine's) is upgraded under a holder unit
// that runs on h1 and h2 only, and h3 gets /run/reboot-required (private per host). The test
// asserts with the PromQL queries the docs give that the hosts needing a restart are {h1, h2}
// and the one needing a reboot is {h3}, that the shipped alerts fire for exactly those
// instances, and that after `afterpatch restart --yes` inside h1 and h2 the restart alert
// clears for them while h3's reboot alert stays.
//
// Each host runs its own copy of the CLI (/opt/afterpatch is per host, as the role installs it),
// so a rebuild of dist/ while the test runs does not make `serve` itself "outdated code".
// Traffic: Prometheus on 127.0.0.1, scrapes to the rig's own addresses only. Nothing of the
// machine is started or stopped: the units live in the hosts, which rig.stop() ends; Prometheus
// is ended by its PID. Needs root, systemd, sshd, ansible-core (the rig's preconditions), gcc,
// dpkg-deb and prometheus; skips with the reason otherwise.
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { CLI } from '../../harness/cli.ts';
import {
  buildTestDeb,
  dpkgInstall,
  dpkgPurge,
  isInstalled,
  testPackagePaths,
} from '../../harness/fixtures.ts';
import { bootRig, canBootRig, type Rig, type RigHost } from '../../harness/rig.ts';
import { type Prometheus, prometheusSkipReason, startPrometheus } from '../helpers/prometheus.ts';

const PKG = 'afterpatch-promfleet-test';
const APP_UNIT = 'promfleet-app.service';
const SERVE_UNIT = 'afterpatch-serve.service';
const PORT = 9789;
/** The CLI inside each host: a copy in the host's own /opt/afterpatch. */
const HOST_CLI = '/opt/afterpatch/bin/afterpatch.cjs';

/** The queries of docs/fleet.md, "Watching a fleet with Prometheus". */
const Q = {
  needRestart: 'afterpatch_units_needing_restart > 0',
  needReboot: 'afterpatch_reboot_required == 1',
  processesByHost: 'sum by (instance) (afterpatch_outdated_processes) > 0',
  unitsByHost: 'afterpatch_unit_needs_restart{type!="aggregated"} == 1',
  hostsByUnit: 'count by (unit) (afterpatch_unit_needs_restart{type!="aggregated"})',
  notAnswering: 'up{job="afterpatch"} == 0',
};
const RESTART_ALERT = 'AfterpatchUnitsNeedRestart';
const REBOOT_ALERT = 'AfterpatchRebootRequired';

const can = canBootRig();
const skip = prometheusSkipReason(
  can.ok ? false : `fleet rig unavailable: ${can.reason}`,
  'the test package',
);

describe('fleet rig: one Prometheus scrapes afterpatch serve on every host', { skip }, () => {
  let rig: Rig | undefined;
  let prom: Prometheus | undefined;
  let work: string | undefined;
  let installedByUs = false;
  let v2 = '';

  before(async () => {
    assert.ok(existsSync(CLI), `${CLI} is missing: run "npm run build" first`);
    if (await isInstalled(PKG)) throw new Error(`${PKG} is already installed on this machine`);
    const v1 = await buildTestDeb({ name: PKG, version: '1.0', libValue: 1 });
    v2 = await buildTestDeb({ name: PKG, version: '2.0', libValue: 2 });
    await dpkgInstall(v1);
    installedByUs = true;
    rig = await bootRig({ count: 3 });
    const { holder } = testPackagePaths(PKG);
    await Promise.all(
      rig.hosts.map(async (h) => {
        mkdirSync(join(h.dirs['/opt/afterpatch'], 'bin'));
        copyFileSync(CLI, join(h.dirs['/opt/afterpatch'], 'bin', 'afterpatch.cjs'));
        // --interval/--timeout ≤ the scrape interval/timeout (1 s), as docs/monitoring.md asks.
        await h.sandbox.installUnit(
          SERVE_UNIT,
          `[Unit]\nDescription=afterpatch Prometheus exporter (fleet test)\n\n[Service]\nType=exec\nExecStart=${process.execPath} ${HOST_CLI} serve --listen ${h.address}:${PORT} --interval 1 --timeout 1\n`,
        );
        const units = [SERVE_UNIT];
        if (h.name !== 'h3') {
          // The holder maps the package's library; PID 1 (systemd, its parent) is its lifeline.
          await h.sandbox.installUnit(
            APP_UNIT,
            `[Unit]\nDescription=fleet Prometheus test app\n\n[Service]\nType=exec\nExecStart=${holder} 3600 1\n`,
          );
          units.push(APP_UNIT);
        }
        const r = await h.sandbox.systemctl('start', ...units);
        assert.equal(r.code, 0, `${h.name}: ${r.stderr}`);
      }),
    );
    work = mkdtempSync(join(tmpdir(), 'afterpatch-prom-fleet-'));
    prom = await startPrometheus(
      work,
      rig.hosts.map((h) => ({ address: `${h.address}:${PORT}`, labels: { instance: h.name } })),
    );
  });

  after(async () => {
    await prom?.stop();
    await rig?.stop(); // ends serve and the holders with their hosts
    if (installedByUs) await dpkgPurge(PKG);
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const host = (name: string): RigHost => {
    const h = rig?.hosts.find((x) => x.name === name);
    assert.ok(h, name);
    return h;
  };

  async function diagnostics(): Promise<string> {
    const parts = [`--- prometheus ---\n${prom?.log() ?? ''}`];
    for (const h of rig?.hosts ?? []) {
      const j = (await h.sandbox.journal(SERVE_UNIT)).trimEnd().split('\n').slice(-15);
      parts.push(`--- ${h.name} ${SERVE_UNIT} ---\n${j.join('\n')}`);
    }
    return `\n${parts.join('\n')}`;
  }

  /** Polls probe until it returns the expected value (deepEqual); fails with the last one seen. */
  async function waitFor<T>(
    what: string,
    expected: T,
    probe: () => Promise<T>,
    timeoutMs = 30_000,
  ) {
    const t0 = performance.now();
    let last: T | undefined;
    while (performance.now() - t0 < timeoutMs) {
      last = await probe();
      try {
        assert.deepEqual(last, expected);
        return Math.round(performance.now() - t0);
      } catch {}
      await sleep(250);
    }
    assert.fail(
      `${what}: not within ${timeoutMs} ms; last: ${JSON.stringify(last)}, expected ${JSON.stringify(expected)}${await diagnostics()}`,
    );
  }

  /** instance → value of a query's result, sorted by instance. */
  const byInstance = async (q: string) =>
    Object.fromEntries(
      ((await prom?.query(q)) ?? [])
        .map((s) => [s.metric.instance ?? '', s.value[1]] as const)
        .sort(([a], [b]) => a.localeCompare(b)),
    );
  const instances = async (q: string) => Object.keys(await byInstance(q));
  const alerted = async (name: string, state: 'pending' | 'firing' | 'any' = 'firing') =>
    ((await prom?.alerts()) ?? [])
      .filter((a) => a.labels.alertname === name && (state === 'any' || a.state === state))
      .map((a) => a.labels.instance ?? '')
      .sort();

  it('lists h1, h2 as needing a restart and h3 a reboot; the shipped alerts fire per host and clear after afterpatch restart', async () => {
    assert.ok(rig && prom);
    // Prometheus scrapes each host at its rig address, labelled with the host's name.
    const t0 = performance.now();
    await waitFor('every host scraped, up and scanned', ['h1', 'h2', 'h3'], () =>
      instances('up{job="afterpatch"} == 1 and on(instance) afterpatch_last_scan_success == 1'),
    );
    const targets = await prom.get<{
      activeTargets: { labels: Record<string, string>; scrapeUrl: string }[];
    }>('/targets');
    assert.deepEqual(
      Object.fromEntries(
        (targets?.activeTargets ?? []).map((t) => [t.labels.instance, t.scrapeUrl]),
      ),
      Object.fromEntries(rig.hosts.map((h) => [h.name, `http://${h.address}:${PORT}/metrics`])),
    );
    // Baseline: nothing to restart or reboot anywhere.
    assert.deepEqual(await byInstance(Q.needRestart), {});
    assert.deepEqual(await byInstance(Q.needReboot), {});
    console.log(`# 3 hosts scraped and clean ${Math.round(performance.now() - t0)} ms after start`);

    // The upgrade, on every host at once (shared /usr), and h3's reboot sentinel.
    await dpkgInstall(v2);
    const mark = await host('h3').sandbox.exec(['touch', '/run/reboot-required']);
    assert.equal(mark.code, 0, mark.stderr);
    const t1 = performance.now();
    await waitFor('hosts needing a restart', { h1: '1', h2: '1' }, () => byInstance(Q.needRestart));
    await waitFor('hosts needing a reboot', { h3: '1' }, () => byInstance(Q.needReboot));
    await waitFor(`${RESTART_ALERT} firing`, ['h1', 'h2'], () => alerted(RESTART_ALERT));
    await waitFor(`${REBOOT_ALERT} firing`, ['h3'], () => alerted(REBOOT_ALERT));
    console.log(`# both alerts firing ${Math.round(performance.now() - t1)} ms after the upgrade`);
    // Exactly those instances, in any state; and the per-host and per-unit views.
    assert.deepEqual(await alerted(RESTART_ALERT, 'any'), ['h1', 'h2']);
    assert.deepEqual(await alerted(REBOOT_ALERT, 'any'), ['h3']);
    assert.deepEqual(await byInstance(Q.processesByHost), { h1: '1', h2: '1' });
    assert.deepEqual(
      ((await prom.query(Q.unitsByHost)) ?? [])
        .map((s) => [s.metric.instance, s.metric.unit])
        .sort(),
      [
        ['h1', APP_UNIT],
        ['h2', APP_UNIT],
      ],
    );
    assert.deepEqual(
      ((await prom.query(Q.hostsByUnit)) ?? []).map((s) => [s.metric.unit, s.value[1]]),
      [[APP_UNIT, '2']],
    );
    const behind = await prom.query(
      `afterpatch_unit_needs_restart == 1 and on(job, instance) ALERTS{alertname="${RESTART_ALERT}",alertstate="firing"}`,
    );
    assert.deepEqual((behind ?? []).map((s) => [s.metric.instance, s.metric.unit]).sort(), [
      ['h1', APP_UNIT],
      ['h2', APP_UNIT],
    ]);
    const rebootAlert = ((await prom.alerts()) ?? []).find(
      (a) => a.labels.alertname === REBOOT_ALERT,
    );
    assert.equal(rebootAlert?.annotations.summary, 'h3 needs a reboot');

    // The fix on h1 and h2, as an operator (or the rolling-restart playbook) runs it there.
    const t2 = performance.now();
    for (const name of ['h1', 'h2']) {
      const r = await host(name).sandbox.exec(
        [process.execPath, HOST_CLI, 'restart', '--yes', '--json', '--timeout', '20'],
        { timeoutMs: 60_000 },
      );
      const text = `${name}: exit ${r.code}\n${r.stdout}\n${r.stderr}`;
      assert.equal(r.code, 0, text);
      const json = JSON.parse(r.stdout) as { results: { unit: string | null; outcome: string }[] };
      assert.deepEqual(
        json.results.map((x) => [x.unit, x.outcome]),
        [[APP_UNIT, 'verified']],
        text,
      );
    }
    await waitFor(`${RESTART_ALERT} cleared`, [], () => alerted(RESTART_ALERT, 'any'));
    await waitFor('no host needing a restart', {}, () => byInstance(Q.needRestart));
    console.log(
      `# ${RESTART_ALERT} cleared ${Math.round(performance.now() - t2)} ms after restart`,
    );
    // Each host's serve reads its own restart state (/var/lib/afterpatch is per host).
    await waitFor('verified restarts per host', { h1: '1', h2: '1' }, () =>
      byInstance('afterpatch_restart_results{outcome="verified"} > 0'),
    );
    assert.deepEqual(await alerted(REBOOT_ALERT), ['h3'], 'h3 still needs its reboot');
    assert.deepEqual(await byInstance(Q.needReboot), { h3: '1' });
    assert.deepEqual(await byInstance(Q.notAnswering), {});
    for (const name of ['AfterpatchRestartFailed', 'AfterpatchScanStale', 'AfterpatchScanAbsent']) {
      assert.deepEqual(await alerted(name, 'any'), [], name);
    }
  });
});
