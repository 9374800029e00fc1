import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultConfig } from '../../src/config/load.ts';
import { suggestAction } from '../../src/grouping/action.ts';
import type { Group } from '../../src/grouping/group.ts';
import { ownerKey } from '../../src/grouping/group.ts';
import { DEFAULT_REBOOT_POLICY } from '../../src/reboot/detect.ts';
import { entryLabel } from '../../src/restart/apply.ts';
import { isActionable, makePlan, type PlanEntry, type PlanInput } from '../../src/restart/plan.ts';
import { builtinDenyReason } from '../../src/restart/safelist.ts';
import { emptyState } from '../../src/restart/state.ts';
import type { Owner } from '../../src/scan/model.ts';
import { BUS_UNITS } from '../../src/systemd/bus.ts';
import type { UnitProperties } from '../../src/systemd/properties.ts';

const LIB = '/usr/lib/x86_64-linux-gnu/libssl.so.3';
const ACTIVE: UnitProperties = {
  LoadState: 'loaded',
  ActiveState: 'active',
  SubState: 'running',
  Type: 'notify',
  RefuseManualStop: 'no',
  CanReload: 'yes',
};

function group(owner: Owner, severity: 'code' | 'data' = 'code', pids = [100]): Group {
  return {
    owner,
    key: ownerKey(owner),
    severity,
    pids,
    names: ['x'],
    files: [{ path: LIB, kind: severity, package: null }],
    action: suggestAction(owner, pids),
  };
}
const unit = (u: string): Owner => ({ type: 'system-unit', unit: u });

function plan(
  groups: Group[],
  over: Partial<PlanInput> = {},
  props: Record<string, UnitProperties> = {},
) {
  const properties = new Map<string, UnitProperties>();
  for (const g of groups) properties.set(g.key, props[g.key] ?? ACTIVE);
  return makePlan({
    groups,
    properties,
    config: defaultConfig().restart,
    state: emptyState(),
    fileIds: new Map(groups.map((g) => [g.key, [`42:${LIB}`]])),
    force: false,
    includeData: false,
    ...over,
  });
}
const one = (...a: Parameters<typeof plan>) => {
  const [e] = plan(...a);
  assert.ok(e);
  return e;
};

describe('restart planner', () => {
  it('restarts an active service that maps stale code', () => {
    const e = one([group(unit('nginx.service'))]);
    assert.equal(e.action, 'restart');
    assert.equal(e.unit, 'nginx.service');
    assert.equal(e.needsHuman, false);
    assert.match(e.reason, /libssl/);
    assert.deepEqual(e.files[0]?.ids, [`42:${LIB}`]);
  });

  it('re-executes PID 1 and user managers instead of restarting them', () => {
    const [init, mgr] = plan([
      group({ type: 'init' }, 'code', [1]),
      group({ type: 'user-manager', uid: 1000, unit: 'user@1000.service' }),
    ]);
    assert.equal(init?.action, 'daemon-reexec');
    assert.equal(init?.needsHuman, false);
    assert.equal(entryLabel(init as PlanEntry), 'systemd (PID 1)');
    assert.equal(mgr?.action, 'reexec-user-manager');
    assert.deepEqual(mgr?.manager, { type: 'user', uid: 1000 });
  });

  it('does not call a process of init.scope other than PID 1 "systemd (PID 1)" nor pretend daemon-reexec renews it', () => {
    const alone = one([group({ type: 'init' }, 'code', [345])]);
    assert.equal(alone.action, 'advise');
    assert.equal(alone.needsHuman, true);
    assert.match(alone.reason, /not PID 1.*restart PID 345 by hand/);
    assert.equal(entryLabel(alone), 'init.scope (PID 345)');
    const both = one([group({ type: 'init' }, 'code', [1, 345])]);
    assert.equal(both.action, 'daemon-reexec');
    assert.equal(both.needsHuman, true);
    assert.match(both.reason, /PID 345 in init.scope must be restarted by hand/);
    assert.equal(entryLabel(both), 'init.scope (PID 1, 345)');
  });

  it('restarts user units through their user manager', () => {
    const e = one([
      group({
        type: 'user-unit',
        uid: 1000,
        unit: 'pipewire.service',
        manager: 'user@1000.service',
      }),
    ]);
    assert.equal(e.action, 'restart');
    assert.deepEqual(e.manager, { type: 'user', uid: 1000 });
  });

  it('only advises for sessions, containers and processes outside units', () => {
    const entries = plan([
      group({ type: 'session', uid: 1000, session: '4', unit: 'session-4.scope' }),
      group({
        type: 'container',
        runtime: 'docker',
        id: 'abc',
        cgroup: '/system.slice/docker-abc.scope',
      }),
      group({ type: 'unmanaged', cgroup: '/' }),
    ]);
    for (const e of entries) {
      assert.equal(e.action, 'advise');
      assert.equal(e.needsHuman, true);
      assert.equal(isActionable(e), false);
    }
    assert.match(entries[0]?.reason ?? '', /logs out/);
    assert.match(entries[1]?.reason ?? '', /restart the container/);
  });

  it('names a few PIDs of many outside units and counts the rest (issue 11.2)', () => {
    const pids = Array.from({ length: 10_000 }, (_, i) => 1000 + i);
    const e = one([group({ type: 'unmanaged', cgroup: '/' }, 'code', pids)]);
    assert.match(e.reason, /restart PID 1000, 1001, .*, 1007 and 9992 more by hand$/);
    assert.ok(e.reason.length < 200, `${e.reason.length} characters`);
  });

  const denied = [
    'dbus.service',
    'dbus-broker.service',
    'systemd-logind.service',
    'gdm.service',
    'getty@tty1.service',
    'serial-getty@ttyS0.service',
    'user@1000.service',
    'NetworkManager.service',
    'systemd-networkd.service',
    'wpa_supplicant.service',
    'openvpn@office.service',
    'libvirtd.service',
    'docker.service',
    'containerd.service',
    'emergency.service',
    'rescue.service',
  ];
  for (const u of denied) {
    it(`never restarts ${u}, and says why`, () => {
      const e = one([group(unit(u))]);
      assert.equal(e.action, 'skip');
      assert.equal(e.needsHuman, true);
      assert.match(e.reason, /^never restarted automatically: .+/);
    });
  }
  it('never restarts a unit the reboot check counts as the message bus: one list (src/systemd/bus.ts)', () => {
    assert.equal(DEFAULT_REBOOT_POLICY.pinnedUnits, BUS_UNITS);
    for (const u of BUS_UNITS) assert.match(builtinDenyReason(u) ?? '', /^the message bus/, u);
  });
  it('lets ordinary services through the safe list', () => {
    for (const u of ['nginx.service', 'ssh.service', 'dbus-test.service', 'mydocker.service']) {
      assert.equal(builtinDenyReason(u), null, u);
    }
  });

  const objections: [string, UnitProperties, RegExp][] = [
    [
      'a oneshot shown active (exited)',
      { ...ACTIVE, Type: 'oneshot', SubState: 'exited' },
      /oneshot/,
    ],
    ['RefuseManualStop=yes', { ...ACTIVE, RefuseManualStop: 'yes' }, /RefuseManualStop=yes/],
    [
      'an inactive unit',
      { ...ACTIVE, ActiveState: 'inactive', SubState: 'dead' },
      /unit is inactive/,
    ],
    ['a failed unit', { ...ACTIVE, ActiveState: 'failed' }, /unit is failed/],
    ['an unloaded unit', { ...ACTIVE, LoadState: 'not-found' }, /not-found/],
    ['a unit at its start limit', { ...ACTIVE, Result: 'start-limit-hit' }, /start limit/],
  ];
  for (const [what, props, reason] of objections) {
    it(`skips ${what}`, () => {
      const g = group(unit('app.service'));
      const e = one([g], {}, { [g.key]: props });
      assert.equal(e.action, 'skip');
      assert.match(e.reason, reason);
    });
  }

  it('skips scopes: systemd cannot restart them', () => {
    const e = one([group(unit('run-r1234.scope'))]);
    assert.equal(e.action, 'skip');
    assert.match(e.reason, /scope/);
  });

  it('leaves data-only units alone unless asked', () => {
    const g = group(unit('localed.service'), 'data');
    assert.deepEqual([one([g]).action, one([g]).needsHuman], ['skip', false]);
    assert.equal(one([g], { includeData: true }).action, 'restart');
  });

  it('honours restart.never, restart.only and restart.reload', () => {
    const cfg = {
      ...defaultConfig().restart,
      never: ['mysql*.service'],
      only: ['nginx.service', 'mysql.service', 'php*'],
      reload: ['php*-fpm.service'],
    };
    const entries = plan(
      [
        group(unit('mysql.service')),
        group(unit('nginx.service')),
        group(unit('php8.2-fpm.service')),
        group(unit('redis.service')),
      ],
      { config: cfg },
    );
    assert.deepEqual(
      entries.map((e) => [e.unit, e.action]),
      [
        ['mysql.service', 'skip'],
        ['nginx.service', 'restart'],
        ['php8.2-fpm.service', 'reload'],
        ['redis.service', 'skip'],
      ],
    );
    assert.match(entries[0]?.reason ?? '', /restart\.never/);
    assert.match(entries[3]?.reason ?? '', /restart\.only/);
  });

  it('does not restart a unit again for the same files after it stayed stale, unless forced', () => {
    const g = group(unit('ssh.service'));
    const state = emptyState();
    state.units[g.key] = {
      time: '2026-11-25T10:00:00.000Z',
      action: 'restart',
      outcome: 'still-stale',
      files: [`42:${LIB}`, `43:/usr/lib/libz.so`],
    };
    const e = one([g], { state });
    assert.equal(e.action, 'skip');
    // In words, whatever the action (was: "already daemon-reexeced", "already undefineded").
    assert.match(
      e.reason,
      /^already tried \(restart\) at .* ended still-stale: not again without --force$/,
    );
    assert.equal(one([g], { state, force: true }).action, 'restart');
    // A new upgrade (another inode) is a new reason to restart.
    assert.equal(one([g], { state, fileIds: new Map([[g.key, [`77:${LIB}`]]]) }).action, 'restart');
    // A verified earlier run is no reason to hold back.
    state.units[g.key] = {
      ...state.units[g.key],
      outcome: 'verified',
    } as (typeof state.units)[string];
    assert.equal(one([g], { state }).action, 'restart');
    // Unverified is not done: the same rule holds it back (docs/restart.md says why).
    state.units[g.key] = {
      ...state.units[g.key],
      action: 'daemon-reexec',
      outcome: 'unverified',
    } as (typeof state.units)[string];
    assert.match(
      one([g], { state }).reason,
      /^already tried \(daemon-reexec\) at .* ended unverified/,
    );
  });

  it('skips a unit systemd did not describe', () => {
    const g = group(unit('ghost.service'));
    const e = makePlan({
      groups: [g],
      properties: new Map(),
      config: defaultConfig().restart,
      state: emptyState(),
      fileIds: new Map(),
      force: false,
      includeData: false,
    })[0];
    assert.equal(e?.action, 'skip');
    assert.match(e?.reason ?? '', /did not answer/);
  });

  describe('per-connection instances of Accept=yes sockets (issue 15)', () => {
    const SSHD = 'sshd@3-10.0.0.1:22-10.0.0.9:5512.service';
    const triggered = (by: string): UnitProperties => ({ ...ACTIVE, TriggeredBy: by });
    const sockets = (entries: [string, string][]) =>
      new Map(entries.map(([k, accept]): [string, UnitProperties] => [k, { Accept: accept }]));

    it('advises like a session instead of restarting the instance, whatever the config says', () => {
      const g = group(unit(SSHD));
      const e = one(
        [g],
        {
          sockets: sockets([['sshd.socket', 'yes']]),
          config: { ...defaultConfig().restart, reload: ['sshd@*'] },
        },
        { [g.key]: triggered('sshd.socket') },
      );
      assert.equal(e.action, 'advise');
      assert.equal(
        e.reason,
        'per-connection instance of sshd.socket: ends when the connection closes',
      );
      assert.equal(e.needsHuman, true);
      assert.equal(e.unit, SSHD);
      assert.equal(isActionable(e), false);
    });

    it('restarts an instance whose socket has Accept=no, and plain socket-activated units', () => {
      const inst = group(unit('app@x.service'));
      const plainUnit = group(unit('cups.service'));
      const [a, b] = plan(
        [inst, plainUnit],
        { sockets: sockets([['app.socket', 'no']]) },
        {
          [inst.key]: triggered('app.socket'),
          [plainUnit.key]: triggered('cups.socket cups.path'),
        },
      );
      assert.equal(a?.action, 'restart');
      assert.equal(b?.action, 'restart');
    });

    it('reads Accept= per manager: a user socket of the same name is another socket', () => {
      const owner: Owner = {
        type: 'user-unit',
        uid: 1000,
        unit: 'echo@1-1000-1000.service',
        manager: 'user@1000.service',
      };
      const g = group(owner);
      const props = { [g.key]: triggered('echo.socket') };
      const user = one([g], { sockets: sockets([['1000:echo.socket', 'yes']]) }, props);
      assert.equal(user.action, 'advise');
      assert.deepEqual(user.manager, { type: 'user', uid: 1000 });
      // The system's echo.socket says nothing about uid 1000's.
      const wrong = one([g], { sockets: sockets([['echo.socket', 'yes']]) }, props);
      assert.equal(wrong.action, 'skip');
    });

    it('does not restart an instance whose socket could not be read (fail closed)', () => {
      const g = group(unit(SSHD));
      const props = { [g.key]: triggered('sshd.socket') };
      for (const input of [
        {},
        { sockets: new Map() },
        { sockets: sockets([['sshd.socket', '']]) },
      ]) {
        const e = one([g], input, props);
        assert.equal(e.action, 'skip');
        assert.equal(e.needsHuman, true);
        assert.match(e.reason, /^could not read Accept= of sshd\.socket: not restarted/);
      }
    });

    it('leaves a data-only instance alone without asking a human', () => {
      const g = group(unit(SSHD), 'data');
      const e = one(
        [g],
        { sockets: sockets([['sshd.socket', 'yes']]) },
        { [g.key]: triggered('sshd.socket') },
      );
      assert.equal(e.action, 'skip');
      assert.equal(e.needsHuman, false);
    });
  });
});
