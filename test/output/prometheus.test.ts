// The Prometheus formatter (src/output/prometheus.ts): escaping, the cardinality bound, and every
// documented metric present with HELP and TYPE.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { type Health, restartView, unitOfKey } from '../../src/check/health.ts';
import type { Group } from '../../src/grouping/group.ts';
import { escapeLabelValue, formatPrometheus } from '../../src/output/prometheus.ts';
import type { Owner } from '../../src/scan/model.ts';

function group(owner: Owner, severity: 'code' | 'data' = 'code'): Group {
  const key = `${owner.type}:${'unit' in owner ? owner.unit : 'x'}`;
  return {
    owner,
    key,
    severity,
    pids: [100],
    names: ['svc'],
    files: [{ path: '/usr/lib/libssl.so.3', kind: severity, package: null }],
    action: { kind: 'manual', advice: 'x' },
  };
}

function health(groups: Group[], over: Partial<Health> = {}): Health {
  const count = (t: string) => groups.filter((g) => g.owner.type === t).length;
  return {
    scan: {
      hostname: 'h',
      asRoot: true,
      ptrace: true,
      time: '2025-01-01T00:00:00Z',
      durationMs: 5,
      packageManager: null,
      summary: {
        scanned: 50,
        unreadable: 3,
        processes: groups.length + 1,
        units: count('system-unit'),
        userUnits: count('user-unit'),
        sessions: count('session'),
        containers: count('container'),
        vms: count('vm'),
        dataOnly: 1,
      },
      groups,
      processes: [],
      warnings: [],
    },
    reboot: { required: true, applicable: true, reasons: [], notes: [], sentinelWritten: null },
    restart: {
      error: null,
      outcomes: { verified: 2, unverified: 0, 'still-stale': 1, failed: 0, timeout: 0 },
      latest: {
        verified: 1700000000,
        unverified: null,
        'still-stale': 1700000100,
        failed: null,
        timeout: null,
      },
      agedOut: 1,
    },
    durationMs: 1234,
    timestamp: 1_700_000_000.5,
    ...over,
  };
}

const sys = (unit: string): Owner => ({ type: 'system-unit', unit });

/** name{labels} value lines, as [name, labels, value]. */
function samples(text: string): [string, string, string][] {
  return text
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$/.exec(l);
      assert.ok(m, `bad sample line: ${JSON.stringify(l)}`);
      return [m[1] ?? '', m[2] ?? '', m[3] ?? ''];
    });
}

const value = (text: string, name: string, labels = '') =>
  samples(text).find(([n, l]) => n === name && l === labels)?.[2];

describe('Prometheus formatter', () => {
  it('escapes backslash, double quote and newline in label values', () => {
    assert.equal(escapeLabelValue('a\\b"c\nd'), 'a\\\\b\\"c\\nd');
    const text = formatPrometheus(health([group(sys('we\\ird"unit\nname.service'))]));
    assert.match(
      text,
      /^afterpatch_unit_needs_restart\{unit="we\\\\ird\\"unit\\nname\.service",type="system-unit"\} 1$/m,
    );
    // Every sample stays on one line.
    samples(text);
  });

  it('exports every documented metric with HELP and TYPE, and the docs list each', () => {
    const text = formatPrometheus(
      health([
        group(sys('nginx.service')),
        group({
          type: 'user-unit',
          uid: 1000,
          unit: 'pipewire.service',
          manager: 'user@1000.service',
        }),
        group({ type: 'session', uid: 1000, session: '4', unit: 'session-4.scope' }),
        group({ type: 'container', runtime: 'docker', id: 'abc', cgroup: null }),
        { ...group({ type: 'unmanaged', cgroup: null }), pids: [7, 8, 9] },
        group(sys('data-only.service'), 'data'),
      ]),
    );
    const docs = readFileSync(new URL('../../docs/monitoring.md', import.meta.url), 'utf8');
    const expected: [string, string][] = [
      ['afterpatch_outdated_processes', 'gauge'],
      ['afterpatch_units_needing_restart', 'gauge'],
      ['afterpatch_unit_needs_restart', 'gauge'],
      ['afterpatch_sessions_outdated', 'gauge'],
      ['afterpatch_containers_outdated', 'gauge'],
      ['afterpatch_unmanaged_processes_outdated', 'gauge'],
      ['afterpatch_reboot_required', 'gauge'],
      ['node_reboot_required', 'gauge'],
      ['afterpatch_last_scan_timestamp_seconds', 'gauge'],
      ['afterpatch_scan_duration_seconds', 'gauge'],
      ['afterpatch_restart_results', 'gauge'],
      ['afterpatch_restart_last_outcome_timestamp_seconds', 'gauge'],
      ['afterpatch_restart_records_aged_out', 'gauge'],
      ['afterpatch_restart_state_error', 'gauge'],
      ['afterpatch_scan_errors_total', 'counter'],
      ['afterpatch_unreadable_processes', 'gauge'],
      ['afterpatch_scan_partial', 'gauge'],
      ['afterpatch_last_scan_success', 'gauge'],
      ['afterpatch_build_info', 'gauge'],
    ];
    for (const [name, type] of expected) {
      assert.match(text, new RegExp(`^# HELP ${name} \\S`, 'm'), name);
      assert.match(text, new RegExp(`^# TYPE ${name} ${type}$`, 'm'), name);
      assert.ok(docs.includes(`# TYPE ${name} ${type}`), `docs/monitoring.md lacks ${name}`);
    }
    assert.equal(value(text, 'afterpatch_outdated_processes'), '6');
    assert.equal(value(text, 'afterpatch_units_needing_restart'), '2');
    assert.equal(
      value(
        text,
        'afterpatch_unit_needs_restart',
        '{unit="pipewire.service",type="user-unit",uid="1000"}',
      ),
      '1',
    );
    assert.equal(
      value(text, 'afterpatch_unit_needs_restart', '{unit="data-only.service",type="system-unit"}'),
      undefined,
    );
    assert.equal(value(text, 'afterpatch_sessions_outdated'), '1');
    assert.equal(value(text, 'afterpatch_containers_outdated'), '1');
    assert.equal(value(text, 'afterpatch_unmanaged_processes_outdated'), '3');
    assert.equal(value(text, 'afterpatch_reboot_required'), '1');
    assert.equal(value(text, 'node_reboot_required'), '1');
    assert.equal(value(text, 'afterpatch_last_scan_timestamp_seconds'), '1700000000.5');
    assert.equal(value(text, 'afterpatch_scan_duration_seconds'), '1.234');
    assert.equal(value(text, 'afterpatch_restart_results', '{outcome="verified"}'), '2');
    assert.equal(value(text, 'afterpatch_restart_results', '{outcome="still-stale"}'), '1');
    assert.equal(value(text, 'afterpatch_restart_results', '{outcome="failed"}'), '0');
    assert.equal(value(text, 'afterpatch_restart_results', '{outcome="timeout"}'), '0');
    assert.equal(value(text, 'afterpatch_restart_results', '{outcome="unverified"}'), '0');
    // Each outcome carries the time of its newest record; none without a record.
    assert.equal(
      value(text, 'afterpatch_restart_last_outcome_timestamp_seconds', '{outcome="still-stale"}'),
      '1700000100',
    );
    assert.equal(
      value(text, 'afterpatch_restart_last_outcome_timestamp_seconds', '{outcome="failed"}'),
      undefined,
    );
    assert.equal(value(text, 'afterpatch_restart_records_aged_out'), '1');
    assert.equal(value(text, 'afterpatch_restart_state_error'), '0');
    assert.equal(value(text, 'afterpatch_scan_errors_total'), '0');
    assert.equal(value(text, 'afterpatch_unreadable_processes'), '3');
    // As root, processes even root cannot read are counted, not a partial scan.
    assert.equal(value(text, 'afterpatch_scan_partial'), '0');
    // Each family's HELP/TYPE appears once, and its samples follow it contiguously.
    const seen = new Set<string>();
    let current = '';
    for (const line of text.trimEnd().split('\n')) {
      const t = /^# TYPE (\S+)/.exec(line);
      if (t?.[1]) {
        assert.ok(!seen.has(t[1]), `TYPE twice: ${t[1]}`);
        seen.add(t[1]);
        current = t[1];
      } else if (!line.startsWith('#')) assert.ok(line.startsWith(current), line);
    }
  });

  it('an unreadable restart state is its own metric, and no outcome counts are shown as 0', () => {
    const h = health([]);
    const text = formatPrometheus({
      ...h,
      restart: { ...h.restart, error: 'cannot read /x/state.json (EACCES).' },
    });
    assert.equal(value(text, 'afterpatch_restart_state_error'), '1');
    assert.ok(!text.includes('afterpatch_restart_results{'), text);
  });

  it('the HELP of unreadable processes does not claim "not running as root"', () => {
    assert.doesNotMatch(formatPrometheus(health([])), /not running as root/);
  });

  it('bounds the unit series and counts the rest in one aggregated series', () => {
    const units = Array.from({ length: 250 }, (_, i) => group(sys(`u${i}.service`)));
    const text = formatPrometheus(health(units));
    const series = samples(text).filter(([n]) => n === 'afterpatch_unit_needs_restart');
    assert.equal(series.length, 101);
    assert.equal(
      value(text, 'afterpatch_unit_needs_restart', '{unit="(other)",type="aggregated"}'),
      '150',
    );
    assert.equal(value(text, 'afterpatch_units_needing_restart'), '250');
    const sum = series.reduce((a, [, , v]) => a + Number(v), 0);
    assert.equal(sum, 250, 'sum() of the series is the number of units');

    const five = formatPrometheus(health(units), { maxUnitSeries: 5 });
    assert.equal(samples(five).filter(([n]) => n === 'afterpatch_unit_needs_restart').length, 6);
    const none = formatPrometheus(health(units), { maxUnitSeries: 0 });
    assert.deepEqual(
      samples(none).filter(([n]) => n === 'afterpatch_unit_needs_restart'),
      [['afterpatch_unit_needs_restart', '{unit="(other)",type="aggregated"}', '250']],
    );
    const few = formatPrometheus(health(units.slice(0, 3)));
    assert.ok(!few.includes('aggregated"}'), 'no aggregated series under the bound');
  });

  it('node_reboot_required can be switched off; no snapshot exports only the scan status', () => {
    const h = health([], {
      reboot: { required: false, applicable: true, reasons: [], notes: [], sentinelWritten: null },
    });
    const text = formatPrometheus(h, { nodeRebootRequired: false });
    assert.ok(!text.includes('node_reboot_required'));
    assert.equal(value(text, 'afterpatch_reboot_required'), '0');
    const failed = formatPrometheus(null, { scanErrors: 3, lastScanSuccess: false });
    assert.equal(value(failed, 'afterpatch_scan_errors_total'), '3');
    assert.equal(value(failed, 'afterpatch_last_scan_success'), '0');
    assert.ok(!failed.includes('afterpatch_last_scan_timestamp_seconds'));
  });
});

describe('restart outcomes in the health view (restartView)', () => {
  const withState = async (units: object, gone: string[]) => {
    const dir = mkdtempSync(join(tmpdir(), 'afterpatch-view-'));
    try {
      writeFileSync(join(dir, 'state.json'), JSON.stringify({ version: 1, units }));
      const asked: string[][] = [];
      const view = await restartView(dir, async (keys) => {
        asked.push([...keys]);
        return new Set(gone);
      });
      return { view, asked };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  const rec = (outcome: string, time: string) => ({ time, action: 'restart', outcome, files: [] });
  // Within the state's 30 days; whole seconds so the comparison is exact.
  const now = Math.floor(Date.now() / 1000) * 1000;
  const daysAgo = (d: number) => new Date(now - d * 86_400_000).toISOString();

  it('leaves out records of units that no longer exist, and carries the time of each outcome', async () => {
    const { view, asked } = await withState(
      {
        'system-unit:nginx.service': rec('verified', daysAgo(3)),
        'system-unit:ssh.service': rec('verified', daysAgo(2)),
        'user-unit:1000:pipewire.service': rec('failed', daysAgo(1)),
      },
      ['system-unit:nginx.service'],
    );
    assert.deepEqual(asked, [
      ['system-unit:nginx.service', 'system-unit:ssh.service', 'user-unit:1000:pipewire.service'],
    ]);
    assert.equal(view.error, null);
    assert.equal(view.agedOut, 1);
    assert.deepEqual(view.outcomes, {
      verified: 1,
      unverified: 0,
      'still-stale': 0,
      failed: 1,
      timeout: 0,
    });
    assert.equal(view.latest.verified, Date.parse(daysAgo(2)) / 1000);
    assert.equal(view.latest.failed, Date.parse(daysAgo(1)) / 1000);
    assert.equal(view.latest.timeout, null);
  });

  it('an unreadable state is an error, not zero outcomes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'afterpatch-view-'));
    try {
      writeFileSync(join(dir, 'state.json'), '{"version":');
      const view = await restartView(dir, async () => new Set());
      assert.match(view.error ?? '', /state\.json is not valid JSON/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('knows which state keys are units of which manager', () => {
    assert.deepEqual(unitOfKey('system-unit:a.service'), {
      manager: { type: 'system' },
      unit: 'a.service',
    });
    assert.deepEqual(unitOfKey('user-unit:1000:b.service'), {
      manager: { type: 'user', uid: 1000 },
      unit: 'b.service',
    });
    assert.equal(unitOfKey('init'), null);
    assert.equal(unitOfKey('a.service'), null);
  });
});
