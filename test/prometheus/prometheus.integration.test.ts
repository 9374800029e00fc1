// A real Prometheus (Debian package `prometheus`) scrapes `afterpatch serve` on loopback every
// second with the shipped rules (a test copy with `for:` shortened to 1s), and the test asserts
// through Prometheus's HTTP API that AfterpatchUnitsNeedRestart fires while the scanned /proc
// shows a unit running outdated code and clears once it no longer does.
//
// The /proc seen by afterpatch is a fixture tree that the test changes in place between scrapes
// (stale → clean), not a sandboxed systemd service (end-to-end.integration.test.ts does that).
// Prometheus runs as this test's own child (killed by PID), listening on 127.0.0.1 only.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { FAKE_INIT, makeProcTree, mapsLine } from '../helpers/fakeproc.ts';
import { havePrometheus, type Prometheus, startPrometheus } from '../helpers/prometheus.ts';
import { type Served, startServe } from '../helpers/serve.ts';

const skip = havePrometheus()
  ? false
  : 'prometheus not installed (apt-get install prometheus, under a policy-rc.d exiting 101)';

interface Alert {
  labels: Record<string, string>;
  state: 'pending' | 'firing';
}

describe('Prometheus alerting on afterpatch serve', { skip }, () => {
  let work: string;
  let stale: ReturnType<typeof makeProcTree>;
  let served: Served | undefined;
  let prom: Prometheus | undefined;

  /**
   * "Everything was restarted": nginx maps the current libssl, the other processes are gone. The
   * tree is changed in place: serve resolves --proc-root once (a symlink swap would not be seen).
   */
  const restartAll = () => {
    writeFileSync(
      join(stale.root, '10', 'maps'),
      [
        mapsLine('/usr/sbin/nginx'),
        mapsLine('/usr/lib/x86_64-linux-gnu/libssl.so.3', { addr: 0x7f5000 }),
      ].join('\n'),
    );
    for (const pid of ['20', '21', '22']) rmSync(join(stale.root, pid), { recursive: true });
  };

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'afterpatch-prom-'));
    const systemd = FAKE_INIT;
    stale = makeProcTree({
      1: systemd,
      10: {
        name: 'nginx',
        maps: [
          mapsLine('/usr/sbin/nginx'),
          mapsLine('/usr/lib/x86_64-linux-gnu/libssl.so.3', { deleted: true, addr: 0x7f5000 }),
        ].join('\n'),
        cgroup: '0::/system.slice/nginx.service\n',
      },
      // Outside any unit, and in a login session: each bucket has an alert of its own.
      20: {
        name: 'worker',
        maps: mapsLine('/usr/lib/x86_64-linux-gnu/libssl.so.3', { deleted: true }),
        cgroup: '0::/\n',
      },
      21: {
        name: 'bash',
        uid: 1000,
        maps: mapsLine('/usr/lib/x86_64-linux-gnu/libc.so.6', { deleted: true }),
        cgroup: '0::/user.slice/user-1000.slice/session-4.scope\n',
      },
      22: {
        name: 'app',
        maps: mapsLine('/usr/lib/x86_64-linux-gnu/libz.so.1', { deleted: true }),
        cgroup: `0::/system.slice/docker-${'ab'.repeat(32)}.scope\n`,
      },
    });
    const fsroot = join(work, 'fsroot');
    mkdirSync(join(fsroot, 'run'), { recursive: true });
    mkdirSync(join(work, 'state'));

    served = await startServe([
      '--proc-root',
      stale.root,
      '--root',
      fsroot,
      '--state-dir',
      join(work, 'state'),
      '--interval',
      '1',
      '--timeout',
      '5',
    ]);

    prom = await startPrometheus(work, served.port);
  });

  after(async () => {
    await prom?.stop();
    if (served) assert.equal(await served.stop(), 0, served.stderr());
    stale?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const get = <T>(path: string): Promise<T | null> => prom?.get<T>(path) ?? Promise.resolve(null);

  async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>) {
    const t0 = performance.now();
    while (performance.now() - t0 < timeoutMs) {
      const v = await probe();
      if (v !== undefined) return { value: v, ms: Math.round(performance.now() - t0) };
      await sleep(250);
    }
    assert.fail(
      `${what}: not within ${timeoutMs} ms\nprometheus: ${prom?.log()}\nserve: ${served?.stderr()}`,
    );
  }

  const BUCKET_ALERTS = [
    'AfterpatchUnitsNeedRestart',
    'AfterpatchUnmanagedProcessesOutdated',
    'AfterpatchSessionsOutdated',
    'AfterpatchContainersOutdated',
  ];
  const firingAll = async () =>
    ((await get<{ alerts: Alert[] }>('/alerts'))?.alerts ?? []).filter(
      (a) => BUCKET_ALERTS.includes(a.labels.alertname ?? '') && a.state === 'firing',
    );
  const firing = async () =>
    (await firingAll()).filter((a) => a.labels.alertname === 'AfterpatchUnitsNeedRestart');

  it('fires the unit, unmanaged, session and container alerts while they run outdated code, then clears', async () => {
    const fired = await waitFor('alert firing', 20_000, async () => {
      const a = await firing();
      return a.length ? a : undefined;
    });
    assert.equal(fired.value[0]?.labels.job, 'afterpatch');
    console.log(`# alert firing ${fired.ms} ms after Prometheus started`);
    // Stale code outside units, in a session and in a container alerts too, with its severity.
    const all = await waitFor('every bucket alert firing', 20_000, async () => {
      const a = await firingAll();
      return a.length === BUCKET_ALERTS.length ? a : undefined;
    });
    assert.deepEqual(all.value.map((a) => [a.labels.alertname, a.labels.severity]).sort(), [
      ['AfterpatchContainersOutdated', 'warning'],
      ['AfterpatchSessionsOutdated', 'info'],
      ['AfterpatchUnitsNeedRestart', 'warning'],
      ['AfterpatchUnmanagedProcessesOutdated', 'warning'],
    ]);

    const series = await get<{
      result: { metric: Record<string, string>; value: [number, string] }[];
    }>(`/query?query=${encodeURIComponent('afterpatch_unit_needs_restart')}`);
    assert.deepEqual(
      series?.result.map((r) => [r.metric.unit, r.metric.type, r.value[1]]),
      [['nginx.service', 'system-unit', '1']],
    );

    restartAll();
    const cleared = await waitFor('alerts cleared', 20_000, async () =>
      (await firingAll()).length === 0 ? true : undefined,
    );
    console.log(`# alert cleared ${cleared.ms} ms after the processes were "restarted"`);
    const after = await get<{ result: { value: [number, string] }[] }>(
      `/query?query=${encodeURIComponent('afterpatch_units_needing_restart')}`,
    );
    assert.equal(after?.result[0]?.value[1], '0');
    const up = await get<{ result: { value: [number, string] }[] }>(
      `/query?query=${encodeURIComponent('afterpatch_scan_errors_total')}`,
    );
    assert.equal(up?.result[0]?.value[1], '0');
  });
});
