// The shipped alert rules pass their unit tests (afterpatch.rules.test.yml): `promtool test
// rules` evaluates them with Prometheus's own engine, 2.5 s of CPU, so it runs in the
// integration suite; rules.test.ts checks their syntax and names in the fast one.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promtool } from '../helpers/serve.ts';

const tool = promtool();

describe('integrations/prometheus/afterpatch.rules.yml', () => {
  it('passes promtool test rules: outside units, sessions, containers, VMs and state errors alert on their own', {
    skip: tool ? false : 'promtool not installed',
  }, async () => {
    const tests = fileURLToPath(new URL('./afterpatch.rules.test.yml', import.meta.url));
    const out = await new Promise<{ code: number; text: string }>((resolve) =>
      execFile(tool ?? 'promtool', ['test', 'rules', tests], (e, stdout, stderr) =>
        resolve({ code: e ? Number(e.code) : 0, text: stdout + stderr }),
      ),
    );
    assert.equal(out.code, 0, out.text);
    assert.match(out.text, /SUCCESS/);
  });
});
