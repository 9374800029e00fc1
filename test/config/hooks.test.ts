// The [hooks] table of /etc/afterpatch/afterpatch.toml (docs/configuration.md): what the apt and
// dnf hooks do after packages changed (integrations/apt, integrations/dnf).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { defaultConfig, loadConfig, parseConfig } from '../../src/config/load.ts';
import { assertConfigRefused } from '../helpers/config.ts';

const EXAMPLE = new URL('../../examples/afterpatch.toml', import.meta.url).pathname;

describe('configuration: [hooks]', () => {
  const dir = mkdtempSync(join(tmpdir(), 'afterpatch-config-hooks-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('defaults to "list" for apt and dnf', () => {
    assert.deepEqual(defaultConfig().hooks, { apt: 'list', dnf: 'list' });
    assert.deepEqual(parseConfig('[hooks]\n', 'f.toml').hooks, { apt: 'list', dnf: 'list' });
    assert.deepEqual(loadConfig(EXAMPLE, true).hooks, { apt: 'list', dnf: 'list' });
  });

  for (const mode of ['list', 'restart', 'off'] as const) {
    it(`accepts apt = "${mode}" (and keeps the other default)`, () => {
      const c = parseConfig(`[hooks]\napt = "${mode}"\n`, 'f.toml');
      assert.equal(c.hooks.apt, mode);
      assert.equal(c.hooks.dnf, 'list');
    });
  }

  it('accepts a dotted key and the dnf key', () => {
    const c = parseConfig('hooks.apt = "off"\nhooks.dnf = "restart"\n', 'f.toml');
    assert.deepEqual(c.hooks, { apt: 'off', dnf: 'restart' });
  });

  it('leaves the other tables alone', () => {
    const c = parseConfig('[hooks]\napt = "restart"\n\n[restart]\njobs = 2\n', 'f.toml');
    assert.equal(c.restart.jobs, 2);
    assert.deepEqual(c.scan.ignore_files, []);
  });

  const bad: [string, string, RegExp][] = [
    [
      'an unknown mode',
      '[hooks]\napt = "reboot"\n',
      /^f\.toml:2: hooks\.apt: must be "list", "restart" or "off";/,
    ],
    [
      'a wrong type',
      '\n[hooks]\ndnf = true\n',
      /^f\.toml:3: hooks\.dnf: must be "list", "restart" or "off";/,
    ],
    ['an unknown key', '[hooks]\nyum = "list"\n', /^f\.toml:2: hooks\.yum: unknown key;/],
    ['hooks as a string', 'hooks = "off"\n', /^f\.toml:1: hooks: /],
  ];
  for (const [what, text, message] of bad) {
    it(`names file, line and key for ${what}`, () => assertConfigRefused(text, message));
  }

  it('reads [hooks] from a file on disk', () => {
    const f = join(dir, 'hooks.toml');
    writeFileSync(f, '# unattended\n[hooks]\napt = "restart"  # after every dpkg run\n');
    assert.equal(loadConfig(f, true).hooks.apt, 'restart');
  });
});
