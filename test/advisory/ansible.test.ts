// The Ansible module's `fixed:` option (integrations/ansible/library/afterpatch), run as Ansible
// runs it (`node <module> <args.json>`) against the built CLI on the libc fixture: the scan carries
// the advisories' verdicts (for the report's CVE table), a restart plans only the vulnerable unit,
// a malformed entry fails the task with a message.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CLI } from '../helpers/cli.ts';
import { hasDpkg, type LibcFixture, makeLibcFixture } from './libc-fixture.ts';

const MODULE = fileURLToPath(
  new URL('../../integrations/ansible/library/afterpatch', import.meta.url),
);

describe('Ansible module: fixed', { skip: hasDpkg ? false : 'needs dpkg with libc6' }, () => {
  let f: LibcFixture;
  let wrapper = '';
  let n = 0;
  before(() => {
    f = makeLibcFixture();
    wrapper = join(f.dir, 'afterpatch');
    const roots = `--proc-root '${f.procRoot}' --root '${f.root}'`;
    writeFileSync(
      wrapper,
      `#!/bin/sh
cli='${CLI}'
case "$1" in
  scan) shift; exec '${process.execPath}' "$cli" scan ${roots} "$@" ;;
  restart) shift; exec '${process.execPath}' "$cli" restart ${roots} --state-dir '${f.dir}/state' "$@" ;;
  reboot-required) shift; exec '${process.execPath}' "$cli" reboot-required --proc-root '${f.procRoot}' --root '${f.root}' "$@" ;;
  *) exec '${process.execPath}' "$cli" "$@" ;;
esac
`,
    );
    chmodSync(wrapper, 0o755);
  });
  after(() => f.cleanup());

  const run = (args: object): Promise<Record<string, unknown>> => {
    const file = join(f.dir, `args-${n++}.json`);
    writeFileSync(file, JSON.stringify({ afterpatch: wrapper, ...args }));
    return new Promise((resolve) => {
      execFile(process.execPath, [MODULE, file], { env: f.env, cwd: f.dir }, (_e, stdout) =>
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
