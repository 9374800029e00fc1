// planRestart over a fake /proc with a fake systemd: which `systemctl show` calls the planner
// makes for per-connection instances (issue 15), and what it does when the sockets' Accept=
// cannot be read. The decision itself is covered by plan.test.ts; the real socket by
// per-connection.integration.test.ts.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { countBuckets } from '../../src/check/buckets.ts';
import { defaultConfig } from '../../src/config/load.ts';
import { suggestAction } from '../../src/grouping/action.ts';
import { type Group, ownerKey } from '../../src/grouping/group.ts';
import { planRestart } from '../../src/restart/restart.ts';
import type { Owner } from '../../src/scan/model.ts';
import { acceptSocketByName } from '../../src/systemd/accept-instance.ts';
import type { Manager } from '../../src/systemd/client.ts';
import { SOCKET_PROPERTIES, type UnitProperties } from '../../src/systemd/properties.ts';
import { FakeSystemd } from '../helpers/fake-systemd.ts';
import { FAKE_INIT, FAKE_STALE_SSHD, makeProcTree, mapsLine } from '../helpers/fakeproc.ts';

const INSTANCE = 'sshd@3-10.0.0.1:22-10.0.0.9:5512.service';

/** Records every show() with the properties asked; `socketError` makes the sockets' show fail. */
class RecordingSystemd extends FakeSystemd {
  readonly shows: { units: readonly string[]; properties: readonly string[] | undefined }[] = [];
  socketError: Error | null = null;

  override async show(
    m: Manager,
    units: readonly string[],
    properties?: readonly string[],
  ): Promise<Map<string, UnitProperties>> {
    this.shows.push({ units, properties });
    if (properties === SOCKET_PROPERTIES && this.socketError) throw this.socketError;
    return super.show(m, units);
  }
}

describe('planRestart and per-connection instances', () => {
  const proc = makeProcTree({
    1: FAKE_INIT,
    200: {
      name: 'sshd',
      maps: mapsLine('/usr/lib/libcrypto.so.3', { deleted: true }),
      cgroup: `0::/system.slice/system-sshd.slice/${INSTANCE}\n`,
    },
    300: FAKE_STALE_SSHD,
  });
  const stateDir = mkdtempSync(join(tmpdir(), 'afterpatch-perconn-'));
  after(() => {
    proc.cleanup();
    rmSync(stateDir, { recursive: true, force: true });
  });

  const systemd = (triggeredBy: string) =>
    new RecordingSystemd()
      .unit(INSTANCE, { TriggeredBy: triggeredBy })
      .unit('ssh.service')
      .unit('sshd.socket', { Accept: 'yes' });

  async function planWith(client: RecordingSystemd) {
    const { plan } = await planRestart({
      config: defaultConfig(),
      procRoot: proc.root,
      client,
      stateDir,
    });
    return new Map(plan.map((e) => [e.unit, e]));
  }

  it('asks for the triggering sockets in one more batched show, and advises', async () => {
    const client = systemd('sshd.socket');
    const plan = await planWith(client);
    assert.deepEqual(
      client.shows.map((s) => s.units),
      [['ssh.service', INSTANCE], ['sshd.socket']],
    );
    assert.equal(client.shows[1]?.properties, SOCKET_PROPERTIES);
    assert.equal(plan.get(INSTANCE)?.action, 'advise');
    assert.equal(plan.get('ssh.service')?.action, 'restart');
  });

  it('makes no second call when no instance is triggered by a socket', async () => {
    const client = systemd('');
    const plan = await planWith(client);
    assert.equal(client.shows.length, 1);
    assert.equal(plan.get(INSTANCE)?.action, 'restart');
  });

  it("skips the instance, and still plans the others, when the sockets' show fails", async () => {
    const client = systemd('sshd.socket');
    client.socketError = new Error('Failed to connect to bus');
    const plan = await planWith(client);
    assert.equal(plan.get(INSTANCE)?.action, 'skip');
    assert.equal(plan.get(INSTANCE)?.needsHuman, true);
    assert.match(plan.get(INSTANCE)?.reason ?? '', /could not read Accept= of sshd\.socket/);
    assert.equal(plan.get('ssh.service')?.action, 'restart');
  });
});

describe('per-connection instances recognised by name (scan, check, metrics ask no systemd)', () => {
  // Names as systemd 252 gives them (seen in the sandbox: IPv6 and AF_UNIX instances).
  const instances: [string, string][] = [
    [INSTANCE, 'sshd.socket'],
    ['nm6@0-::1:47123-::1:33844.service', 'nm6.socket'],
    ['rsync@12-192.168.1.2:873-192.168.1.77:40112.service', 'rsync.socket'],
    ['nmu@0-36-0.service', 'nmu.socket'],
    ['echo@4-unknown.service', 'echo.socket'],
    ['vs@1-2:1024-3:5000.service', 'vs.socket'],
  ];
  for (const [unit, socket] of instances) {
    it(`${unit} serves a connection of ${socket}`, () => {
      assert.equal(acceptSocketByName(unit), socket);
    });
  }
  for (const unit of [
    'ssh.service',
    'getty@tty1.service',
    'openvpn@client.service',
    'foo@1-bar.service',
    'sshd@3-10.0.0.1:22-10.0.0.9:5512.socket',
    'sshd@-10.0.0.1:22-10.0.0.9:5512.service',
    'session-3.scope',
  ]) {
    it(`${unit} is not a per-connection instance`, () => {
      assert.equal(acceptSocketByName(unit), null);
    });
  }

  const group = (owner: Owner): Group => ({
    owner,
    key: ownerKey(owner),
    severity: 'code',
    pids: [200],
    names: ['sshd'],
    files: [{ path: '/usr/lib/libcrypto.so.3', kind: 'code', package: null }],
    action: suggestAction(owner, [200]),
  });

  it('scan advises instead of suggesting `systemctl restart` for it', () => {
    assert.deepEqual(suggestAction({ type: 'system-unit', unit: INSTANCE }, [200]), {
      kind: 'manual',
      advice:
        'per-connection instance of sshd.socket: ends when the connection closes; restarting it would cut that connection',
    });
    const user: Owner = { type: 'user-unit', uid: 1000, unit: 'nmu@0-36-0.service', manager: '' };
    assert.equal(suggestAction(user, [200]).kind, 'manual');
    assert.equal(
      suggestAction({ type: 'system-unit', unit: 'ssh.service' }, [300]).kind,
      'restart',
    );
  });

  it('check and metrics count it with the sessions, not the units needing a restart', () => {
    const n = countBuckets([
      group({ type: 'system-unit', unit: INSTANCE }),
      group({ type: 'system-unit', unit: 'ssh.service' }),
      group({ type: 'session', uid: 0, session: '3', unit: 'session-3.scope' }),
    ]);
    assert.deepEqual(n, { units: 1, unmanaged: 0, sessions: 2, containers: 0, vms: 0 });
  });
});
