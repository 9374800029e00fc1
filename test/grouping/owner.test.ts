// src/owner.ts is the one definition of the owner kinds and of the actions that count as done:
// its tables are complete, and the copy the Ansible module must carry (it runs without the
// bundle) is the same list.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { RESTART_ACTIONS } from '../../src/formats/restart.ts';
import {
  CHECK_BUCKETS,
  isActing,
  OWNER_KINDS,
  ownerKey,
  ownerLabel,
} from '../../src/grouping/owner.ts';
import type { Owner } from '../../src/scan/model.ts';
import type { ScanSummary } from '../../src/scan/scan.ts';

const LIBRARY = fileURLToPath(new URL('../../integrations/ansible/library/', import.meta.url));

const ONE_OF_EACH: Owner[] = [
  { type: 'init' },
  { type: 'system-unit', unit: 'nginx.service' },
  { type: 'user-manager', uid: 1000, unit: 'user@1000.service' },
  { type: 'user-unit', uid: 1000, unit: 'pipewire.service', manager: 'user@1000.service' },
  { type: 'session', uid: 1000, session: '4', unit: 'session-4.scope' },
  { type: 'container', runtime: 'docker', id: 'abc', cgroup: null },
  { type: 'vm', hypervisor: 'libvirt', name: 'web', cgroup: null },
  { type: 'unmanaged', cgroup: null },
];

/** The quoted strings of `ACTIONS = [...]` / `ACTIONS = (...)` / `ACTIONS = {...}` (JS or Python). */
function actionsCopy(text: string): string[] | null {
  const m = /\bACTIONS\s*=\s*(?:new Set\()?[[({]([^\])}]*)[\])}]/.exec(text);
  return m?.[1] === undefined
    ? null
    : [...m[1].matchAll(/['"]([^'"]+)['"]/g)].map((x) => x[1] ?? '');
}

describe('src/owner.ts', () => {
  it('gives every owner kind a distinct order, a bucket and a key; one example per kind covers them all', () => {
    assert.deepEqual(ONE_OF_EACH.map((o) => o.type).sort(), Object.keys(OWNER_KINDS).sort());
    const orders = Object.values(OWNER_KINDS).map((k) => k.order);
    assert.equal(new Set(orders).size, orders.length);
    for (const k of Object.values(OWNER_KINDS)) assert.ok(CHECK_BUCKETS.includes(k.bucket));
    // Every bucket has an owner kind counting in it.
    for (const b of CHECK_BUCKETS) {
      assert.ok(
        Object.values(OWNER_KINDS).some((k) => k.bucket === b),
        b,
      );
    }
    const keys = ONE_OF_EACH.map(ownerKey);
    assert.equal(new Set(keys).size, keys.length);
    assert.ok(ONE_OF_EACH.every((o) => ownerLabel(o).name !== '' && ownerLabel(o).kind !== ''));
  });

  it('names the scan summary counts and check buckets apart: summary units are system units and PID 1, check units add user units', () => {
    const summary: Record<keyof ScanSummary, true> = {
      scanned: true,
      unreadable: true,
      failed: true,
      processes: true,
      units: true,
      userUnits: true,
      sessions: true,
      containers: true,
      vms: true,
      dataOnly: true,
    };
    const kinds = Object.entries(OWNER_KINDS);
    for (const [, k] of kinds) if (k.summary !== null) assert.ok(k.summary in summary);
    const of = (f: (k: (typeof OWNER_KINDS)['init']) => boolean) =>
      kinds
        .filter(([, k]) => f(k))
        .map(([t]) => t)
        .sort();
    assert.deepEqual(
      of((k) => k.summary === 'units'),
      ['init', 'system-unit'],
    );
    assert.deepEqual(
      of((k) => k.summary === 'userUnits'),
      ['user-manager', 'user-unit'],
    );
    assert.deepEqual(
      of((k) => k.bucket === 'units'),
      ['init', 'system-unit', 'user-manager', 'user-unit'],
    );
  });

  it('the actions that count as done: the planner’s acting ones, nothing that leaves work to a human', () => {
    assert.deepEqual([...RESTART_ACTIONS].sort(), [
      'daemon-reexec',
      'reexec-user-manager',
      'reload',
      'restart',
    ]);
    assert.equal(isActing('skip'), false);
    assert.equal(isActing('advise'), false);
  });

  it('the Ansible module’s copy of the acting actions is RESTART_ACTIONS (every module in library/)', () => {
    const files = readdirSync(LIBRARY);
    let checked = 0;
    for (const f of files) {
      const text = readFileSync(join(LIBRARY, f), 'utf8');
      if (!/\bACTIONS\s*=/.test(text) && !text.includes('daemon-reexec')) continue;
      const copy = actionsCopy(text);
      assert.ok(copy, `${f} names the actions but has no ACTIONS = [...] list`);
      assert.deepEqual([...copy].sort(), [...RESTART_ACTIONS].sort(), f);
      checked++;
    }
    assert.ok(checked >= 1, 'no module in integrations/ansible/library/ carries the list');
  });
});
