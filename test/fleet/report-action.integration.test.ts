// The action plugin afterpatch_report (integrations/ansible/action_plugins/), run by Debian's
// ansible-playbook through the playbook's own task file (tasks/save-result.yml, driven by
// bench/fleet's save.yml over synthetic hosts that are never contacted) with the built CLI as
// the controller's `afterpatch report`: it saves a batch, writes the report whole and never
// through a symbolic link, and fails the task — never a clean report — when the report cannot
// be made. The playbook's runs over real hosts are in rig.integration.test.ts.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CLI } from '../../harness/cli.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PLUGINS = join(ROOT, 'integrations', 'ansible', 'action_plugins');
const SAVE_YML = join(ROOT, 'bench', 'fleet-bench', 'ansible', 'save.yml');
const skip = existsSync('/usr/bin/ansible-playbook')
  ? false
  : 'ansible-playbook not found (apt-get install ansible-core)';

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

describe('afterpatch_report action plugin', { skip }, () => {
  let tmp: string;
  let inventory: string;
  let result: string;
  before(() => {
    tmp = mkdtempSync(join(tmpdir(), 'afterpatch-report-action-'));
    inventory = join(tmp, 'inventory.ini');
    writeFileSync(inventory, '[synthetic]\nweb1\nweb2\n');
    // What the module answers for a host with one stale unit (a scan slimmed by the module).
    result = join(tmp, 'result.json');
    writeFileSync(
      result,
      JSON.stringify({
        bench_result: {
          changed: false,
          time: '2026-12-01T10:00:00Z',
          needs_restart: true,
          needs_reboot: false,
          scan: {
            time: '2026-12-01T10:00:00Z',
            // As the modules' slim scan carries them: the report needs both to call a host clean.
            asRoot: true,
            summary: { unreadable: 0 },
            partial: false,
            entries: [
              {
                key: 'unit:app.service',
                unit: 'app.service',
                severity: 'code',
                packages: ['libc6'],
              },
            ],
          },
          reboot: { required: false, reasons: [] },
        },
      }),
    );
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  const save = (dir: string, vars: Record<string, unknown>): Promise<Ran> =>
    new Promise((resolve) => {
      execFile(
        'ansible-playbook',
        [
          '-i',
          inventory,
          SAVE_YML,
          '-e',
          `@${result}`,
          '-e',
          JSON.stringify({
            afterpatch_phase: '1-gather',
            afterpatch_report_dir: dir,
            afterpatch_report_cli: CLI,
            ...vars,
          }),
        ],
        {
          env: {
            PATH: process.env.PATH,
            HOME: tmp,
            ANSIBLE_LOCAL_TEMP: join(tmp, 'local'),
            ANSIBLE_REMOTE_TMP: join(tmp, 'remote'),
            ANSIBLE_HOME: join(tmp, 'home'),
            ANSIBLE_NOCOLOR: '1',
            ANSIBLE_ACTION_PLUGINS: PLUGINS,
          },
        },
        (err, stdout, stderr) => {
          const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
          resolve({ code, stdout, stderr });
        },
      );
    });
  const show = (r: Ran) => `${r.stdout.slice(-4000)}\n--- stderr ---\n${r.stderr.slice(-2000)}`;

  it('saves the batch, writes fleet.json and fleet.txt whole, shows the table; replaces links, never follows them', async () => {
    const dir = join(tmp, 'report');
    const victim = join(tmp, 'victim');
    mkdirSync(join(dir), { recursive: true });
    mkdirSync(victim);
    writeFileSync(join(victim, 'keep'), 'keep\n');
    // A previous run's hosts/ replaced by a link, and a link where fleet.json goes.
    symlinkSync(victim, join(dir, 'hosts'));
    symlinkSync(join(victim, 'fleet.json'), join(dir, 'fleet.json'));
    const r = await save(dir, {
      afterpatch_fresh: true,
      afterpatch_render: ['fleet.json', 'fleet.txt'],
    });
    assert.equal(r.code, 0, show(r));
    assert.deepEqual(readdirSync(victim), ['keep']);
    assert.ok(lstatSync(join(dir, 'hosts')).isDirectory());
    assert.ok(lstatSync(join(dir, 'fleet.json')).isFile());
    assert.deepEqual(readdirSync(join(dir, 'hosts')), ['1-gather.web1.jsonl']);
    const lines = readFileSync(join(dir, 'hosts', '1-gather.web1.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { host: string });
    assert.deepEqual(
      lines.map((l) => l.host),
      ['web1', 'web2'],
    );
    const fleet = JSON.parse(readFileSync(join(dir, 'fleet.json'), 'utf8')) as {
      summary: Record<string, number>;
    };
    assert.equal(fleet.summary.needRestart, 2, JSON.stringify(fleet.summary));
    assert.match(readFileSync(join(dir, 'fleet.txt'), 'utf8'), /^2 hosts: 2 need a restart/);
    // The table is in the play's output, as debug would show it.
    assert.match(r.stdout, /"2 hosts: 2 need a restart, /);
    // No temporary file left behind.
    assert.deepEqual(readdirSync(dir).sort(), ['fleet.json', 'fleet.txt', 'hosts']);
  });

  it('a batch of one saved without render: JSON, the report left alone, the saved results kept', async () => {
    const dir = join(tmp, 'report-batch');
    mkdirSync(join(dir, 'hosts'), { recursive: true });
    writeFileSync(join(dir, 'hosts', '0-older.x.jsonl'), '{"host":"x","failed":true}\n');
    // A batch of one host: Ansible hands its one JSON line over as a dict, saved as JSON again.
    const r = await save(dir, { afterpatch_phase: '2-restart', bench_hosts: 'web2' });
    assert.equal(r.code, 0, show(r));
    assert.deepEqual(readdirSync(join(dir, 'hosts')).sort(), [
      '0-older.x.jsonl',
      '2-restart.web2.jsonl',
    ]);
    const saved = readFileSync(join(dir, 'hosts', '2-restart.web2.jsonl'), 'utf8');
    assert.equal(saved.trim().split('\n').length, 1);
    const doc = JSON.parse(saved) as { host: string; needs_restart: boolean; changed: boolean };
    assert.deepEqual([doc.host, doc.needs_restart, doc.changed], ['web2', true, false]);
    assert.equal(existsSync(join(dir, 'fleet.json')), false);
    assert.doesNotMatch(r.stdout, /need a restart/);
  });

  it('a saved result the report cannot read fails the task, and no report is written', async () => {
    const dir = join(tmp, 'report-bad');
    mkdirSync(join(dir, 'hosts'), { recursive: true });
    writeFileSync(join(dir, 'hosts', '0-older.x.jsonl'), '{"host": "x", not json\n');
    const r = await save(dir, { afterpatch_render: ['fleet.json', 'fleet.txt'] });
    assert.notEqual(r.code, 0, show(r));
    assert.match(r.stdout, /afterpatch report on the controller: .* report exited 2: /);
    assert.equal(existsSync(join(dir, 'fleet.json')), false);
    assert.equal(existsSync(join(dir, 'fleet.txt')), false);
    // The batch itself was saved before: the results of what was done are never lost.
    assert.ok(existsSync(join(dir, 'hosts', '1-gather.web1.jsonl')));
  });

  it('no afterpatch on the controller fails the task with what to do', async () => {
    const dir = join(tmp, 'report-nocli');
    const r = await save(dir, {
      afterpatch_report_cli: join(tmp, 'no-such-afterpatch'),
      afterpatch_render: ['fleet.txt'],
    });
    assert.notEqual(r.code, 0, show(r));
    assert.match(
      r.stdout,
      /cannot run .*no-such-afterpatch report on the controller .*afterpatch_report_cli/,
    );
    assert.equal(existsSync(join(dir, 'fleet.txt')), false);
  });

  it('a report directory that cannot be written fails the task', async () => {
    const file = join(tmp, 'a-file');
    writeFileSync(file, '');
    const r = await save(join(file, 'report'), {});
    assert.notEqual(r.code, 0, show(r));
    assert.match(r.stdout, /afterpatch report on the controller: /);
  });
});
