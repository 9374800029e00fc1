// `afterpatch config [FILE]`: the built CLI on real files. What Ansible's
// `validate: "afterpatch config %s"` relies on: exit 0 for a valid file, 2 for anything else, one
// line on stderr naming file, line and key, and nothing on stdout when the file is refused.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type RunResult, runCli } from '../../harness/cli.ts';
import { DEFAULT_CONFIG_PATH, defaultConfig, parseConfig } from '../../src/config/load.ts';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
const EXAMPLE = new URL('../../examples/afterpatch.toml', import.meta.url).pathname;

/** Refused: exit 2, nothing on stdout, exactly one line on stderr, no stack trace. */
function assertRefused(r: RunResult, message: RegExp): void {
  assert.equal(r.code, 2, `exit status (stderr: ${r.stderr})`);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, message);
  assert.equal(r.stderr.split('\n').length, 2, `one line: ${r.stderr}`);
  assert.ok(r.stderr.endsWith('\n'));
  assert.doesNotMatch(r.stderr, /\n\s+at |this is a bug/, 'no stack trace, not a bug');
}

describe('afterpatch config', () => {
  let dir: string;
  const f = (name: string) => join(dir, name);
  const write = (name: string, text: string) => {
    writeFileSync(f(name), text);
    return f(name);
  };

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'afterpatch-config-cli-'));
    write(
      'good.toml',
      [
        '[scan]',
        'ignore_files = ["^/opt/scratch/", "\\\\.cache\\\\.so$", "quote\\"d"]',
        'interpreted = false',
        '',
        '[restart]',
        'never = ["mysql.service"]',
        'jobs = 8',
        '',
        '[hooks]',
        'apt = "restart"',
        '',
      ].join('\n'),
    );
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('prints the effective settings of a valid file as TOML, defaults filled in, exit 0', async () => {
    const r = await runCli(['config', f('good.toml')]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.equal(
      r.stdout,
      [
        `# ${f('good.toml')}: valid; effective settings (defaults filled in)`,
        '',
        '[scan]',
        'ignore_files = ["^/opt/scratch/", "\\\\.cache\\\\.so$", "quote\\"d"]',
        'ignore_processes = []',
        'include_noise = []',
        'interpreted = false',
        '',
        '[restart]',
        'never = ["mysql.service"]',
        'reload = []',
        'only = []',
        'jobs = 8',
        'timeout = 90',
        '',
        '[hooks]',
        'apt = "restart"',
        'dnf = "list"',
        '',
        '[reboot]',
        'microcode = true',
        'trust_livepatch = false',
        '',
      ].join('\n'),
    );
    // The output is itself a valid configuration, meaning the same.
    assert.deepEqual(
      parseConfig(r.stdout, 'out.toml'),
      parseConfig(readFileSync(f('good.toml'), 'utf8'), 'in.toml'),
    );
  });

  it('checks the shipped example', async () => {
    const r = await runCli(['config', EXAMPLE]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^never = \["mysql\.service", "mariadb\.service"\]$/m);
  });

  it('writes versioned JSON with --json', async () => {
    const r = await runCli(['config', '--json', f('good.toml')]);
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout);
    assert.deepEqual(Object.keys(doc), ['format', 'formatVersion', 'afterpatch', 'file', 'config']);
    assert.equal(doc.format, 'afterpatch-config');
    assert.equal(doc.formatVersion, 1);
    assert.equal(doc.afterpatch, pkg.version);
    assert.equal(doc.file, f('good.toml'));
    assert.deepEqual(doc.config, {
      scan: {
        ignore_files: ['^/opt/scratch/', '\\.cache\\.so$', 'quote"d'],
        ignore_processes: [],
        include_noise: [],
        interpreted: false,
      },
      restart: { never: ['mysql.service'], reload: [], only: [], jobs: 8, timeout: 90 },
      hooks: { apt: 'restart', dnf: 'list' },
      reboot: { microcode: true, trust_livepatch: false },
    });
  });

  it('escapes control characters so the output stays one TOML line per key', async () => {
    // A regular expression may hold any character, e.g. an escape sequence or a newline.
    const file = write(
      'ctl.toml',
      '[scan]\nignore_processes = ["a\\u001b]0;x\\u0007b\\u007fc\\u0085\\nd"]\n',
    );
    const r = await runCli(['config', file]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^ignore_processes = \["a\\u001b\]0;x\\u0007b\\u007fc\\u0085\\nd"\]$/m);
    const raw = [...r.stdout].filter((c) => {
      const n = c.charCodeAt(0);
      return (n < 0x20 && n !== 0x0a) || (n >= 0x7f && n <= 0x9f);
    });
    assert.deepEqual(raw, [], 'no raw control characters');
    assert.deepEqual(parseConfig(r.stdout, 'out.toml').scan.ignore_processes, [
      'a\u001b]0;x\u0007b\u007fc\u0085\nd',
    ]);
  });

  it('prints nothing with -q, also with --json', async () => {
    for (const args of [['-q'], ['--quiet', '--json']]) {
      const r = await runCli(['config', ...args, f('good.toml')]);
      assert.deepEqual([r.code, r.stdout, r.stderr], [0, '', '']);
    }
  });

  const refused: [string, string, (file: string) => RegExp][] = [
    [
      'invalid TOML',
      '[scan]\nignore_files = [\n',
      (file) =>
        new RegExp(
          `^afterpatch: ${file}:\\d+: invalid TOML: .*; fix the file or pass --config\\.\\n$`,
        ),
    ],
    [
      'an unknown key',
      '[restart]\njobs = 4\nbogus = 1\n',
      (file) => new RegExp(`^afterpatch: ${file}:3: restart\\.bogus: unknown key; fix the file`),
    ],
    [
      'an unknown table',
      '\n\n[restrt]\n',
      (file) => new RegExp(`^afterpatch: ${file}:3: restrt: unknown key; fix the file`),
    ],
    [
      'a bad regular expression',
      '[scan]\nignore_processes = ["ok"]\nignore_files = ["ok", "(unclosed"]\n',
      (file) =>
        new RegExp(
          `^afterpatch: ${file}:3: scan\\.ignore_files\\[1\\]: is not a valid regular expression; fix the file`,
        ),
    ],
    [
      'a value out of range',
      '[restart]\ntimeout = 0\n',
      (file) => new RegExp(`^afterpatch: ${file}:2: restart\\.timeout: must be at least 1;`),
    ],
    [
      'a value that is not a table',
      'scan = 5\n',
      (file) => new RegExp(`^afterpatch: ${file}:1: scan: must be a table \\(\\[scan\\]\\);`),
    ],
    [
      'a bad hook mode',
      '[hooks]\napt = "sometimes"\n',
      (file) =>
        new RegExp(`^afterpatch: ${file}:2: hooks\\.apt: must be "list", "restart" or "off";`),
    ],
  ];
  for (const [what, text, message] of refused) {
    it(`refuses ${what}: one line with file:line: key, exit 2, nothing on stdout`, async () => {
      const file = write(`${what.replaceAll(' ', '-')}.toml`, text);
      for (const args of [[file], ['--json', file], ['-q', file], ['--config', file]]) {
        assertRefused(await runCli(['config', ...args]), message(file));
      }
    });
  }

  it('refuses a named file that does not exist, or is not a file', async () => {
    assertRefused(
      await runCli(['config', f('missing.toml')]),
      /^afterpatch: cannot read configuration .*missing\.toml \(ENOENT\)\.$/m,
    );
    assertRefused(
      await runCli(['config', '--config', f('missing.toml')]),
      /^afterpatch: cannot read configuration .*missing\.toml \(ENOENT\)\.$/m,
    );
    mkdirSync(f('a-directory'), { recursive: true });
    assertRefused(
      await runCli(['config', f('a-directory')]),
      /^afterpatch: cannot read configuration .*a-directory \(EISDIR\)\.$/m,
    );
  });

  it('takes --config like the other commands; FILE and --config must not disagree', async () => {
    const same = await runCli(['config', '--json', '--config', f('good.toml'), f('good.toml')]);
    assert.equal(same.code, 0, same.stderr);
    assert.equal(JSON.parse(same.stdout).config.restart.jobs, 8);
    const viaOption = await runCli(['config', '--json', '--config', f('good.toml')]);
    assert.equal(viaOption.code, 0, viaOption.stderr);
    assert.equal(JSON.parse(viaOption.stdout).file, f('good.toml'));
    assertRefused(
      await runCli(['config', '--config', EXAMPLE, f('good.toml')]),
      /^afterpatch: two different files to check: .*good\.toml and --config .*afterpatch\.toml; give one\.$/m,
    );
  });

  it('usage errors exit 2 with nothing on stdout', async () => {
    const r = await runCli(['config', '--bogus']);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /unknown option '--bogus'/);
    const two = await runCli(['config', f('good.toml'), EXAMPLE]);
    assert.equal(two.code, 2);
    assert.match(two.stderr, /too many arguments/);
  });

  it(`reads ${DEFAULT_CONFIG_PATH} without FILE; a missing default file means the defaults`, async () => {
    const r = await runCli(['config', '--json']);
    if (existsSync(DEFAULT_CONFIG_PATH)) {
      // A host with afterpatch installed: the file is checked like a named one.
      if (r.code === 0) assert.equal(JSON.parse(r.stdout).file, DEFAULT_CONFIG_PATH);
      else assertRefused(r, new RegExp(`^afterpatch: ${DEFAULT_CONFIG_PATH}`));
      return;
    }
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout);
    assert.equal(doc.file, null);
    assert.deepEqual(doc.config, defaultConfig());
    const text = await runCli(['config']);
    assert.equal(text.code, 0, text.stderr);
    assert.match(
      text.stdout,
      new RegExp(`^# ${DEFAULT_CONFIG_PATH} does not exist: built-in defaults\n`),
    );
    assert.deepEqual(parseConfig(text.stdout, 'out.toml'), defaultConfig());
  });

  it('documents its exit status in --help', async () => {
    const r = await runCli(['config', '--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^Usage: afterpatch config \[options\] \[file\]$/m);
    assert.match(r.stdout, /Exit status: 0 valid, 2 invalid/);
  });
});
