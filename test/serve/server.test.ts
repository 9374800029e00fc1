// `afterpatch serve` in-process: the scan cache (interval, one scan at a time), the 503 timeout,
// scan errors as metrics, 404/405, and --listen parsing.
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { emptyRestartView, type Health } from '../../src/check/health.ts';
import { expositionSource } from '../../src/serve/exposition.ts';
import { parseListen } from '../../src/serve/listen.ts';
import { createMetricsServer } from '../../src/serve/server.ts';

function fakeHealth(units: number): Health {
  return {
    scan: {
      hostname: 'h',
      asRoot: true,
      ptrace: true,
      time: '',
      durationMs: 1,
      packageManager: null,
      summary: {
        scanned: 1,
        unreadable: 0,
        processes: units,
        units,
        userUnits: 0,
        sessions: 0,
        containers: 0,
        vms: 0,
        dataOnly: 0,
      },
      groups: Array.from({ length: units }, (_, i) => ({
        owner: { type: 'system-unit' as const, unit: `u${i}.service` },
        key: `system-unit:u${i}.service`,
        severity: 'code' as const,
        pids: [10 + i],
        names: ['u'],
        files: [],
        action: { kind: 'manual' as const, advice: '' },
      })),
      processes: [],
      warnings: [],
    },
    reboot: { required: false, applicable: true, reasons: [], notes: [], sentinelWritten: null },
    restart: emptyRestartView(),
    durationMs: 1,
    timestamp: Date.now() / 1000,
  };
}

interface Rig {
  url: string;
  scans: () => number;
  logs: string[];
}

let servers: Server[] = [];
afterEach(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
  servers = [];
});

async function rig(o: {
  gather: () => Promise<Health>;
  intervalMs: number;
  timeoutMs: number;
}): Promise<Rig> {
  const logs: string[] = [];
  const source = expositionSource({
    gather: o.gather,
    intervalMs: o.intervalMs,
    maxUnitSeries: 100,
    nodeRebootRequired: true,
    log: (l) => logs.push(l),
  });
  const server = createMetricsServer({ source, timeoutMs: o.timeoutMs });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/metrics`, scans: () => source.scans, logs };
}

const metric = (body: string, name: string) => new RegExp(`^${name} (\\S+)$`, 'm').exec(body)?.[1];

describe('afterpatch serve (in-process)', () => {
  it('two scrapes within the interval scan once and get the same exposition', async () => {
    let calls = 0;
    const r = await rig({
      gather: async () => fakeHealth(++calls),
      intervalMs: 60_000,
      timeoutMs: 5000,
    });
    const a = await fetch(r.url);
    const b = await fetch(r.url);
    assert.equal(a.status, 200);
    assert.match(a.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const [ta, tb] = [await a.text(), await b.text()];
    assert.equal(ta, tb);
    assert.equal(calls, 1);
    assert.equal(r.scans(), 1);
    assert.equal(metric(ta, 'afterpatch_units_needing_restart'), '1');
  });

  it('scans again once the interval has passed', async () => {
    let calls = 0;
    const r = await rig({
      gather: async () => fakeHealth(++calls),
      intervalMs: 150,
      timeoutMs: 5000,
    });
    await (await fetch(r.url)).text();
    await sleep(200);
    const body = await (await fetch(r.url)).text();
    assert.equal(calls, 2);
    assert.equal(metric(body, 'afterpatch_units_needing_restart'), '2');
  });

  it('concurrent scrapes share the one scan in flight (never two at once)', async () => {
    let calls = 0;
    let running = 0;
    let maxRunning = 0;
    const r = await rig({
      gather: async () => {
        calls++;
        running++;
        maxRunning = Math.max(maxRunning, running);
        await sleep(300);
        running--;
        return fakeHealth(3);
      },
      intervalMs: 0,
      timeoutMs: 5000,
    });
    const res = await Promise.all(Array.from({ length: 8 }, () => fetch(r.url)));
    const bodies = await Promise.all(res.map((x) => x.text()));
    assert.deepEqual(
      res.map((x) => x.status),
      Array(8).fill(200),
    );
    assert.equal(new Set(bodies).size, 1);
    assert.equal(calls, 1);
    assert.equal(maxRunning, 1);
  });

  it('a scrape waiting longer than the timeout gets 503; the scan completes for the next one', async () => {
    let calls = 0;
    const r = await rig({
      gather: async () => {
        calls++;
        await sleep(600);
        return fakeHealth(4);
      },
      intervalMs: 60_000,
      timeoutMs: 150,
    });
    const t0 = performance.now();
    const slow = await fetch(r.url);
    const waited = performance.now() - t0;
    assert.equal(slow.status, 503);
    const text = await slow.text();
    assert.match(
      text,
      /^afterpatch: scan still running after 0\.15 s; a later scrape gets its result\n$/,
    );
    assert.ok(waited < 500, `503 after ${waited} ms`);
    await sleep(600);
    const next = await fetch(r.url);
    assert.equal(next.status, 200);
    assert.equal(metric(await next.text(), 'afterpatch_units_needing_restart'), '4');
    assert.equal(calls, 1, 'the timed-out scan was reused, not repeated');
  });

  it('a failed scan is exported and logged, not a crash; the last good snapshot stays', async () => {
    let calls = 0;
    const r = await rig({
      gather: async () => {
        calls++;
        if (calls === 2) throw new Error('cannot list processes in /proc\n(EACCES)');
        return fakeHealth(2);
      },
      intervalMs: 0,
      timeoutMs: 5000,
    });
    const ok = await (await fetch(r.url)).text();
    assert.equal(metric(ok, 'afterpatch_scan_errors_total'), '0');
    const bad = await fetch(r.url);
    assert.equal(bad.status, 200);
    const badText = await bad.text();
    assert.equal(metric(badText, 'afterpatch_scan_errors_total'), '1');
    assert.equal(metric(badText, 'afterpatch_last_scan_success'), '0');
    assert.equal(metric(badText, 'afterpatch_units_needing_restart'), '2');
    assert.deepEqual(r.logs, ['afterpatch: scan failed: cannot list processes in /proc (EACCES)']);
    const again = await (await fetch(r.url)).text();
    assert.equal(
      metric(again, 'afterpatch_scan_errors_total'),
      '1',
      'a counter: it never goes down',
    );
    assert.equal(metric(again, 'afterpatch_last_scan_success'), '1');
  });

  it('404 elsewhere, 405 for other methods, and no scan for either', async () => {
    let calls = 0;
    const r = await rig({
      gather: async () => fakeHealth(++calls),
      intervalMs: 0,
      timeoutMs: 5000,
    });
    const base = r.url.replace(/\/metrics$/, '');
    assert.equal((await fetch(`${base}/`)).status, 404);
    assert.equal((await fetch(`${base}/metricsx`)).status, 404);
    const post = await fetch(r.url, { method: 'POST', body: 'x' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET');
    assert.equal((await fetch(r.url, { method: 'HEAD' })).status, 405);
    assert.equal(calls, 0);
    assert.equal((await fetch(`${r.url}?x=1`)).status, 200);
  });
});

describe('--listen addresses', () => {
  it('accepts HOST:PORT, [IPv6]:PORT and :PORT', () => {
    assert.deepEqual(parseListen('127.0.0.1:9789'), { host: '127.0.0.1', port: 9789 });
    assert.deepEqual(parseListen('[::1]:9789'), { host: '::1', port: 9789 });
    assert.deepEqual(parseListen(':9789'), { host: undefined, port: 9789 });
    assert.deepEqual(parseListen('localhost:0'), { host: 'localhost', port: 0 });
  });
  it('rejects anything else with a one-line reason', () => {
    for (const bad of [
      '9789',
      '127.0.0.1',
      '127.0.0.1:99999',
      '::1:9789',
      '[::1]9789',
      '[zz]:1',
      '1.2.3:80',
      'a b:1',
      '127.0.0.1:-1',
      '',
    ]) {
      assert.throws(
        () => parseListen(bad),
        (e: Error) => /^--listen ".*": .*\n?$/.test(e.message) && !e.message.includes('\n'),
        bad,
      );
    }
  });
});
