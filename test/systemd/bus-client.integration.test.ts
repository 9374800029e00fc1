// src/systemd/bus-client.ts against a real systemd (the sandbox harness): for units of every kind
// and state the planner meets, the properties read over /run/systemd/private are exactly what
// `systemctl show` prints, and the states what `systemctl is-active` prints. The child runs inside
// the sandbox (the private socket answers root in systemd's own PID namespace only).
//
// Needs root and a bootable sandbox (skips with the reason otherwise).
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { bootSandbox, type Sandbox } from '../../harness/sandbox.ts';
import { sandboxSkip } from '../helpers/sandbox-cli.ts';

const skip = sandboxSkip();
const CHILD = fileURLToPath(new URL('../helpers/bus-show-child.ts', import.meta.url));
const TSX = import.meta.resolve('tsx');

interface ChildOut {
  bus: Record<string, Record<string, string>>;
  systemctl: Record<string, Record<string, string>>;
  busActive: Record<string, string>;
  systemctlActive: Record<string, string>;
  fellBack: string[];
}

describe('unit properties over systemd’s private bus', { skip }, () => {
  const boxes: Sandbox[] = [];
  after(async () => {
    for (const b of boxes) await b.stop().catch(() => {});
  });

  it('match systemctl show and is-active for services, sockets, scopes, slices, mounts, instances and unknown units', async () => {
    const sb = await bootSandbox();
    boxes.push(sb);
    const units: [string, string][] = [
      ['bus-simple.service', '[Service]\nExecStart=/bin/sleep infinity\n'],
      [
        'bus-refuse.service',
        '[Unit]\nRefuseManualStop=yes\n[Service]\nExecStart=/bin/sleep infinity\n',
      ],
      [
        'bus-oneshot.service',
        '[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/true\n',
      ],
      ['bus-failed.service', '[Service]\nExecStart=/bin/false\n'],
      ['bus-reload.service', '[Service]\nExecStart=/bin/sleep infinity\nExecReload=/bin/true\n'],
      ['bus-accept.socket', '[Socket]\nListenStream=/run/bus-accept.sock\nAccept=yes\n'],
      ['bus-accept@.service', '[Service]\nExecStart=/bin/cat\nStandardInput=socket\n'],
      ['bus-plain.socket', '[Socket]\nListenStream=/run/bus-plain.sock\n'],
      ['bus-plain.service', '[Service]\nExecStart=/bin/sleep infinity\n'],
      ['bus-tpl@.service', '[Service]\nExecStart=/bin/sleep infinity\n'],
    ];
    for (const [name, text] of units)
      await sb.installUnit(name, `[Unit]\nDescription=${name}\n${text}`);
    const start = await sb.systemctl(
      'start',
      'bus-simple.service',
      'bus-refuse.service',
      'bus-oneshot.service',
      'bus-reload.service',
      'bus-accept.socket',
      'bus-plain.socket',
      'bus-tpl@x-1.service',
    );
    assert.equal(start.code, 0, start.stderr);
    await sb.systemctl('start', 'bus-failed.service');
    const asked = [
      'bus-simple.service',
      'bus-refuse.service',
      'bus-oneshot.service',
      'bus-failed.service',
      'bus-reload.service',
      'bus-accept.socket',
      'bus-plain.socket',
      'bus-plain.service',
      'bus-tpl@x-1.service',
      'bus-accept@1-unknown.service',
      'not-there.service',
      'init.scope',
      'system.slice',
      '-.mount',
      'systemd-journald.service',
      'systemd-journald.socket',
    ];
    const r = await sb.exec([process.execPath, '--import', TSX, CHILD, ...asked], {
      timeoutMs: 60_000,
    });
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as ChildOut;
    assert.deepEqual(out.fellBack, [], 'the bus answered');
    for (const u of asked) assert.deepEqual(out.bus[u], out.systemctl[u], u);
    assert.deepEqual(out.busActive, out.systemctlActive);
    // The comparison is not empty-handed: the properties the planner decides on are there.
    assert.equal(out.bus['bus-refuse.service']?.RefuseManualStop, 'yes');
    assert.equal(out.bus['bus-failed.service']?.ActiveState, 'failed');
    assert.equal(out.bus['bus-accept.socket']?.Accept, 'yes');
    assert.equal(out.bus['bus-plain.service']?.TriggeredBy, 'bus-plain.socket');
    assert.equal(out.bus['not-there.service']?.LoadState, 'not-found');
    assert.match(out.bus['bus-tpl@x-1.service']?.ControlGroup ?? '', /bus-tpl@x-1\.service$/);
  });
});
