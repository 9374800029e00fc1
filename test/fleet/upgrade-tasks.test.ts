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

/** The expression as the task builds it for Jinja's `match` test: ^(one|of|the|list)$. */
function runtimeUnknowns(): RegExp {
  const text = readFileSync(TASKS, 'utf8');
  const at = text.search(/^\s*afterpatch_upgrade_runtime_unknowns:$/m);
  assert.ok(at >= 0, 'afterpatch_upgrade_runtime_unknowns in tasks/upgrade.yml');
  const items: string[] = [];
  // The YAML list below the key, single-quoted items ('' is one quote).
  for (const line of text.slice(at).split('\n').slice(1)) {
    const m = /^\s*- '((?:[^']|'')*)'$/.exec(line);
    if (!m?.[1]) break;
    items.push(m[1].replaceAll("''", "'"));
  }
  assert.equal(items.length, 3, JSON.stringify(items));
  assert.match(text, /'\^\(' ~ afterpatch_upgrade_runtime_unknowns \| join\('\|'\) ~ '\)\$'/);
  return new RegExp(`^(${items.join('|')})$`);
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
