// The shipped playbooks parse (ansible-playbook --syntax-check) and the role's TOML template
// renders valid afterpatch configuration; the real runs are in rig.integration.test.ts (root only).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { runCli } from '../helpers/cli.ts';

const execFileP = promisify(execFile);
const DIR = fileURLToPath(new URL('../../integrations/ansible/', import.meta.url));
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
      ANSIBLE_HOME: join(tmp, 'home'),
      ANSIBLE_NOCOLOR: '1',
    };
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  for (const playbook of ['install.yml', 'rolling-restart.yml']) {
    it(`${playbook} passes --syntax-check`, async () => {
      const r = await execFileP(
        'ansible-playbook',
        ['--syntax-check', '-i', 'localhost,', join(DIR, playbook)],
        { env },
      );
      assert.match(r.stdout, /playbook: /);
    });
  }

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
