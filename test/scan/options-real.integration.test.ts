// `scan.interpreted = false` hides outdated interpreted code from every command that scans
// (src/scan/options.ts, one builder for all): a real Node.js process whose script is replaced
// after it started, found by scan, check, metrics and restart --dry-run on the machine's own
// /proc, and by none of them with the setting off. An integration test: it needs root (a
// directory outside /tmp, which is noise), waits out the detector's tolerance and scans the
// whole machine in each run. The rest of the builder's tests are in options.test.ts.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../../harness/cli.ts';
import { spawnHolders, stopProcesses } from '../../harness/fixtures.ts';

const isRoot = process.geteuid?.() === 0;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

describe('scan.interpreted = false is honoured by every command', {
  skip: isRoot ? false : 'needs root (a directory outside /tmp, which is noise)',
}, () => {
  let dir: string;
  let script: string;
  let cfgOff: string;
  let pid: number;
  before(async () => {
    // Not under /tmp: files there are filtered as noise.
    dir = mkdtempSync('/var/lib/afterpatch-options-test-');
    chmodSync(dir, 0o755);
    script = join(dir, 'app.js');
    const text = (v: number) =>
      `#!${process.execPath}\n// version ${v}\nconsole.log('ready');\nsetTimeout(() => {}, Number(process.argv[2]) * 1000);\n`;
    writeFileSync(script, text(1), { mode: 0o755 });
    [pid = 0] = await spawnHolders(script, 1, { maxLifetimeS: 120 });
    // Longer than the detector's tolerance (2 s) plus btime's rounding, then the "upgrade".
    await sleep(3500);
    writeFileSync(script, text(2), { mode: 0o755 });
    cfgOff = join(dir, 'off.toml');
    writeFileSync(cfgOff, '[scan]\ninterpreted = false\n');
  });
  after(async () => {
    await stopProcesses([pid]);
    rmSync(dir, { recursive: true, force: true });
  });
  const lib = () => ['--lib', `^${dir}/`];
  const state = () => ['--state-dir', join(dir, 'state')];

  it('scan sees the replaced script (the precondition), and not with the setting off', async () => {
    const on = await runCli(['scan', '--pid', String(pid), '--json']);
    assert.equal(on.code, 1, on.stdout + on.stderr);
    assert.ok(
      JSON.parse(on.stdout).processes[0].files.some((f: { path: string }) => f.path === script),
    );
    const off = await runCli(['scan', '--pid', String(pid), '--config', cfgOff]);
    assert.equal(off.code, 0, off.stdout);
  });

  it('check', async () => {
    const on = await runCli(['check', ...lib(), ...state(), '--reboot-state', 'ok']);
    assert.equal(on.code, 1, on.stdout + on.stderr);
    assert.match(on.stdout, /^AFTERPATCH WARNING - outdated code in 1 process/);
    const off = await runCli([
      'check',
      ...lib(),
      ...state(),
      '--reboot-state',
      'ok',
      '--config',
      cfgOff,
    ]);
    assert.equal(off.code, 0, off.stdout + off.stderr);
  });

  it('metrics', async () => {
    const value = (t: string) => /^afterpatch_outdated_processes (\d+)$/m.exec(t)?.[1];
    const on = await runCli(['metrics', ...lib(), ...state()]);
    assert.equal(on.code, 0, on.stderr);
    assert.equal(value(on.stdout), '1');
    assert.match(on.stdout, /^afterpatch_unmanaged_processes_outdated 1$/m);
    const off = await runCli(['metrics', ...lib(), ...state(), '--config', cfgOff]);
    assert.equal(value(off.stdout), '0');
  });

  it('restart --dry-run', async () => {
    const plan = async (...extra: string[]) => {
      const r = await runCli(['restart', '--dry-run', '--json', ...lib(), ...state(), ...extra]);
      assert.ok(r.code === 0 || r.code === 1, r.stdout + r.stderr);
      return JSON.stringify(JSON.parse(r.stdout));
    };
    assert.ok((await plan()).includes(String(pid)), 'the process is in the plan');
    assert.ok(!(await plan('--config', cfgOff)).includes(`${pid}`), 'not with the setting off');
  });
});
