// The shipped playbooks parse (ansible-playbook --syntax-check) and the role's TOML template
// renders valid afterpatch configuration; the real runs are in rig.integration.test.ts (root only).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { runCli } from '../../harness/cli.ts';

const execFileP = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DIR = join(ROOT, 'integrations', 'ansible');
/** bench/fleet's own playbooks and callback plugin: real files the linters see too. */
const BENCH = fileURLToPath(new URL('../../bench/fleet-bench/ansible/', import.meta.url));
/** Every Python file of the repository's Ansible parts. */
const PYTHON_FILES = [
  join(DIR, 'library', 'afterpatch.py'),
  join(DIR, 'action_plugins', 'afterpatch_report.py'),
  join(BENCH, 'callback_plugins', 'bench_fleet_events.py'),
];
const skip = existsSync('/usr/bin/ansible-playbook')
  ? false
  : 'ansible-playbook not found (apt-get install ansible-core)';

describe('Ansible playbooks and role', { skip }, () => {
  let tmp: string;
  let env: NodeJS.ProcessEnv;
  before(() => {
    tmp = mkdtempSync(join(tmpdir(), 'afterpatch-playbooks-'));
    env = {
      PATH: process.env.PATH,
      HOME: tmp,
      ANSIBLE_LOCAL_TEMP: join(tmp, 'local'),
      ANSIBLE_REMOTE_TMP: join(tmp, 'remote'),
      ANSIBLE_HOME: join(tmp, 'home'),
      ANSIBLE_NOCOLOR: '1',
      // bench/fleet's save.yml imports the playbook's task file, which uses the action plugin.
      ANSIBLE_ACTION_PLUGINS: join(DIR, 'action_plugins'),
    };
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  for (const playbook of [
    join(DIR, 'install.yml'),
    join(DIR, 'rolling-restart.yml'),
    join(BENCH, 'baseline.yml'),
    join(BENCH, 'save.yml'),
  ]) {
    it(`${relative(ROOT, playbook)} passes --syntax-check`, async () => {
      const r = await execFileP(
        'ansible-playbook',
        ['--syntax-check', '-i', 'localhost,', playbook],
        {
          env,
        },
      );
      assert.match(r.stdout, /playbook: /);
    });
  }

  it('the Python files compile, pass pyflakes and are formatted (black, 100 columns)', async (t) => {
    // Compiled in memory (py_compile would leave __pycache__ next to the module).
    await execFileP('/usr/bin/python3', [
      '-c',
      'import sys\nfor f in sys.argv[1:]: compile(open(f).read(), f, "exec")',
      ...PYTHON_FILES,
    ]);
    const flakes = await execFileP('/usr/bin/python3', ['-m', 'pyflakes', ...PYTHON_FILES]).catch(
      (e: { code: number; stdout: string; stderr: string }) => e,
    );
    if ('stderr' in flakes && /No module named pyflakes/.test(flakes.stderr)) {
      t.skip('pyflakes not installed (apt-get install python3-pyflakes)');
      return;
    }
    assert.equal('code' in flakes ? flakes.code : 0, 0, `pyflakes:\n${flakes.stdout}`);
    if (!existsSync('/usr/bin/black')) return;
    const black = await execFileP('/usr/bin/black', [
      '--check',
      '-q',
      '-l',
      '100',
      ...PYTHON_FILES,
    ]).catch((e: { code: number; stderr: string }) => e);
    assert.equal('code' in black ? black.code : 0, 0, `black --check -l 100:\n${black.stderr}`);
  });

  it('ansible-lint (production profile) finds nothing', async (t) => {
    if (!existsSync('/usr/bin/ansible-lint')) {
      t.skip('ansible-lint not found (apt-get install ansible-lint)');
      return;
    }
    // The playbook schema wants a number for max_fail_percentage and stops linting the file at
    // the template: lint a copy with a number there, so every other rule sees the whole file.
    const copy = join(tmp, 'lint');
    cpSync(DIR, copy, { recursive: true });
    const playbook = join(copy, 'rolling-restart.yml');
    const text = readFileSync(playbook, 'utf8');
    const fixed = text.replace(/^(\s*max_fail_percentage:) "\{\{[^\n]*\}\}"$/m, '$1 0');
    assert.notEqual(fixed, text, 'the templated max_fail_percentage line moved');
    writeFileSync(playbook, fixed);
    const r = await execFileP('ansible-lint', ['--nocolor'], { cwd: copy, env }).catch(
      (e: { code: number; stdout: string; stderr: string }) => e,
    );
    assert.equal('code' in r ? r.code : 0, 0, `ansible-lint:\n${r.stdout}\n${r.stderr}`);
    // bench/fleet's playbooks, with the same configuration.
    const bench = await execFileP(
      'ansible-lint',
      ['--nocolor', '-c', join(DIR, '.ansible-lint'), 'baseline.yml', 'save.yml'],
      { cwd: BENCH, env },
    ).catch((e: { code: number; stdout: string; stderr: string }) => e);
    assert.equal(
      'code' in bench ? bench.code : 0,
      0,
      `ansible-lint (bench):\n${bench.stdout}\n${bench.stderr}`,
    );
  });

  it('the role template renders afterpatch_config as a file afterpatch accepts', async () => {
    const out = join(tmp, 'afterpatch.toml');
    const config = {
      scan: { ignore_files: ['^/opt/app/\\d+/', 'quote " and ✓'], interpreted: false },
      restart: { never: ['postgresql*.service'], jobs: 8, timeout: 120 },
      hooks: { apt: 'restart' },
    };
    // The template module on localhost: the same Jinja2 and to_json the role uses.
    await execFileP(
      'ansible',
      [
        'localhost',
        '-c',
        'local',
        '-i',
        'localhost,',
        '-m',
        'template',
        '-a',
        `src=${join(DIR, 'roles/afterpatch/templates/afterpatch.toml.j2')} dest=${out}`,
        '-e',
        JSON.stringify({
          afterpatch_config: config,
          ansible_python_interpreter: '/usr/bin/python3',
        }),
      ],
      { env },
    );
    const r = await runCli(['config', '--json', out]);
    assert.equal(r.code, 0, `${r.stderr}\n${readFileSync(out, 'utf8')}`);
    const got = JSON.parse(r.stdout).config;
    assert.deepEqual(got.scan.ignore_files, config.scan.ignore_files);
    assert.equal(got.scan.interpreted, false);
    assert.deepEqual(got.restart.never, config.restart.never);
    assert.equal(got.restart.jobs, 8);
    assert.equal(got.hooks.apt, 'restart');
  });
});
