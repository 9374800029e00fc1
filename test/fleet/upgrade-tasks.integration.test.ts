// integrations/ansible/tasks/upgrade.yml run by ansible-playbook on localhost against a stand-in
// afterpatch CLI that answers with a canned scan: the answers the rig cannot produce (its hosts
// share the machine's package database). Fail closed: a host whose package database afterpatch
// could not read, or whose CLI assessed no advisory, fails with a message and upgrades nothing;
// only the `unknown` reasons about what runs pass. The real apt path: rig-upgrade.integration;
// the real dnf path: upgrade-dnf.integration.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const DIR = fileURLToPath(new URL('../../integrations/ansible/', import.meta.url));
const skip = existsSync('/usr/bin/ansible-playbook')
  ? false
  : 'ansible-playbook not found (apt-get install ansible-core)';

interface Reason {
  verdict: string;
  why: string;
}

/** A scan --json document with one advisory, as the CLI prints it (only what the module reads). */
function scanDoc(
  advisory: { verdict: string; reasons: Reason[] } | null,
  installed: { name: string; version: string }[] = [],
) {
  return {
    format: 'afterpatch-scan',
    formatVersion: 1,
    hostname: 'fake',
    time: '2026-01-01T00:00:00Z',
    asRoot: true,
    summary: {},
    entries: [],
    warnings: [],
    ...(advisory === null
      ? {}
      : {
          advisoryVerdict: advisory.verdict,
          advisories: [
            {
              id: 'CLI-fixed',
              ...advisory,
              packages: [{ name: 'libfake', fixed: '2.0', installed }],
              vulnerableProcesses: 0,
              unknownProcesses: 0,
            },
          ],
        }),
  };
}

describe('tasks/upgrade.yml on localhost with a stand-in CLI', { skip }, () => {
  let tmp: string;
  let n = 0;
  before(() => {
    tmp = mkdtempSync(join(tmpdir(), 'afterpatch-upgrade-tasks-'));
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  /** Runs the task file once; the CLI answers every scan with `scan`. */
  const runTasks = (scan: object, extra: Record<string, unknown>, flags: string[] = []) => {
    const dir = join(tmp, String(n++));
    const cli = join(tmp, `cli-${n}`);
    writeFileSync(
      cli,
      `#!/usr/bin/python3
import json, sys
cmd = sys.argv[1] if len(sys.argv) > 1 else ''
if cmd == '--version':
    print('afterpatch 9.9.9')
elif cmd == 'scan':
    doc = json.loads(${JSON.stringify(JSON.stringify(scan))})
    if '--reboot' in sys.argv:
        # scan --reboot: reboot-required's verdict inside the scan document (the module needs one).
        doc['reboot'] = {'format': 'afterpatch-reboot', 'required': False, 'reasons': []}
    print(json.dumps(doc))
elif cmd == 'reboot-required':
    print(json.dumps({'required': False}))
else:
    sys.exit('unexpected: ' + ' '.join(sys.argv[1:]))
`,
    );
    chmodSync(cli, 0o755);
    const playbook = `${dir}.yml`;
    writeFileSync(
      playbook,
      `- hosts: localhost\n  gather_facts: false\n  tasks:\n    - ansible.builtin.include_tasks: ${join(DIR, 'tasks', 'upgrade.yml')}\n`,
    );
    return new Promise<{ code: number; stdout: string }>((resolve) => {
      execFile(
        'ansible-playbook',
        [
          '-i',
          'localhost,',
          '-c',
          'local',
          playbook,
          '-e',
          JSON.stringify({
            afterpatch_cli: cli,
            ansible_python_interpreter: '/usr/bin/python3',
            ...extra,
          }),
          ...flags,
        ],
        {
          env: {
            PATH: process.env.PATH,
            HOME: tmp,
            ANSIBLE_LOCAL_TEMP: join(tmp, 'local'),
            ANSIBLE_HOME: join(tmp, 'home'),
            ANSIBLE_REMOTE_TMP: join(tmp, 'remote'),
            ANSIBLE_LIBRARY: join(DIR, 'library'),
            ANSIBLE_NOCOLOR: '1',
          },
          timeout: 120_000,
        },
        (err, stdout) => resolve({ code: err === null ? 0 : Number(err.code ?? 1), stdout }),
      );
    });
  };
  const FIXED = { afterpatch_fixed: ['libfake=2.0'] };

  it('the package database unreadable: fails with afterpatch reason, upgrades nothing', async () => {
    const r = await runTasks(
      scanDoc({
        verdict: 'unknown',
        reasons: [
          { verdict: 'unknown', why: 'libfake: installed version unknown' },
          { verdict: 'unknown', why: 'cannot read the dpkg status file (EACCES)' },
        ],
      }),
      FIXED,
    );
    assert.notEqual(r.code, 0, r.stdout);
    assert.match(
      r.stdout,
      /localhost is not patched after the upgrade: libfake: installed version unknown; cannot read the dpkg status file \(EACCES\)/,
    );
    assert.match(r.stdout, /TASK \[Upgrade with apt\][^\n]*\nskipping: \[localhost\]/);
  });

  it('a CLI whose scan assessed no advisory fails the host', async () => {
    const r = await runTasks(scanDoc(null), FIXED);
    assert.notEqual(r.code, 0, r.stdout);
    assert.match(r.stdout, /the scan assessed no advisory/);
  });

  it('without afterpatch_fixed: fails saying so', async () => {
    const r = await runTasks(scanDoc(null), {});
    assert.notEqual(r.code, 0, r.stdout);
    assert.match(r.stdout, /afterpatch_upgrade: true needs afterpatch_fixed/);
  });

  it('unknowns about what runs only (processes, containers): passes, nothing to upgrade', async () => {
    const r = await runTasks(
      scanDoc({
        verdict: 'unknown',
        reasons: [
          { verdict: 'restart-needed', why: '1 process(es) run a version below the fix' },
          { verdict: 'unknown', why: '2 process(es) run a version that cannot be told' },
          { verdict: 'unknown', why: 'container docker:ab12: its package version cannot be read' },
        ],
      }),
      FIXED,
    );
    assert.equal(r.code, 0, r.stdout);
    assert.match(r.stdout, /localhost\s+: ok=\d+ +changed=0 +unreachable=0 +failed=0/);
  });

  // Only in check mode: outside it the task file would run apt on this machine.
  it('check mode: no assert, and an unpatched host says what would be upgraded', async () => {
    const doc = scanDoc(
      {
        verdict: 'unpatched',
        reasons: [{ verdict: 'unpatched', why: 'libfake1 1.0 is below 2.0' }],
      },
      [
        { name: 'libfake1', version: '1.0' },
        { name: 'libfake-dev', version: '1.0' },
      ],
    );
    const r = await runTasks(doc, FIXED, ['--check']);
    assert.equal(r.code, 0, r.stdout);
    assert.match(r.stdout, /would upgrade libfake-dev, libfake1 \(state: latest\), then restart/);
  });
});
