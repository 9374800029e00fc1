// integrations/ansible/tasks/upgrade.yml fails a host unless afterpatch proves every installed
// package of the advisory at or above the fix; of the `unknown` reasons it lets through only
// those about what runs (processes, containers, the running kernel), named by a regular
// expression over afterpatch's wording. This pins that expression to the wording of
// src/advisory/running.ts: a reworded runtime reason would fail hosts (closed, but wrong), and
// an installed-package reason must never match (that would pass a host nobody proved patched).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { hostVerdict } from '../../src/advisory/running.ts';
import { compareDebVersions } from '../../src/reboot/version.ts';

const TASKS = fileURLToPath(
  new URL('../../integrations/ansible/tasks/upgrade.yml', import.meta.url),
);

/** The expression as Jinja's `match` test uses it (YAML single-quoted: '' is one quote). */
function runtimeUnknowns(): RegExp {
  const m = /^\s*afterpatch_upgrade_runtime_unknowns: '((?:[^']|'')*)'$/m.exec(
    readFileSync(TASKS, 'utf8'),
  );
  assert.ok(m?.[1], 'afterpatch_upgrade_runtime_unknowns in tasks/upgrade.yml');
  return new RegExp(m[1].replaceAll("''", "'"));
}

const whys = (facts: Parameters<typeof hostVerdict>[0]) =>
  hostVerdict(facts, compareDebVersions)
    .reasons.filter((r) => r.verdict === 'unknown')
    .map((r) => r.why);

describe('tasks/upgrade.yml: which unknown reasons the assert lets through', () => {
  it('lets through the reasons about processes, containers and the running kernel', () => {
    const re = runtimeUnknowns();
    const runtime = whys({
      installed: [{ name: 'libssl3', version: '3.0.14-1', fixed: '3.0.14-1' }],
      kernel: { running: null, fixed: '6.1.76-1' },
      processes: [
        { pid: 10, vulnerable: 'unknown' },
        { pid: 11, vulnerable: 'unknown' },
      ],
      containers: [{ id: 'docker:0123abcd', vulnerable: 'unknown' }],
    });
    assert.equal(runtime.length, 3, JSON.stringify(runtime));
    for (const why of runtime) assert.match(why, re);
  });

  it('fails on every reason about the installed packages, and on the host problems', () => {
    const re = runtimeUnknowns();
    const installed = whys({
      installed: [
        { name: 'libssl3', version: null, fixed: '3.0.14-1' },
        { name: 'openssl', version: '3.0.11-1', fixed: null },
      ],
      processes: [],
      containers: [],
    });
    // src/advisory/host.ts: the package database could not be read.
    const problems = [
      'cannot read the dpkg status file (EACCES)',
      'cannot query the rpm database',
      'no package manager found: installed versions unknown',
    ];
    assert.equal(installed.length, 2, JSON.stringify(installed));
    for (const why of [...installed, ...problems]) assert.doesNotMatch(why, re);
  });
});
