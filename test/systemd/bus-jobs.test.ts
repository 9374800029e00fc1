// Jobs over systemd's private bus (src/systemd/bus-jobs.ts) against a fake peer on a real Unix
// socket: RestartUnit/ReloadUnit in job mode "replace", the end of each job read from its
// JobRemoved signal, every job result other than done/skipped a failure, silence a timeout, a
// lost connection an error — never "done". Against the real systemd: test/restart/window.integration.test.ts.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { BusClient } from '../../src/systemd/bus-client.ts';
import { BusJobs } from '../../src/systemd/bus-jobs.ts';
import {
  type DbusMessage,
  type DbusWriter,
  encodeMessage,
  METHOD_RETURN,
  SIGNAL,
} from '../../src/systemd/dbus-wire.ts';
import { type Answer, type FakeBus, fakeBus } from '../helpers/fake-dbus.ts';
import { FakeSystemd } from '../helpers/fake-systemd.ts';
import { scratchDirs } from '../helpers/scratch.ts';

const dirs = scratchDirs('afterpatch-bus-jobs');
const buses: FakeBus[] = [];
after(() => Promise.all(buses.map((b) => b.close())));

const jobPath = (n: number) => `/org/freedesktop/systemd1/job/${n}`;

function jobReply(serial: number, n: number): Buffer {
  return encodeMessage({
    type: METHOD_RETURN,
    serial: 1000 + serial,
    fields: [[5, 'u', serial]],
    signature: 'o',
    body: (w) => w.string(jobPath(n)),
  });
}

/** A signal from PATH, INTERFACE.MEMBER, with a body the test writes. */
function signal(
  serial: number,
  [path, iface, member]: [string, string, string],
  signature: string,
  body: (w: DbusWriter) => void,
): Buffer {
  const fields: [number, 'o' | 's', string][] = [
    [1, 'o', path],
    [2, 's', iface],
    [3, 's', member],
  ];
  return encodeMessage({ type: SIGNAL, serial, fields, signature, body });
}

/** Manager.JobRemoved(id, job, unit, result), as PID 1 sends it to every direct connection. */
const jobRemoved = (n: number, unit: string, result: string): Buffer =>
  signal(
    5000 + n,
    ['/org/freedesktop/systemd1', 'org.freedesktop.systemd1.Manager', 'JobRemoved'],
    'uoss',
    (w) => {
      w.u32(n);
      w.string(jobPath(n));
      w.string(unit);
      w.string(result);
    },
  );

/**
 * A PropertiesChanged signal (a{sv}: a type the reader does not parse) that must be skipped; its
 * unit is named like the other signal, so it passes the cheap pre-filter and is still never read.
 */
const propertiesChanged = (): Buffer =>
  signal(
    9999,
    [
      '/org/freedesktop/systemd1/unit/JobRemoved_2eservice',
      'org.freedesktop.DBus.Properties',
      'PropertiesChanged',
    ],
    'sa{sv}as',
    (w) => {
      w.string('org.freedesktop.systemd1.Unit');
      w.u32(0);
      w.pad(8);
      w.u32(0);
    },
  );

async function bus(answer: (m: DbusMessage, n: number) => Answer): Promise<FakeBus> {
  let n = 0;
  const b = await fakeBus(dirs(), (m) => answer(m, ++n));
  buses.push(b);
  return b;
}

/** Each job ends with `result` (by unit), after noise: another job's end and a property change. */
const ending =
  (result: (unit: string) => string) =>
  (m: DbusMessage, n: number): Answer => ({
    raw: (s) =>
      Buffer.concat([
        jobReply(s, n),
        propertiesChanged(),
        jobRemoved(900 + n, 'other.service', 'failed'),
        jobRemoved(n, String(m.body[0]), result(String(m.body[0]))),
      ]),
  });

describe('BusJobs', () => {
  it('asks RestartUnit/ReloadUnit in mode replace and waits for each job’s JobRemoved', async () => {
    const b = await bus(ending(() => 'done'));
    const jobs = await BusJobs.open(b.path, 5000);
    const r = await Promise.all([
      jobs.run('restart', 'a.service', 5000),
      jobs.run('reload', 'b.service', 5000),
    ]);
    jobs.close();
    assert.deepEqual(r, [
      { ok: true, timedOut: false, messages: [] },
      { ok: true, timedOut: false, messages: [] },
    ]);
    assert.deepEqual(
      b.calls.map((m) => [m.path, m.interface, m.member, m.body]),
      [
        [
          '/org/freedesktop/systemd1',
          'org.freedesktop.systemd1.Manager',
          'RestartUnit',
          ['a.service', 'replace'],
        ],
        [
          '/org/freedesktop/systemd1',
          'org.freedesktop.systemd1.Manager',
          'ReloadUnit',
          ['b.service', 'replace'],
        ],
      ],
    );
    assert.equal(b.connections, 1, 'one connection for all jobs');
    // BEGIN goes with AUTH, before the OK (as sd-bus clients send it): sent after the OK it may
    // reach PID 1 in one read with the first call, which sd-bus then leaves unanswered.
    assert.match(b.firstChunks[0] ?? '', /^\0AUTH EXTERNAL [0-9a-f]+\r\nBEGIN\r\n$/);
  });

  it('done and skipped succeed, as for systemctl; every other job result is a failure with its message', async () => {
    const results: Record<string, string> = {
      'a.service': 'skipped',
      'b.service': 'failed',
      'c.service': 'canceled',
      'd.service': 'timeout',
      'e.service': 'dependency',
      'f.service': 'something-new',
    };
    const b = await bus(ending((u) => results[u] ?? 'done'));
    const jobs = await BusJobs.open(b.path, 5000);
    const got = await Promise.all(
      Object.keys(results).map(async (u) => [u, await jobs.run('restart', u, 5000)] as const),
    );
    jobs.close();
    assert.deepEqual(Object.fromEntries(got.map(([u, r]) => [u, [r.ok, r.timedOut, r.messages]])), {
      'a.service': [true, false, []],
      'b.service': [false, false, ['Job for b.service failed (job result: failed).']],
      'c.service': [false, false, ['Job for c.service canceled.']],
      // systemd's own job timeout (JobTimeoutSec): a failure it reported, not our timeout.
      'd.service': [false, false, ['Job for d.service timed out.']],
      'e.service': [false, false, ['A dependency job for e.service failed.']],
      'f.service': [false, false, ['Job for f.service failed (job result: something-new).']],
    });
  });

  it('a job that ends before its reply is read is still matched', async () => {
    const b = await bus((m, n) => ({
      raw: (s) => Buffer.concat([jobRemoved(n, String(m.body[0]), 'done'), jobReply(s, n)]),
    }));
    const jobs = await BusJobs.open(b.path, 5000);
    assert.equal((await jobs.run('restart', 'a.service', 2000)).ok, true);
    jobs.close();
  });

  it('an error reply fails the unit with systemd’s message; silence is a timeout; a hang-up rejects', async () => {
    const refused = await bus(() => ({ error: 'org.freedesktop.systemd1.NoSuchUnit' }));
    const j1 = await BusJobs.open(refused.path, 5000);
    assert.deepEqual(await j1.run('restart', 'gone.service', 2000), {
      ok: false,
      timedOut: false,
      messages: ['Failed to restart gone.service: fake error'],
    });
    j1.close();

    // The job is queued but never ends (no JobRemoved): timedOut, after the timeout, not before.
    const queued = await bus((_m, n) => ({ raw: (s) => jobReply(s, n) }));
    const j2 = await BusJobs.open(queued.path, 5000);
    const t0 = performance.now();
    assert.deepEqual(await j2.run('restart', 'slow.service', 300), {
      ok: false,
      timedOut: true,
      messages: [],
    });
    assert.ok(performance.now() - t0 >= 290);
    // No reply at all: the same.
    const silent = await bus(() => 'silence');
    const j3 = await BusJobs.open(silent.path, 5000);
    assert.equal((await j3.run('restart', 'a.service', 200)).timedOut, true);
    j3.close();

    j2.close();

    // The connection lost while jobs run (queued, not ended), or before any reply: whether
    // systemd acted is unknown → an error, for each job waiting.
    const dropped = await bus((_m, n) => ({ raw: (s) => jobReply(s, n), hangUpAfterMs: 50 }));
    const j4 = await BusJobs.open(dropped.path, 5000);
    const both = [j4.run('restart', 'a.service', 5000), j4.run('restart', 'b.service', 5000)];
    for (const p of both) await assert.rejects(p, /closed the connection/);
    await assert.rejects(j4.run('restart', 'c.service', 5000), /closed the connection/);
    const lost = await bus(() => 'hang-up');
    const j5 = await BusJobs.open(lost.path, 5000);
    await assert.rejects(j5.run('restart', 'a.service', 2000), /closed the connection/);
  });

  it('BusClient offers jobs for the system manager only, and null (systemctl batches) when the bus cannot be reached', async () => {
    const fb = new FakeSystemd();
    const why: string[] = [];
    const missing = new BusClient({
      socketPath: `${dirs()}/nothing`,
      fallback: fb,
      onFallback: (w) => why.push(w),
    });
    assert.equal(await missing.jobs({ type: 'system' }), null);
    assert.equal(why.length, 1);
    assert.match(why[0] ?? '', /ENOENT/);

    const refused = await fakeBus(dirs(), () => 'silence', 'refuse');
    buses.push(refused);
    assert.equal(
      await new BusClient({ socketPath: refused.path, fallback: fb }).jobs({ type: 'system' }),
      null,
    );

    const b = await bus(ending(() => 'done'));
    const c = new BusClient({ socketPath: b.path, fallback: fb });
    assert.equal(await c.jobs({ type: 'user', uid: 1000 }), null);
    assert.equal(b.connections, 0);
    const jobs = await c.jobs({ type: 'system' });
    assert.ok(jobs);
    assert.equal((await jobs.run('restart', 'a.service', 2000)).ok, true);
    jobs.close();
    assert.deepEqual(fb.acts, []);
  });
});
