// Restart records of units that no longer exist age out of the monitoring view: a real systemd
// (harness/sandbox.ts) says which units it knows. An old "verified" record for a unit the
// host does not have must not show as a current restart result (issue: nginx.service shown as
// verified on a host without nginx, from an old state file).
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CLI } from '../../harness/cli.ts';
import { bootSandbox, canBootSandbox, type Sandbox } from '../../harness/sandbox.ts';

const can = canBootSandbox();
const skip = can.ok ? false : `systemd sandbox unavailable: ${can.reason}`;
const metric = (body: string, name: string) =>
  new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} (\\S+)$`, 'm').exec(body)?.[1];

describe('restart records of units that no longer exist (systemd sandbox)', { skip }, () => {
  let sb: Sandbox | undefined;
  let dir: string;
  before(async () => {
    assert.ok(existsSync(CLI), `${CLI} is missing: run "npm run build" first`);
    dir = mkdtempSync(join(tmpdir(), 'afterpatch-aged-'));
    chmodSync(dir, 0o755);
    sb = await bootSandbox();
    await sb.installUnit(
      'afterpatch-kept.service',
      '[Service]\nType=oneshot\nExecStart=/bin/true\n',
    );
    const rec = (outcome: string, time: string) => ({
      time,
      action: 'restart',
      outcome,
      files: [],
    });
    writeFileSync(
      join(dir, 'state.json'),
      JSON.stringify({
        version: 1,
        units: {
          'system-unit:afterpatch-kept.service': rec('failed', new Date().toISOString()),
          'system-unit:afterpatch-no-such-unit.service': rec('verified', new Date().toISOString()),
        },
      }),
    );
  });
  after(async () => {
    await sb?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('metrics and check --json count only units systemd still knows', async () => {
    assert.ok(sb);
    const m = await sb.exec([process.execPath, CLI, 'metrics', '--state-dir', dir], {
      timeoutMs: 60_000,
    });
    assert.equal(m.code, 0, m.stderr);
    assert.equal(metric(m.stdout, 'afterpatch_restart_results{outcome="verified"}'), '0');
    assert.equal(metric(m.stdout, 'afterpatch_restart_results{outcome="failed"}'), '1');
    assert.equal(metric(m.stdout, 'afterpatch_restart_records_aged_out'), '1');
    const ts = Number(
      metric(m.stdout, 'afterpatch_restart_last_outcome_timestamp_seconds{outcome="failed"}'),
    );
    assert.ok(Math.abs(ts - Date.now() / 1000) < 120, String(ts));
    const c = await sb.exec(
      [
        process.execPath,
        CLI,
        'check',
        '--json',
        '--state-dir',
        dir,
        '-w',
        '~:',
        '--reboot-state',
        'ok',
      ],
      { timeoutMs: 60_000 },
    );
    const doc = JSON.parse(c.stdout);
    assert.equal(doc.restart.agedOut, 1, c.stderr);
    assert.equal(doc.restart.outcomes.failed, 1);
  });
});
