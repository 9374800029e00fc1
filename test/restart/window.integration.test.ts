// The window of jobs over systemd's private bus against a real systemd (harness/sandbox.ts): a slow
// unit does not hold back the others (they are restarted while it starts, which batches of
// --jobs could not do), a unit that fails and one that hangs are reported as such, a window
// larger than the unit count works, and with the private socket unusable the same restart goes
// through systemctl (over the system bus) in batches.
//
// Needs root and a bootable sandbox (skips with the reason otherwise), gcc, and `npm run build`.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Sandbox } from '../../harness/sandbox.ts';
import type { SvcTree } from '../../harness/stale-lib.ts';
import type { RestartDocument } from '../../src/formats/restart.ts';
import {
  afterpatchJson,
  type Run as SandboxRun,
  sandboxSkip,
  svcScenarios,
} from '../helpers/sandbox-cli.ts';

const skip = sandboxSkip();

const notifyUnit = (tree: SvcTree, args = '', extra = ''): string =>
  `[Unit]\nDescription=afterpatch window test\nStartLimitIntervalSec=0\n\n[Service]\nType=notify\nExecStart=${tree.daemon} notify${args}\n${extra}`;

/** Every start after the first waits `seconds` in ExecStartPre (the marker says "started once"). */
const slowLater = (tree: SvcTree, name: string, seconds: number): string =>
  notifyUnit(
    tree,
    '',
    `ExecStartPre=/bin/sh -c 'if [ -e "$0" ]; then sleep ${seconds}; else : > "$0"; fi' ${join(tree.root, `${name}.once`)}\nTimeoutStartSec=300\n`,
  );

type Run = SandboxRun<RestartDocument>;

/** `afterpatch restart --yes --json ARGS` inside the sandbox, with AFTERPATCH_TIMING=1. */
const restart = (sb: Sandbox, state: string, args: readonly string[]): Promise<Run> =>
  afterpatchJson<RestartDocument>(
    sb,
    'afterpatch-restart',
    ['restart', '--yes', '--json', ...args, '--state-dir', state],
    { env: { AFTERPATCH_TIMING: '1' }, timeoutMs: 90_000 },
  );

/** Monotonic timestamps (µs) of a unit's last activation: left inactive, became active. */
async function activation(sb: Sandbox, unit: string): Promise<{ exit: number; enter: number }> {
  const r = await sb.systemctl(
    'show',
    '-p',
    'InactiveExitTimestampMonotonic,ActiveEnterTimestampMonotonic',
    '--',
    unit,
  );
  assert.equal(r.code, 0, r.stderr);
  const v = (k: string) => Number(new RegExp(`^${k}=(\\d+)$`, 'm').exec(r.stdout)?.[1] ?? NaN);
  return { exit: v('InactiveExitTimestampMonotonic'), enter: v('ActiveEnterTimestampMonotonic') };
}

const outcomes = (run: Run) =>
  Object.fromEntries(run.json.results.map((r) => [r.unit, [r.outcome, r.message]]));

describe('afterpatch restart: the window of jobs in a systemd sandbox', { skip }, () => {
  const scenario = svcScenarios();

  const FAST = ['svc-fast-1.service', 'svc-fast-2.service', 'svc-fast-3.service'];

  it('restarts the others while a slow unit starts; failed and hanging units reported; a window larger than the units', () =>
    scenario('window', async (sb, tree, state) => {
      // Planned (and queued) in name order: the slow unit first.
      await sb.installUnit('svc-a-slow.service', slowLater(tree, 'slow', 3));
      for (const u of FAST) await sb.installUnit(u, notifyUnit(tree));
      await sb.installUnit('svc-fragile.service', notifyUnit(tree, ' 1'));
      await sb.installUnit('svc-hang.service', slowLater(tree, 'hang', 120));
      const all = ['svc-a-slow.service', ...FAST, 'svc-fragile.service', 'svc-hang.service'];
      for (const u of all) assert.equal((await sb.systemctl('start', u)).code, 0, u);
      tree.upgrade(2);

      const run = await restart(sb, state, [
        '--jobs',
        '2',
        '--timeout',
        '8',
        '--lib',
        tree.libRegex,
      ]);
      assert.equal(run.code, 2, run.text);
      assert.deepEqual(
        run.json.plan.map((e) => e.unit),
        all,
        `planned in name order\n${run.text}`,
      );
      assert.match(run.stderr, /timing: window restart 6 \(at most 2 at once\)/, run.text);
      assert.doesNotMatch(run.stderr, /bus given up|batch restart/, run.text);
      const o = outcomes(run);
      assert.deepEqual(o['svc-a-slow.service'], ['verified', null], run.text);
      for (const u of FAST) assert.deepEqual(o[u], ['verified', null], run.text);
      assert.equal(o['svc-fragile.service']?.[0], 'failed', run.text);
      assert.match(String(o['svc-fragile.service']?.[1]), /Job for svc-fragile\.service failed/);
      const fragile = run.json.results.find((r) => r.unit === 'svc-fragile.service');
      assert.ok(
        fragile?.journal.some((l) => l.includes('this build needs 1: refusing to start')),
        run.text,
      );
      assert.deepEqual(o['svc-hang.service'], ['timeout', 'no answer within 8 s'], run.text);

      // While svc-a-slow.service sat in its 3 s ExecStartPre, the second slot restarted the fast
      // units one after the other; batches of two would have restarted one at most meanwhile.
      const slow = await activation(sb, 'svc-a-slow.service');
      const during = [];
      for (const u of FAST) {
        const a = await activation(sb, u);
        if (a.enter > slow.exit && a.enter < slow.enter) during.push(u);
      }
      assert.deepEqual(during, FAST, `restarted during the slow start ${JSON.stringify(slow)}`);

      // A window larger than the unit count: everything in flight at once.
      tree.upgrade(3);
      const wide = await restart(sb, state, ['--jobs', '64', '--lib', tree.libRegex]);
      assert.equal(wide.code, 0, wide.text);
      assert.deepEqual(
        wide.json.results.map((r) => [r.unit, r.outcome]),
        ['svc-a-slow.service', ...FAST].map((u) => [u, 'verified']),
        wide.text,
      );
      assert.match(wide.stderr, /timing: window restart 4 \(at most 64 at once\)/, wide.text);
    }));

  it('with the private socket unusable, restarts through systemctl in batches, as before', () =>
    scenario(
      'fallback',
      async (sb, tree, state) => {
        for (const u of FAST) await sb.installUnit(u, notifyUnit(tree));
        assert.equal((await sb.systemctl('start', ...FAST)).code, 0);
        // Inside the sandbox only: PID 1 keeps its socket, nobody can connect to it any more;
        // systemctl then talks to PID 1 through the system bus.
        const hide = await sb.exec(['mount', '--bind', '/dev/null', '/run/systemd/private']);
        assert.equal(hide.code, 0, hide.stderr);
        tree.upgrade(2);
        const run = await restart(sb, state, ['--jobs', '2', '--lib', tree.libRegex]);
        assert.equal(run.code, 0, run.text);
        assert.deepEqual(
          run.json.results.map((r) => [r.unit, r.outcome]),
          FAST.map((u) => [u, 'verified']),
          run.text,
        );
        assert.match(run.stderr, /timing: bus given up for systemctl/, run.text);
        assert.match(
          run.stderr,
          /timing: batch restart 2 .*\n(.*\n)*.*timing: batch restart 1 /,
          run.text,
        );
        assert.doesNotMatch(run.stderr, /timing: window/, run.text);
      },
      () => ({ dbus: true }),
    ));
});
