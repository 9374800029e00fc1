// The shipped alert rules pass `promtool check rules`, and name the metrics afterpatch exports.
// Their unit tests (`promtool test rules`: 2.5 s of CPU) run in rules.integration.test.ts.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { promtool, RULES } from '../helpers/serve.ts';

const tool = promtool();

describe('integrations/prometheus/afterpatch.rules.yml', () => {
  it('passes promtool check rules', { skip: tool ? false : 'promtool not installed' }, async () => {
    const out = await new Promise<{ code: number; text: string }>((resolve) =>
      execFile(tool ?? 'promtool', ['check', 'rules', RULES], (e, stdout, stderr) =>
        resolve({ code: e ? Number(e.code) : 0, text: stdout + stderr }),
      ),
    );
    assert.equal(out.code, 0, out.text);
    assert.match(out.text, /SUCCESS: 12 rules found/);
  });

  it('has the documented alerts with their durations', () => {
    const text = readFileSync(RULES, 'utf8');
    const alerts = [...text.matchAll(/- alert: (\w+)\n\s+expr: (.*)\n(?:\s+for: (\S+))?/g)].map(
      (m) => [m[1], m[2], m[3] ?? null],
    );
    assert.deepEqual(alerts, [
      ['AfterpatchUnitsNeedRestart', 'afterpatch_units_needing_restart > 0', '30m'],
      ['AfterpatchUnmanagedProcessesOutdated', 'afterpatch_unmanaged_processes_outdated > 0', '1h'],
      ['AfterpatchSessionsOutdated', 'afterpatch_sessions_outdated > 0', '24h'],
      ['AfterpatchContainersOutdated', 'afterpatch_containers_outdated > 0', '6h'],
      ['AfterpatchVmsOutdated', 'afterpatch_vms_outdated > 0', '24h'],
      ['AfterpatchRebootRequired', 'afterpatch_reboot_required == 1', '1h'],
      ['AfterpatchRebootUnknown', 'afterpatch_reboot_required_unknown == 1', '1h'],
      [
        'AfterpatchRestartFailed',
        'afterpatch_restart_results{outcome=~"failed|unverified|still-stale|timeout"} > 0',
        null,
      ],
      ['AfterpatchRestartStateUnreadable', 'afterpatch_restart_state_error == 1', '15m'],
      ['AfterpatchScanPartial', 'afterpatch_scan_partial == 1', '15m'],
      ['AfterpatchScanStale', 'time() - afterpatch_last_scan_timestamp_seconds > 2 * 60', '5m'],
      ['AfterpatchScanAbsent', 'absent(afterpatch_last_scan_timestamp_seconds)', '10m'],
    ]);
    const docs = readFileSync(new URL('../../docs/monitoring.md', import.meta.url), 'utf8');
    for (const [name] of alerts) assert.ok(docs.includes(`\`${name}\``), `${name} not documented`);
  });
});

describe('integrations/prometheus/grafana-dashboard.json', () => {
  it('is JSON whose queries use only exported metric names', () => {
    const text = readFileSync(
      new URL('../../integrations/prometheus/grafana-dashboard.json', import.meta.url),
      'utf8',
    );
    const dash = JSON.parse(text) as { panels: { targets: { expr: string }[] }[] };
    const exprs = dash.panels.flatMap((p) => p.targets.map((t) => t.expr));
    assert.ok(exprs.length >= 8);
    const docs = readFileSync(new URL('../../docs/monitoring.md', import.meta.url), 'utf8');
    for (const name of new Set(exprs.flatMap((e) => e.match(/\bafterpatch_\w+/g) ?? [])))
      assert.ok(docs.includes(`# TYPE ${name} `), `${name} is not an exported metric`);
  });
});
