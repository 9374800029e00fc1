// Advisory input: `--fixed` and advisory files (TOML and JSON), with one-line errors.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  advisoryFromFixed,
  familiesFromOsRelease,
  fixedVersionFor,
  parseAdvisoryFile,
  parseFixedOption,
} from '../../src/advisory/advisory.ts';

const TOML = `id = "CVE-2024-5535"
title = "OpenSSL: SSL_select_next_proto buffer overread"

[[packages]]
name = "openssl"
fixed = { debian = "3.0.14-1~deb12u1", ubuntu = "3.0.13-0ubuntu3.2" }

[[packages]]
name = "openssl-libs"
fixed = { rhel = "1:3.0.7-28.el9_4" }
`;

describe('advisory files', () => {
  it('reads a TOML advisory', () => {
    const [a] = parseAdvisoryFile(TOML, 'cve.toml');
    assert.equal(a?.id, 'CVE-2024-5535');
    assert.equal(a?.packages.length, 2);
    assert.deepEqual(a?.packages[1], { name: 'openssl-libs', fixed: { rhel: '1:3.0.7-28.el9_4' } });
  });

  it('reads the same advisory as JSON, and several under `advisories`', () => {
    const one = {
      id: 'DSA-5710-1',
      packages: [{ name: 'libc6', fixed: { debian: '2.36-9+deb12u7' } }],
    };
    assert.deepEqual(parseAdvisoryFile(JSON.stringify(one), 'a.json'), [one]);
    const many = { advisories: [one, { ...one, id: 'CVE-2023-4911' }] };
    assert.deepEqual(
      parseAdvisoryFile(JSON.stringify(many), 'a.json').map((a) => a.id),
      ['DSA-5710-1', 'CVE-2023-4911'],
    );
  });

  const bad: [string, string, RegExp][] = [
    ['syntax', 'id = "CVE-1\n[[packages]\n', /^x\.toml:\d+: invalid TOML: /],
    [
      'json syntax',
      '{"id": "CVE-1",\n "packages": [}',
      /^x\.json(?::2)?: invalid JSON: not a JSON document;/,
    ],
    [
      'bad id',
      'id = "not an id"\n[[packages]]\nname = "a"\nfixed = { debian = "1" }\n',
      /^x\.toml:1: id: is not an advisory id/,
    ],
    [
      'bad version, line of the second package',
      'id = "CVE-2024-1"\n[[packages]]\nname = "a"\nfixed = { debian = "1" }\n[[packages]]\nname = "b"\nfixed = { debian = "v1; rm -rf /" }\n',
      /^x\.toml:7: packages\[1\]\.fixed\.debian: is not a package version/,
    ],
    ['no packages', 'id = "CVE-2024-1"\npackages = []\n', /packages: names no package/],
    [
      'unknown key',
      'id = "CVE-2024-1"\nfixd = 1\n[[packages]]\nname = "a"\nfixed = { any = "1" }\n',
      /fixd: unknown key/,
    ],
    [
      'empty fixed',
      'id = "CVE-2024-1"\n[[packages]]\nname = "a"\nfixed = {}\n',
      /fixed: names no fixed version/,
    ],
  ];
  for (const [name, text, re] of bad) {
    it(`refuses ${name} in one line`, () => {
      const path = text.startsWith('{') ? 'x.json' : 'x.toml';
      assert.throws(
        () => parseAdvisoryFile(text, path),
        (e: Error) => e.name === 'UserError' && re.test(e.message) && !e.message.includes('\n'),
      );
    });
  }
});

describe('--fixed', () => {
  it('parses PACKAGE=VERSION for any distribution', () => {
    const p = parseFixedOption('openssl=3.0.13-1~deb12u1');
    assert.deepEqual(p, { name: 'openssl', fixed: { any: '3.0.13-1~deb12u1' } });
    assert.equal(advisoryFromFixed([p]).packages.length, 1);
    assert.deepEqual(parseFixedOption('libssl3:amd64=1:3.0').fixed, { any: '1:3.0' });
  });
  for (const arg of [
    'openssl',
    '=1.0',
    'openssl=',
    'open ssl=1',
    'openssl=abc',
    `x=${'1'.repeat(200)}`,
  ]) {
    it(`refuses ${JSON.stringify(arg).slice(0, 30)}`, () => {
      assert.throws(
        () => parseFixedOption(arg),
        (e: Error) => e.name === 'UserError' && /^--fixed /.test(e.message),
      );
    });
  }
});

describe('fixed version for a host', () => {
  it('takes the host ID, then ID_LIKE, then any', () => {
    const [a] = parseAdvisoryFile(TOML, 'x.toml');
    const pkg = a?.packages[0];
    assert.ok(pkg);
    const ubuntu = familiesFromOsRelease('NAME="Ubuntu"\nID=ubuntu\nID_LIKE=debian\n');
    assert.deepEqual(ubuntu, ['ubuntu', 'debian']);
    assert.equal(fixedVersionFor(pkg, ubuntu), '3.0.13-0ubuntu3.2');
    assert.equal(
      fixedVersionFor(pkg, familiesFromOsRelease('ID=raspbian\nID_LIKE="debian"\n')),
      '3.0.14-1~deb12u1',
    );
    assert.equal(fixedVersionFor(pkg, ['rhel']), null);
    assert.equal(fixedVersionFor({ name: 'x', fixed: { any: '2' } }, ['rhel']), '2');
  });
});
