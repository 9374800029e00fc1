// The Puppet module's files (integrations/puppet/afterpatch) with Debian's Puppet 7 tools, on
// the machine (nothing is applied): `puppet parser validate`, `puppet-lint`, `ruby -c`,
// metadata.json, the TOML the class writes (afterpatch::to_toml, through `puppet apply` of a
// `notice`), and the fact through real `facter` against the real CLI: a fixture /proc with a
// stale unit, and every way it must fail closed (no CLI, a CLI that errors or prints something
// else, a scan without root) — `{ error => … }`, never a clean answer, never a failed run.
//
// Needs puppet-agent, puppet-lint and `npm run build`; skips with the reason otherwise.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CLI, cliForAnyUser } from '../helpers/cli.ts';
import { FAKE_INIT, FAKE_STALE_SSHD, makeProcTree, mapsLine } from '../helpers/fakeproc.ts';
import {
  moduleFiles,
  PUPPET_MODULE,
  PUPPET_MODULEPATH,
  puppetSkipReason,
} from '../helpers/puppet.ts';

const skip = puppetSkipReason();
const isRoot = process.geteuid?.() === 0;
const NOBODY = 65534;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(
  file: string,
  args: readonly string[],
  opts: { env?: Record<string, string>; uid?: number } = {},
): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      {
        timeout: 120_000,
        env: { PATH: '/usr/bin:/bin:/usr/sbin:/sbin', LANG: 'C.UTF-8', ...opts.env },
        ...(opts.uid === undefined ? {} : { uid: opts.uid, gid: opts.uid }),
      },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 127) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

describe('Puppet module afterpatch: static checks', { skip }, () => {
  it('passes puppet parser validate and puppet-lint', async () => {
    const pp = moduleFiles('.pp');
    assert.ok(pp.length >= 6, pp.join(' '));
    const parse = await run('puppet', ['parser', 'validate', ...pp]);
    assert.equal(parse.code, 0, parse.stdout + parse.stderr);
    const lint = await run('puppet-lint', ['--fail-on-warnings', ...pp]);
    assert.equal(lint.code, 0, lint.stdout + lint.stderr);
  });

  it('has Ruby that parses, and metadata.json with the release version', async () => {
    const rb = moduleFiles('.rb');
    assert.deepEqual(
      rb.map((f) => f.slice(PUPPET_MODULE.length + 1)),
      [
        'lib/facter/afterpatch.rb',
        'lib/puppet/functions/afterpatch/to_toml.rb',
        'lib/puppet/provider/afterpatch_restart/cli.rb',
        'lib/puppet/type/afterpatch_restart.rb',
      ],
    );
    for (const f of rb) {
      const r = await run('ruby', ['-wc', f]);
      assert.equal(r.code, 0, `${f}: ${r.stderr}`);
      assert.equal(r.stderr, '', `${f}: warnings: ${r.stderr}`);
    }
    const meta = JSON.parse(readFileSync(join(PUPPET_MODULE, 'metadata.json'), 'utf8'));
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    assert.equal(meta.name, 'afterpatch-afterpatch');
    assert.equal(meta.version, pkg.version);
    assert.equal(meta.license, pkg.license);
    for (const k of ['author', 'summary', 'source', 'dependencies', 'requirements']) {
      assert.ok(k in meta, `metadata.json lacks ${k}`);
    }
  });
});

describe('afterpatch::to_toml (what the class writes)', { skip }, () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'afterpatch-puppet-toml-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  const render = (hash: string) =>
    run('puppet', [
      'apply',
      '--modulepath',
      PUPPET_MODULEPATH,
      ...['confdir', 'codedir', 'vardir', 'logdir', 'publicdir'].flatMap((d) => [
        `--${d}`,
        join(dir, d),
      ]),
      '--color',
      'false',
      '-e',
      `notice(String(Binary.new(afterpatch::to_toml(${hash}), '%r')))`,
    ]);
  const rendered = (r: Run) => {
    const m = /Notice: Scope\(Class\[main\]\): (\S+)/.exec(r.stdout);
    assert.ok(m?.[1], r.stdout + r.stderr);
    return Buffer.from(m[1], 'base64').toString('utf8');
  };

  it('writes tables and keys sorted, values as TOML, and afterpatch reads it back', async () => {
    const r = await render(
      `{ 'restart' => { 'only' => [], 'jobs' => 4, 'never' => ['a"b*.service', 'foo\\x2dbar.service'] }, 'scan' => { 'interpreted' => false, 'odd key' => { 'x' => 1.5 } } }`,
    );
    const text = rendered(r);
    assert.equal(
      text,
      [
        '# Managed by Puppet (class afterpatch). afterpatch configuration: docs/configuration.md',
        '',
        '[restart]',
        'jobs = 4',
        'never = ["a\\"b*.service", "foo\\\\x2dbar.service"]',
        'only = []',
        '',
        '[scan]',
        'interpreted = false',
        '"odd key" = { x = 1.5 }',
        '',
      ].join('\n'),
    );
    // The same text without the key afterpatch does not know is a valid configuration.
    const file = join(dir, 'afterpatch.toml');
    writeFileSync(file, text.replace('"odd key" = { x = 1.5 }\n', ''));
    const check = await run(process.execPath, [CLI, 'config', file]);
    assert.equal(check.code, 0, check.stderr);
    assert.match(check.stdout, /^never = \["a\\"b\*\.service", "foo\\\\x2dbar\.service"\]$/m);
  });

  it('refuses an undef value with the key’s name (TOML has no null)', async () => {
    const r = await render(`{ 'restart' => { 'jobs' => undef } }`);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /restart\.jobs is undef; TOML has no null value/);
  });
});

describe('fact afterpatch (facter with the module’s lib/facter, the real CLI)', { skip }, () => {
  let fx: ReturnType<typeof makeProcTree>;
  let dir: string;
  const FACTERLIB = join(PUPPET_MODULE, 'lib', 'facter');

  /** A CLI wrapper: the built bundle reading the fixture /proc (and root) instead of the host's. */
  const wrapper = (name: string, body: string) => {
    const p = join(dir, name);
    writeFileSync(p, `#!/bin/sh\n${body}\n`);
    chmodSync(p, 0o755);
    return p;
  };
  const fact = async (cli: string, uid?: number) => {
    const r = await run('facter', ['--json', 'afterpatch'], {
      env: { FACTERLIB, AFTERPATCH_CLI: cli, HOME: dir },
      ...(uid === undefined ? {} : { uid }),
    });
    assert.equal(r.code, 0, `facter never fails because of this fact: ${r.stdout}${r.stderr}`);
    return (JSON.parse(r.stdout) as { afterpatch: Record<string, unknown> }).afterpatch;
  };

  before(() => {
    fx = makeProcTree({
      1: FAKE_INIT,
      10: FAKE_STALE_SSHD,
      20: {
        name: 'bash',
        maps: [
          mapsLine('/usr/bin/bash'),
          mapsLine('/usr/lib/x86_64-linux-gnu/libc.so.6', { deleted: true, addr: 0x7f6000 }),
        ].join('\n'),
        cgroup: '0::/user.slice/user-1000.slice/session-4.scope\n',
        uid: 1000,
      },
    });
    dir = mkdtempSync(join(tmpdir(), 'afterpatch-puppet-fact-'));
    chmodSync(dir, 0o755);
    chmodSync(fx.root, 0o755);
    const root = join(dir, 'root');
    mkdirSync(join(root, 'run'), { recursive: true });
    writeFileSync(join(root, 'run', 'reboot-required'), '');
    writeFileSync(join(root, 'run', 'reboot-required.pkgs'), 'linux-image-6.1.0-28-amd64\n');
    mkdirSync(join(fx.root, 'sys/kernel'), { recursive: true });
    writeFileSync(join(fx.root, 'sys/kernel/osrelease'), '6.1.0-28-amd64\n');
    writeFileSync(join(fx.root, 'sys/kernel/version'), '#1 SMP PREEMPT_DYNAMIC Debian 6.1.119-1\n');
    wrapper(
      'fixture-cli',
      [
        `case "$1" in reboot-required) set -- "$@" --root ${root};; esac`,
        `exec ${process.execPath} ${cliForAnyUser()} "$@" --proc-root ${fx.root}`,
      ].join('\n'),
    );
  });
  after(() => {
    fx?.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('reports the stale unit, session, packages and reboot reasons', {
    skip: !isRoot && 'needs root',
  }, async () => {
    const f = await fact(join(dir, 'fixture-cli'));
    assert.equal(f.error, undefined, JSON.stringify(f));
    assert.equal(f.needs_restart, true);
    assert.equal(f.needs_reboot, true);
    assert.deepEqual(f.units, ['ssh.service']);
    assert.deepEqual(f.sessions, ['4']);
    assert.deepEqual(f.containers, []);
    // The packages that own the replaced files now (dpkg's database of this machine).
    assert.deepEqual(f.packages, ['libc6']);
    assert.equal(f.processes, 2);
    assert.equal((f.reboot_reasons as string[]).length, 1);
    assert.match(String(f.reboot_reasons), /\/run\/reboot-required linux-image-6\.1\.0-28-amd64$/);
    assert.equal(f.truncated, false);
    assert.equal(
      f.version,
      JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version,
    );
  });

  it('is an error, not an answer, when the CLI is missing, fails, prints something else, or scans without root', async () => {
    const missing = await fact(join(dir, 'no-such-afterpatch'));
    assert.match(String(missing.error), /^cannot run .*no-such-afterpatch/);
    assert.equal(missing.needs_restart, undefined);

    const failing = await fact(
      wrapper('failing-cli', `echo 'afterpatch: /proc is not readable; run on Linux' >&2\nexit 2`),
    );
    assert.deepEqual(failing, { error: 'afterpatch: /proc is not readable; run on Linux' });

    const old = await fact(wrapper('old-cli', `echo '{"format":"something-else"}'\nexit 0`));
    assert.deepEqual(old, { error: 'unexpected output (not afterpatch-scan JSON)' });

    const hostile = await fact(
      wrapper('hostile-cli', `printf 'afterpatch: \\033]52;c;AAAA\\007 bad\\n' >&2\nexit 2`),
    );
    assert.equal(hostile.error, 'afterpatch: \\x1b]52;c;AAAA\\x07 bad');
  });

  it('is an error when the scan ran without root (partial)', {
    skip: !isRoot && 'needs root to switch to nobody',
  }, async () => {
    const f = await fact(join(dir, 'fixture-cli'), NOBODY);
    assert.match(String(f.error), /without root: the scan is partial/);
    assert.equal(f.needs_restart, undefined);
  });
});
