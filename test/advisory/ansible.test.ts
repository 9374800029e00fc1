// The Ansible modules' `fixed:` option (integrations/ansible/library/afterpatch.py and
// afterpatch_node), run as Ansible
// runs it (`node <module> <args.json>`) against the built CLI on the libc fixture: the scan carries
// the advisories' verdicts (for the report's CVE table), a restart plans only the vulnerable unit,
// a malformed entry fails the task with a message.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { writeCliStandIn } from '../../harness/cli-stand-in.ts';
import { hasDpkg, type LibcFixture, makeLibcFixture } from './libc-fixture.ts';

const LIBRARY = fileURLToPath(new URL('../../integrations/ansible/library/', import.meta.url));
/** Debian's python3, which has ansible-core's module_utils (test/fleet/ansible-module.test.ts). */
const PYTHON = '/usr/bin/python3';
const hasAnsible =
  existsSync(PYTHON) && existsSync('/usr/lib/python3/dist-packages/ansible/module_utils/basic.py');

// Both modules: the Python one the playbooks use, the Node.js one (afterpatch_node).
const MODULES = [
  {
    name: 'afterpatch (Python)',
    argv: (file: string) => [PYTHON, join(LIBRARY, 'afterpatch.py'), file],
    args: (a: object) => ({ ANSIBLE_MODULE_ARGS: a }),
    skip: hasAnsible ? false : 'ansible-core not installed for /usr/bin/python3',
  },
  {
    name: 'afterpatch_node',
    argv: (file: string) => [process.execPath, join(LIBRARY, 'afterpatch_node'), file],
    args: (a: object) => a,
    skip: false,
  },
] as const;

// The two modules side by side, each on its own fixture (each one's tests in order).
describe('Ansible modules: fixed', { concurrency: true }, () => {
  for (const m of MODULES)
    describe(`Ansible module ${m.name}: fixed`, {
      skip: hasDpkg ? m.skip : 'needs dpkg with libc6',
      concurrency: 1,
    }, () => {
      let f: LibcFixture;
      let wrapper = '';
      let n = 0;
      before(async () => {
        f = makeLibcFixture();
        wrapper = join(f.dir, 'afterpatch');
        const roots = ['--proc-root', f.procRoot, '--root', f.root];
        await writeCliStandIn(wrapper, {
          scan: roots,
          restart: [...roots, '--state-dir', join(f.dir, 'state')],
          'reboot-required': roots,
        });
      });
      after(() => f.cleanup());

      const run = (args: object): Promise<Record<string, unknown>> => {
        const file = join(f.dir, `args-${n++}.json`);
        writeFileSync(file, JSON.stringify(m.args({ afterpatch: wrapper, ...args })));
        const [cmd, ...argv] = m.argv(file);
        return new Promise((resolve) => {
          execFile(cmd ?? '', argv, { env: f.env, cwd: f.dir }, (_e, stdout) =>
            resolve(JSON.parse(stdout)),
          );
        });
      };

      it('scanned: the advisories travel in the scan; restarted (check mode): only the vulnerable unit', async () => {
        const scanned = await run({ state: 'scanned', fixed: [`libc6=${f.installed}`] });
        assert.equal(scanned.failed, false, String(scanned.msg));
        const scan = scanned.scan as { advisoryVerdict: string; advisories: { verdict: string }[] };
        assert.equal(scan.advisoryVerdict, 'restart-needed');
        const planned = await run({
          state: 'restarted',
          fixed: { libc6: f.installed },
          _ansible_check_mode: true,
        });
        assert.equal(planned.failed, false, String(planned.msg));
        const plan = (planned.restart as { plan: { unit: string }[] }).plan.map((e) => e.unit);
        assert.deepEqual(plan, ['old.service']);
      });

      it('a malformed entry fails the task with one message', async () => {
        const r = await run({ state: 'scanned', fixed: ['libc6'] });
        assert.equal(r.failed, true);
        assert.match(String(r.msg), /fixed: "libc6" is not PACKAGE=VERSION/);
      });
    });
});
