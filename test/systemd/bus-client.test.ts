// The D-Bus reader of unit properties (src/systemd/bus-client.ts, dbus-wire.ts, dbus-socket.ts)
// against a fake peer on a real Unix socket: the values systemctl would print, and every way the
// bus can fail ending in the same question asked of systemctl (never in made-up properties).
// Compared with the real systemd in test/systemd/bus-client.integration.test.ts.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { BusClient, busShow, showValue, unitObjectPath } from '../../src/systemd/bus-client.ts';
import { callAll } from '../../src/systemd/dbus-socket.ts';
import {
  DbusFormatError,
  type DbusWriter,
  decodeMessage,
  encodeCall,
  encodeMessage,
  METHOD_RETURN,
} from '../../src/systemd/dbus-wire.ts';
import { type Answer, type FakeBus, fakeBus, variantReply } from '../helpers/fake-dbus.ts';
import { FakeSystemd } from '../helpers/fake-systemd.ts';
import { scratchDirs } from '../helpers/scratch.ts';

const dirs = scratchDirs('afterpatch-bus');
const buses: FakeBus[] = [];
after(() => Promise.all(buses.map((b) => b.close())));

async function bus(answer: (prop: string, unitPath: string) => Answer): Promise<FakeBus> {
  const b = await fakeBus(dirs(), (m) => {
    const [, prop] = m.body as [string, string];
    return answer(prop, m.path ?? '');
  });
  buses.push(b);
  return b;
}

/** A systemd that knows a.service (active, its cgroup, triggered by a.socket). */
const healthy = (prop: string): Answer => {
  const values: Record<string, Answer> = {
    LoadState: { sig: 's', value: 'loaded' },
    ActiveState: { sig: 's', value: 'active' },
    RefuseManualStop: { sig: 'b', value: false },
    CanReload: { sig: 'b', value: true },
    ControlGroup: { sig: 's', value: '/system.slice/a.service' },
    MainPID: { sig: 'u', value: 4242 },
    TriggeredBy: { sig: 'as', value: ['a.socket', 'b.socket'] },
    Accept: { sig: 'b', value: true },
  };
  return values[prop] ?? { error: 'org.freedesktop.DBus.Error.UnknownProperty' };
};

/** A METHOD_RETURN with any signature and body, written by the test. */
function rawReply(signature: string, body: (w: DbusWriter) => void): Answer {
  return {
    raw: (s: number) =>
      encodeMessage({ type: METHOD_RETURN, serial: 9, fields: [[5, 'u', s]], signature, body }),
  };
}

function fallback(): FakeSystemd {
  return new FakeSystemd().unit('a.service', { ActiveState: 'activating' });
}

describe('D-Bus wire format', () => {
  it('encodes a method call the decoder reads back, and waits for a whole message', () => {
    const call = {
      path: '/org/freedesktop/systemd1/unit/a_2eservice',
      interface: 'org.freedesktop.DBus.Properties',
      member: 'Get',
      destination: 'org.freedesktop.systemd1',
      args: ['org.freedesktop.systemd1.Unit', 'ActiveState ünï'],
    };
    const buf = encodeCall(call, 7);
    const got = decodeMessage(buf, true);
    assert.equal(got?.size, buf.length);
    assert.equal(got?.message.serial, 7);
    assert.equal(got?.message.path, call.path);
    assert.equal(got?.message.member, 'Get');
    assert.deepEqual(got?.message.body, call.args);
    for (const n of [0, 15, 16, buf.length - 1])
      assert.equal(decodeMessage(buf.subarray(0, n)), null);
  });
  it('reads booleans, numbers, 64-bit numbers and string arrays in variants', () => {
    const read = (b: Buffer) => decodeMessage(b)?.message.body[0];
    assert.equal(read(variantReply(1, { sig: 'b', value: true })), true);
    assert.equal(read(variantReply(1, { sig: 'u', value: 4294967295 })), 4294967295);
    assert.equal(read(variantReply(1, { sig: 't', value: 2n ** 40n })), 2n ** 40n);
    assert.deepEqual(read(variantReply(1, { sig: 'as', value: ['x', 'yz'] })), ['x', 'yz']);
    assert.deepEqual(read(variantReply(1, { sig: 'as', value: [] })), []);
  });
  it('refuses malformed or unsupported replies instead of guessing', () => {
    const struct = encodeMessage({
      type: METHOD_RETURN,
      serial: 2,
      fields: [[5, 'u', 1]],
      signature: '(s)',
      body: (w) => {
        w.pad(8);
        w.string('x');
      },
    });
    assert.throws(() => decodeMessage(struct), DbusFormatError);
    const bad = Buffer.from(variantReply(1, { sig: 'b', value: true }));
    bad[0] = 0x58;
    assert.throws(() => decodeMessage(bad), DbusFormatError);
    const notBool = Buffer.from(variantReply(1, { sig: 'b', value: true }));
    notBool[notBool.length - 4] = 2; // a boolean is 0 or 1
    assert.throws(() => decodeMessage(notBool), DbusFormatError);
    const huge = Buffer.from(variantReply(1, { sig: 's', value: 'x' }));
    huge.writeUInt32LE(0x7fffffff, 4); // body length
    assert.throws(() => decodeMessage(huge), /too large/);
    const arr = Buffer.from(variantReply(1, { sig: 'as', value: ['x'] }));
    arr.writeUInt32LE(3, arr.length - 10); // array byte length shorter than its element
    assert.throws(() => decodeMessage(arr), DbusFormatError);
  });
});

describe('systemctl show values from D-Bus', () => {
  it('escapes unit names into object paths as sd_bus_path_encode does', () => {
    assert.equal(
      unitObjectPath('bench-svc-001.service'),
      '/org/freedesktop/systemd1/unit/bench_2dsvc_2d001_2eservice',
    );
    assert.equal(unitObjectPath('-.mount'), '/org/freedesktop/systemd1/unit/_2d_2emount');
    assert.equal(unitObjectPath('1x.service'), '/org/freedesktop/systemd1/unit/_31x_2eservice');
    assert.equal(unitObjectPath('é'), '/org/freedesktop/systemd1/unit/_c3_a9');
  });
  it('prints values the way systemctl show does', () => {
    assert.equal(showValue(true), 'yes');
    assert.equal(showValue(false), 'no');
    assert.equal(showValue(0), '0');
    assert.equal(showValue(2n ** 63n), '9223372036854775808');
    assert.equal(showValue(['a.socket', 'b.socket']), 'a.socket b.socket');
    assert.equal(showValue([]), '');
    assert.equal(showValue([[1]]), null);
  });
});

describe('BusClient', () => {
  it('answers show and activeStates over the bus, one connection each, absent properties left out', async () => {
    const b = await bus(healthy);
    const fb = fallback();
    const c = new BusClient({ socketPath: b.path, fallback: fb });
    const props = await c.show({ type: 'system' }, ['a.service']);
    assert.deepEqual(props.get('a.service'), {
      LoadState: 'loaded',
      ActiveState: 'active',
      RefuseManualStop: 'no',
      CanReload: 'yes',
      ControlGroup: '/system.slice/a.service',
      TriggeredBy: 'a.socket b.socket',
    });
    const sockets = await c.show({ type: 'system' }, ['a.socket'], ['Id', 'Accept']);
    assert.deepEqual(sockets.get('a.socket'), { Accept: 'yes' });
    assert.deepEqual(
      await c.activeStates({ type: 'system' }, ['a.service']),
      new Map([['a.service', 'active']]),
    );
    assert.equal(b.connections, 3);
    assert.deepEqual(fb.queries, []);
    // Unit-type properties go to the type's interface, the others to ...Unit.
    const asked = b.calls.map((m) => `${(m.body as string[]).join('.')}`);
    assert.ok(asked.includes('org.freedesktop.systemd1.Service.ControlGroup'));
    assert.ok(asked.includes('org.freedesktop.systemd1.Socket.Accept'));
    assert.ok(asked.includes('org.freedesktop.systemd1.Unit.ActiveState'));
  });

  const failures: [string, (prop: string) => Answer, number?][] = [
    ['garbage on the socket', () => 'garbage'],
    ['a hang-up', () => 'hang-up'],
    ['no answer (timeout)', () => 'silence'],
    [
      'an error other than "no such property"',
      () => ({ error: 'org.freedesktop.DBus.Error.AccessDenied' }),
    ],
    [
      'a value of a type systemctl would print otherwise',
      () =>
        rawReply('v', (w) => {
          w.signature('ay');
          w.u32(1);
          w.byte(7);
        }),
    ],
    [
      'a reply with two values',
      () =>
        rawReply('ss', (w) => {
          w.string('a');
          w.string('b');
        }),
    ],
  ];
  for (const [what, answer] of failures) {
    it(`asks systemctl instead after ${what}, and does not try the bus again`, async () => {
      const b = await bus((prop) => (prop === 'ActiveState' ? answer(prop) : healthy(prop)));
      const fb = fallback();
      const why: string[] = [];
      const c = new BusClient({
        socketPath: b.path,
        fallback: fb,
        timeoutMs: 300,
        onFallback: (w) => why.push(w),
      });
      const props = await c.show({ type: 'system' }, ['a.service']);
      assert.equal(props.get('a.service')?.ActiveState, 'activating', 'the fallback answered');
      assert.equal(why.length, 1);
      assert.deepEqual(
        await c.activeStates({ type: 'system' }, ['a.service']),
        new Map([['a.service', 'activating']]),
      );
      assert.equal(b.connections, 1, 'the bus is not tried again');
      assert.deepEqual(fb.queries, ['show a.service', 'is-active a.service']);
    });
  }

  it('asks systemctl when the socket is missing, the auth is refused, or for a user manager', async () => {
    const fb = fallback();
    const missing = new BusClient({ socketPath: `${dirs()}/nothing`, fallback: fb });
    assert.equal(
      (await missing.show({ type: 'system' }, ['a.service'])).get('a.service')?.ActiveState,
      'activating',
    );
    const refused = await fakeBus(dirs(), () => healthy('ActiveState'), 'refuse');
    buses.push(refused);
    const c = new BusClient({ socketPath: refused.path, fallback: fb });
    assert.equal(
      (await c.show({ type: 'system' }, ['a.service'])).get('a.service')?.ActiveState,
      'activating',
    );
    const b = await bus(healthy);
    const user = new BusClient({ socketPath: b.path, fallback: fb });
    await user.show({ type: 'user', uid: 1000 }, ['a.service']);
    assert.equal(b.connections, 0);
    assert.equal(fb.queries.length, 3);
  });

  it('pipelines thousands of calls on one connection and keeps their order', async () => {
    const b = await bus((prop, path) => ({ sig: 's', value: `${path.slice(-12)}:${prop}` }));
    const units = Array.from({ length: 300 }, (_, i) => `u${i}.service`);
    const props = await busShow(b.path, units, ['ActiveState', 'SubState', 'Result'], 10_000);
    assert.equal(b.connections, 1);
    assert.equal(b.calls.length, 900);
    assert.equal(
      props.get('u299.service')?.Result,
      `${unitObjectPath('u299.service').slice(-12)}:Result`,
    );
    assert.deepEqual(await callAll(b.path, [], 1000), []);
  });
});
