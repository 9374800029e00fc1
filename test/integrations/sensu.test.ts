// integrations/sensu/: the Sensu Go check and handler definitions have the shape Sensu's API
// takes (Sensu is not in Debian: checked against the fields of core/v2 CheckConfig and Handler),
// the sudo rule allows exactly the check's command line, and that exact command line, run
// against the built CLI on fixture /proc trees, gives the states the check promises.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../../harness/cli.ts';
import { FAKE_INIT, type FakeProcess, makeProcTree, mapsLine } from '../helpers/fakeproc.ts';
import { ERROR_LINE, FIRST_LINE } from '../helpers/nagios.ts';
import { PYTHON3 } from '../helpers/python.ts';

const DIR = new URL('../../integrations/sensu/', import.meta.url).pathname;

/** YAML → JSON through python3's yaml (PyYAML, with ansible-core); undefined when missing. */
function loadYaml(file: string): Promise<unknown> {
  const script =
    'import json,sys,yaml; print(json.dumps(list(yaml.safe_load_all(open(sys.argv[1])))))';
  return new Promise((resolve, reject) =>
    execFile(PYTHON3 ?? 'python3', ['-c', script, file], (err, stdout, stderr) =>
      err
        ? reject(new Error(`cannot read ${file} as YAML: ${stderr || err.message}`))
        : resolve(JSON.parse(stdout)),
    ),
  );
}

const haveYaml = await new Promise<boolean>((resolve) =>
  execFile(PYTHON3 ?? 'python3', ['-c', 'import yaml'], (err) => resolve(!err)),
);

/** The fields of Sensu Go's core/v2 CheckConfig spec (docs.sensu.io, checks reference). */
const CHECK_SPEC_FIELDS = new Set([
  'command',
  'subscriptions',
  'handlers',
  'interval',
  'cron',
  'publish',
  'timeout',
  'ttl',
  'stdin',
  'low_flap_threshold',
  'high_flap_threshold',
  'runtime_assets',
  'check_hooks',
  'proxy_entity_name',
  'proxy_requests',
  'round_robin',
  'subdue',
  'output_metric_format',
  'output_metric_handlers',
  'output_metric_tags',
  'output_metric_thresholds',
  'env_vars',
  'secrets',
  'pipelines',
  'scheduler',
]);
const HANDLER_SPEC_FIELDS = new Set([
  'type',
  'command',
  'env_vars',
  'filters',
  'handlers',
  'mutator',
  'runtime_assets',
  'secrets',
  'socket',
  'timeout',
]);

interface Resource {
  type: string;
  api_version: string;
  metadata: { name: string; namespace?: string };
  spec: Record<string, unknown>;
}

function assertResource(doc: unknown, type: string, fields: Set<string>): Resource {
  const r = doc as Resource;
  assert.equal(r.type, type);
  assert.equal(r.api_version, 'core/v2');
  assert.match(r.metadata.name, /^[a-z0-9_.-]+$/);
  for (const k of Object.keys(r.spec)) assert.ok(fields.has(k), `unknown ${type} field ${k}`);
  return r;
}

describe('integrations/sensu', {
  skip: !haveYaml && 'python3 with PyYAML (python3-yaml) is not installed',
}, () => {
  let check: Resource;
  before(async () => {
    const docs = (await loadYaml(join(DIR, 'afterpatch-check.yml'))) as unknown[];
    assert.equal(docs.length, 1);
    check = assertResource(docs[0], 'CheckConfig', CHECK_SPEC_FIELDS);
  });

  /** The check's command as an argument vector (it holds no shell quoting: asserted). */
  const commandArgv = () => {
    const command = check.spec.command as string;
    assert.match(
      command,
      /^[A-Za-z0-9/ ._-]+$/,
      'a plain command line, nothing a shell would interpret',
    );
    return command.split(' ');
  };

  it('is a Sensu Go CheckConfig with subscriptions, an interval, a timeout and nagios_perfdata', () => {
    const s = check.spec;
    assert.ok(Array.isArray(s.subscriptions) && s.subscriptions.length > 0);
    assert.ok((s.subscriptions as unknown[]).every((x) => typeof x === 'string' && x !== ''));
    assert.ok(Number.isInteger(s.interval) && (s.interval as number) > 0);
    assert.ok(Number.isInteger(s.timeout) && (s.timeout as number) < (s.interval as number));
    assert.equal(s.publish, true);
    assert.equal(s.output_metric_format, 'nagios_perfdata');
    assert.deepEqual(s.handlers, ['alerta']);
    const argv = commandArgv();
    assert.deepEqual(argv.slice(0, 5), ['sudo', '-n', '/usr/bin/afterpatch', 'check', '--metric']);
    assert.deepEqual(argv.slice(5), ['processes', '--warning', '0', '--critical', '10']);
  });

  it('has a sudo rule with exactly the check’s arguments (no wildcard)', () => {
    const rules = readFileSync(join(DIR, 'sudoers.afterpatch'), 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '' && !l.startsWith('#'));
    assert.equal(rules.length, 1);
    const m = /^sensu ALL=\(root\) NOPASSWD: (.+)$/.exec(rules[0] ?? '');
    assert.ok(m?.[1], rules[0]);
    assert.ok(!m[1].includes('*'));
    assert.deepEqual(m[1].split(' '), commandArgv().slice(2));
  });

  it('has an Alerta handler the check names', async () => {
    const docs = (await loadYaml(join(DIR, 'alerta-handler.yml'))) as unknown[];
    const h = assertResource(docs[0], 'Handler', HANDLER_SPEC_FIELDS);
    assert.equal(h.metadata.name, 'alerta');
    assert.equal(h.spec.type, 'pipe');
    assert.match(h.spec.command as string, /^sensu-alerta-handler /);
    assert.ok((h.spec.filters as string[]).includes('is_incident'));
    const docsText = readFileSync(new URL('../../docs/monitoring.md', import.meta.url), 'utf8');
    assert.ok(
      docsText.includes('integrations/sensu/afterpatch-check.yml'),
      'docs/monitoring.md names the check',
    );
  });

  describe('the exact command line, against the CLI', () => {
    const trees: ReturnType<typeof makeProcTree>[] = [];
    const stale = (n: number): Record<number, FakeProcess> => {
      const procs: Record<number, FakeProcess> = { 1: FAKE_INIT };
      for (let i = 0; i < n; i++) {
        procs[100 + i] = {
          name: 'worker',
          maps: [
            mapsLine('/usr/sbin/worker'),
            mapsLine('/usr/lib/libcrypto.so.3', { deleted: true, addr: 0x7f5000 }),
          ].join('\n'),
          cgroup: '0::/system.slice/worker.service\n',
        };
      }
      return procs;
    };
    /** The check's argv after `sudo -n /usr/bin/afterpatch`, on a fixture /proc (hidden options). */
    const runCheck = async (procs: Record<number, FakeProcess> | null) => {
      const tree = makeProcTree(procs ?? {});
      trees.push(tree);
      const root = join(tree.root, 'fsroot');
      mkdirSync(join(root, 'run'), { recursive: true });
      mkdirSync(join(tree.root, 'state'));
      const procRoot = procs === null ? join(tree.root, 'missing') : tree.root;
      const extra = [
        '--proc-root',
        procRoot,
        '--root',
        root,
        '--state-dir',
        join(tree.root, 'state'),
      ];
      const r = await runCli([...commandArgv().slice(3), ...extra]);
      const first = r.stdout.split('\n')[0] ?? '';
      if (r.code === 3) {
        assert.match(`${first}\n`, ERROR_LINE);
        return { code: r.code, state: 'UNKNOWN', perf: '' };
      }
      const m = FIRST_LINE.exec(first);
      assert.ok(m, `plugin output: ${r.stdout}${r.stderr}`);
      return { code: r.code, state: m[1], perf: m[3] ?? '' };
    };
    after(() => {
      for (const t of trees) t.cleanup();
    });

    it('is OK with nothing outdated, WARNING with one process, CRITICAL above 10, UNKNOWN when /proc is unreadable', async () => {
      const ok = await runCheck(stale(0));
      assert.deepEqual([ok.code, ok.state], [0, 'OK']);
      assert.match(ok.perf, /'processes'=0;0;10;0/);
      const warn = await runCheck(stale(1));
      assert.deepEqual([warn.code, warn.state], [1, 'WARNING']);
      assert.match(warn.perf, /'processes'=1;0;10;0/);
      const ten = await runCheck(stale(10));
      assert.deepEqual([ten.code, ten.state], [1, 'WARNING']);
      const crit = await runCheck(stale(11));
      assert.deepEqual([crit.code, crit.state], [2, 'CRITICAL']);
      assert.match(crit.perf, /'processes'=11;0;10;0/);
      const unknown = await runCheck(null);
      assert.deepEqual([unknown.code, unknown.state], [3, 'UNKNOWN']);
    });
  });
});
