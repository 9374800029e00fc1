import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { defaultConfig, lineOf, loadConfig, parseConfig } from '../../src/config/load.ts';
import { assertConfigRefused } from '../helpers/config.ts';

const EXAMPLE = new URL('../../examples/afterpatch.toml', import.meta.url).pathname;

describe('configuration', () => {
  const dir = mkdtempSync(join(tmpdir(), 'afterpatch-config-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('loads the shipped example', () => {
    const c = loadConfig(EXAMPLE, true);
    assert.deepEqual(c.restart.never, ['mysql.service', 'mariadb.service']);
    assert.equal(c.restart.jobs, 64);
    assert.equal(c.restart.timeout, 90);
    assert.deepEqual(c.scan.include_noise, []);
  });

  it('uses defaults when the default file is missing, but not when one was asked for', () => {
    assert.deepEqual(loadConfig(join(dir, 'missing.toml'), false), defaultConfig());
    assert.throws(
      () => loadConfig(join(dir, 'missing.toml'), true),
      /cannot read configuration .*missing\.toml \(ENOENT\)/,
    );
  });

  const bad: [string, string, RegExp][] = [
    ['a wrong type', '[restart]\njobs = "x"\n', /^f\.toml:2: restart\.jobs: must be a number;/],
    [
      'an unknown key',
      '[restart]\njobs = 4\nbogus = 1\n',
      /^f\.toml:3: restart\.bogus: unknown key;/,
    ],
    ['an unknown table', '\n[restrt]\n', /^f\.toml:2: restrt: unknown key;/],
    [
      'a bad regular expression',
      '[scan]\nignore_files = ["ok", "(bad"]\n',
      /^f\.toml:2: scan\.ignore_files\[1\]: is not a valid regular expression;/,
    ],
    [
      'an unknown noise rule',
      '[scan]\ninclude_noise = ["nope"]\n',
      /^f\.toml:2: scan\.include_noise\[0\]: is not a noise rule/,
    ],
    [
      'a unit glob with a space',
      '[restart]\nonly = ["a b"]\n',
      /restart\.only\[0\]: is not a unit name or glob/,
    ],
    ['zero jobs', '[restart]\njobs = 0\n', /restart\.jobs: must be at least 1/],
    ['broken TOML', 'x = = 1\n', /^f\.toml:1: invalid TOML/],
  ];
  for (const [what, text, message] of bad) {
    it(`names file, line and key for ${what}`, () => assertConfigRefused(text, message));
  }

  it('finds the line of a key inside its table', () => {
    const text = '[scan]\njobs = 1\n\n[restart]\n# c\njobs = 2\n';
    assert.equal(lineOf(text, ['restart', 'jobs']), 6);
    assert.equal(lineOf(text, ['scan', 'jobs']), 2);
    assert.equal(lineOf(text, ['nope']), null);
  });

  it('reads a file from disk', () => {
    const f = join(dir, 'ok.toml');
    writeFileSync(f, '[restart]\nonly = ["nginx.service"]\n');
    assert.deepEqual(loadConfig(f, true).restart.only, ['nginx.service']);
  });
});

// A file the caller could not read themselves (`check --config /root/secret` under sudo before
// the refusal existed) must not leak through the error: no value, no excerpt of the file.
describe('configuration errors never echo what was read', () => {
  const SECRET = 'hunter2';
  const texts = [
    SECRET,
    `password = ${SECRET}`,
    `"${SECRET}"`,
    `[scan]\nignore_files = "${SECRET}"`,
    `[scan]\nignore_files = ["ok", 5, "${SECRET}"]`,
    `[scan]\nignore_processes = { a = "${SECRET}" }`,
    `[scan]\ninterpreted = "${SECRET}"`,
    `[scan]\ninclude_noise = ["${SECRET}"]`,
    `[restart]\njobs = "${SECRET}"`,
    `[restart]\nonly = ["${SECRET} x"]`,
    `[restart]\nnever = "${SECRET}"`,
    `[hooks]\napt = "${SECRET}"`,
    `scan = "${SECRET}"`,
    `[scan]\nignore_files = ["(${SECRET}"]`,
    `k = """${SECRET}`,
    `k = 0x${SECRET}`,
    `a = "${SECRET}\n`,
    `"\\u001b]0;${SECRET}\\u0007" = 1`,
  ];
  for (const text of texts) {
    it(`refuses ${JSON.stringify(text)} without quoting it`, () => {
      assert.throws(
        () => parseConfig(text, '/etc/x.toml'),
        (e: unknown) => {
          const m = (e as Error).message;
          assert.ok(!m.includes(SECRET), m);
          assert.ok(!m.includes('received'), m);
          assert.ok(![...m].some((c) => c < ' ' || c === '\x7f'), m);
          assert.match(m, /^\/etc\/x\.toml(:\d+)?: /);
          return true;
        },
      );
    });
  }

  it('names what a wrong type should have been', () => {
    assert.throws(() => parseConfig('[scan]\nignore_files = "x"\n', 'f.toml'), {
      message: /^f\.toml:2: scan\.ignore_files: must be a list/,
    });
    assert.throws(() => parseConfig('[scan]\nignore_files = [5]\n', 'f.toml'), {
      message: /^f\.toml:2: scan\.ignore_files\[0\]: must be a string;/,
    });
  });
});
