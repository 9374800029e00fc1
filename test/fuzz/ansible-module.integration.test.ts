// Property test of both Ansible modules' argument handling (issue 12): any arguments file gives
// exactly one JSON object with a one-line msg, in bounded time. Integration suite: it starts a
// module process (Python or Node.js) per input, 25 inputs each; the inputs it found are fixed
// cases in test/fuzz/parsers.test.ts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { MODULES, moduleRunner, skipModule, text } from '../helpers/ansible-fuzz.ts';

for (const mod of MODULES)
  describe(`fuzz: the Ansible module arguments, ${mod.name}`, { skip: skipModule(mod) }, () => {
    const run = moduleRunner(mod);

    it('any arguments: exactly one JSON object with a one-line msg', async () => {
      const value = fc.oneof(text, fc.jsonValue({ maxDepth: 2 }), fc.array(text, { maxLength: 3 }));
      const args = fc.oneof(
        text,
        fc
          .record(
            {
              state: value,
              lib: value,
              units: value,
              exclude: value,
              reboot_sentinel: value,
              force: value,
              other: value,
            },
            { requiredKeys: [] },
          )
          // No CLI on this PATH: the module stops at "not installed" after parsing the arguments.
          .map((o) => JSON.stringify({ ...o, afterpatch: '/nonexistent/afterpatch' })),
      );
      await fc.assert(
        fc.asyncProperty(args, async (a) => {
          const r = await run(a);
          assert.ok(r.ms < 15_000, `${r.ms} ms`);
          assert.equal(r.stdout.trim().split('\n').length, 1, r.stdout);
          const out = JSON.parse(r.stdout) as { failed: boolean; msg: string };
          assert.equal(out.failed, true);
          assert.equal(typeof out.msg, 'string');
          assert.equal(out.msg.includes('\n'), false, out.msg);
        }),
        { numRuns: 25 },
      );
    });
  });
