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
import {
  chmodSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CLI, cliForAnyUser } from '../../harness/cli.ts';
import { FAKE_INIT, FAKE_STALE_SSHD, makeProcTree, mapsLine } from '../helpers/fakeproc.ts';
import { moduleFiles, PUPPET_MODULE, puppetArgs, puppetSkipReason } from '../helpers/puppet.ts';

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
  opts: { env?: Record<string, string>; uid?: number | undefined } = {},
): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      {
        timeout: 120_000,
        env: { PATH: '/usr/bin:/bin:/usr/sbin:/sbin', LANG: 'C.UTF-8', ...opts.env },
        uid: opts.uid,
        gid: opts.uid,
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
      ...puppetArgs(dir),
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
  let many: ReturnType<typeof makeProcTree>;
  let gap: ReturnType<typeof makeProcTree>;
  let dir: string;
  // A copy in the test's own world-readable directory: the checkout may be private (a clone
  // into `mktemp -d` is 0700) and one case runs facter as nobody.
  let FACTERLIB: string;

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
      uid,
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
    FACTERLIB = join(dir, 'facter');
    cpSync(join(PUPPET_MODULE, 'lib', 'facter'), FACTERLIB, { recursive: true });
    chmodSync(fx.root, 0o755);
    const root = join(dir, 'root');
    mkdirSync(join(root, 'run'), { recursive: true });
    // The machine's package database, for a CLI that reads it below --root (check --json).
    mkdirSync(join(root, 'var', 'lib'), { recursive: true });
    symlinkSync('/var/lib/dpkg', join(root, 'var', 'lib', 'dpkg'));
    writeFileSync(join(root, 'run', 'reboot-required'), '');
    writeFileSync(join(root, 'run', 'reboot-required.pkgs'), 'linux-image-6.1.0-28-amd64\n');
    mkdirSync(join(fx.root, 'sys/kernel'), { recursive: true });
    writeFileSync(join(fx.root, 'sys/kernel/osrelease'), '6.1.0-28-amd64\n');
    writeFileSync(join(fx.root, 'sys/kernel/version'), '#1 SMP PREEMPT_DYNAMIC Debian 6.1.119-1\n');
    const cliOn = (name: string, procRoot: string) =>
      wrapper(
        name,
        [
          `case "$1" in check|reboot-required) set -- "$@" --root ${root};; esac`,
          `exec ${process.execPath} ${cliForAnyUser()} "$@" --proc-root ${procRoot}`,
        ].join('\n'),
      );
    cliOn('fixture-cli', fx.root);
    // A process whose maps nobody may read (mode 000): access denied to nobody, and to root once
    // its CLI runs under setpriv without the DAC capabilities — the stand-in for a process even
    // root cannot read (a refused or failed read is partial for root too). With CAP_SYS_PTRACE
    // that is a note; without it, a gap.
    gap = makeProcTree({ 1: FAKE_INIT, 10: FAKE_STALE_SSHD, 30: { name: 'odd', maps: '' } });
    chmodSync(gap.root, 0o755);
    chmodSync(join(gap.root, '30', 'maps'), 0o000);
    cliOn('gap-cli', gap.root);
    const gapCli = (name: string, drop: string) =>
      wrapper(
        name,
        [
          `case "$1" in check|reboot-required) set -- "$@" --root ${root};; esac`,
          `exec setpriv --bounding-set ${drop} -- ${process.execPath} ${cliForAnyUser()} "$@" --proc-root ${gap.root}`,
        ].join('\n'),
      );
    gapCli('gap-nodac-cli', '-dac_override,-dac_read_search');
    gapCli('gap-noptrace-cli', '-dac_override,-dac_read_search,-sys_ptrace');
    // 60 stale units: more than the fact keeps in a list.
    many = makeProcTree(
      Object.fromEntries([
        [1, FAKE_INIT],
        ...Array.from({ length: 60 }, (_, i) => [
          100 + i,
          {
            ...FAKE_STALE_SSHD,
            cgroup: `0::/system.slice/svc${String(i).padStart(2, '0')}.service\n`,
          },
        ]),
      ]),
    );
    cliOn('many-cli', many.root);
  });
  after(() => {
    fx?.cleanup();
    many?.cleanup();
    gap?.cleanup();
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
    assert.deepEqual(old, { error: 'unexpected output (not afterpatch-health JSON)' });

    const hostile = await fact(
      wrapper('hostile-cli', `printf 'afterpatch: \\033]52;c;AAAA\\007 bad\\n' >&2\nexit 2`),
    );
    assert.equal(hostile.error, 'afterpatch: \\x1b]52;c;AAAA\\x07 bad');
  });

  it('keeps at most 50 entries a list, with the full count', {
    skip: !isRoot && 'needs root',
  }, async () => {
    const f = await fact(join(dir, 'many-cli'));
    assert.equal(f.error, undefined, JSON.stringify(f));
    assert.equal((f.units as string[]).length, 50);
    assert.equal((f.units as string[])[0], 'svc00.service');
    assert.equal(f.units_count, 60);
    assert.equal(f.truncated, true);
  });

  it('is an error when root ran without CAP_SYS_PTRACE and could not read a process (was: a clean-looking fact)', {
    skip: !isRoot && 'needs root (setpriv drops a capability root has)',
  }, async () => {
    const f = await fact(join(dir, 'gap-noptrace-cli'));
    assert.match(String(f.error), /without CAP_SYS_PTRACE: the scan is partial/);
    assert.equal(f.needs_restart, undefined);
    // With the capability the same unreadable process is a note: the fact answers.
    const full = await fact(join(dir, 'gap-nodac-cli'));
    assert.equal(full.error, undefined, JSON.stringify(full));
    assert.equal(full.needs_restart, true);
  });

  it('is an error when the scan ran without root (partial)', {
    skip: !isRoot && 'needs root to switch to nobody',
  }, async () => {
    // A process nobody cannot read (mode 000): the scan's own rule, as for scan's exit 3.
    const f = await fact(join(dir, 'gap-cli'), NOBODY);
    assert.match(String(f.error), /without root: the scan is partial/);
    assert.equal(f.needs_restart, undefined);
  });
});

// The exit-status mapping of afterpatch_restart (restart_after's type and provider) with every
// status and report afterpatch can give. A real restart happens in puppet.integration.test.ts; here
// the CLI is a stand-in script (restarting anything on this machine is not an option) that
// records its argument vector and answers with a given status, standard output and error.
describe('afterpatch_restart: exit status → Puppet outcome (puppet apply, stand-in CLIs)', {
  skip,
}, () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'afterpatch-puppet-restart-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const report = (plan: unknown[], results: unknown[]) =>
    JSON.stringify({
      format: 'afterpatch-restart',
      formatVersion: 1,
      dryRun: false,
      plan,
      results,
    });
  /** Applies `notify ~> afterpatch_restart` with a CLI that exits `code` printing `stdout`/`stderr`. */
  const applyWith = async (
    name: string,
    code: number,
    stdout: string,
    stderr = '',
    params = '',
  ) => {
    const cli = join(dir, `${name}-cli`);
    writeFileSync(join(dir, `${name}.out`), stdout);
    writeFileSync(join(dir, `${name}.err`), stderr);
    writeFileSync(
      cli,
      `#!/bin/sh\nprintf '%s\\n' "$@" > ${dir}/${name}.args\ncat ${dir}/${name}.out\ncat ${dir}/${name}.err >&2\nexit ${code}\n`,
    );
    chmodSync(cli, 0o755);
    const manifest = `notify { 'package changed': } ~> afterpatch_restart { 'libc6': cli => '${cli}', ${params} }`;
    const r = await run('puppet', [
      'apply',
      '--detailed-exitcodes',
      ...puppetArgs(join(dir, 'p')),
      '-e',
      manifest,
    ]);
    let args: string[] = [];
    try {
      args = readFileSync(join(dir, `${name}.args`), 'utf8')
        .split('\n')
        .slice(0, -1);
    } catch {}
    return { ...r, args };
  };
  const verified = report([], [{ unit: 'nginx.service', outcome: 'verified' }]);

  it('runs restart --yes --json --package NAME as an argument vector, and 0 is a notice', async () => {
    const r = await applyWith(
      'ok',
      0,
      verified,
      '',
      `lib => 'a b;$(touch ${dir}/pwned)', units => ['x*.service']`,
    );
    assert.deepEqual(r.args, [
      'restart',
      '--yes',
      '--json',
      '--package',
      'libc6',
      '--lib',
      `a b;$(touch ${dir}/pwned)`,
      '--unit',
      'x*.service',
    ]);
    assert.equal(r.code, 2, r.stdout + r.stderr); // changes, no failure
    assert.throws(() => readFileSync(join(dir, 'pwned')), /ENOENT/, 'no shell ran the arguments');
    assert.match(
      r.stdout,
      /Notice: .*afterpatch restart --package libc6: 1 restarted and verified \(nginx\.service\)/,
    );
    assert.match(r.stdout, /Triggered 'refresh' from 1 event/);
  });

  it('does nothing without an event', async () => {
    const cli = join(dir, 'never-run');
    const r = await run('puppet', [
      'apply',
      '--detailed-exitcodes',
      ...puppetArgs(join(dir, 'p')),
      '-e',
      `afterpatch_restart { 'libc6': cli => '${cli}' }`,
    ]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
  });

  it('refuses a package name that would read as an option', async () => {
    const r = await run('puppet', [
      'apply',
      ...puppetArgs(join(dir, 'p')),
      '-e',
      `afterpatch::restart_after { '--force': cli => '${dir}/never-run' }`,
    ]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /parameter 'package' expects .*Pattern/);
  });

  it('1 (needs a human) is a warning per entry, escaped, and the run does not fail', async () => {
    const plan = [
      {
        key: 'ssh.service',
        unit: 'ssh.service',
        action: 'skip',
        reason: 'listed in restart.never',
        needsHuman: true,
      },
      {
        key: 'session-4',
        unit: null,
        action: 'advise',
        reason: 'log out\u001b[2J',
        needsHuman: true,
      },
      {
        key: 'cron.service',
        unit: 'cron.service',
        action: 'restart',
        reason: 'maps libc',
        needsHuman: false,
      },
    ];
    const r = await applyWith(
      'human',
      1,
      report(plan, [{ unit: 'cron.service', outcome: 'verified' }]),
    );
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(
      r.stderr,
      /Warning: .*needs a human: ssh\.service \(skip: listed in restart\.never\)/,
    );
    assert.match(r.stderr, /Warning: .*needs a human: session-4 \(advise: log out\\x1b\[2J\)/);
    assert.ok(!`${r.stdout}${r.stderr}`.includes('\u001b[2J'));
    assert.match(r.stdout, /1 restarted and verified \(cron\.service\)/);
  });

  it('2 (failed, still stale, timeout) fails the resource with afterpatch’s message', async () => {
    const results = [
      {
        unit: 'nginx.service',
        outcome: 'failed',
        message: 'Job for nginx.service failed',
        stalePids: [],
      },
      { unit: 'php.service', outcome: 'still-stale', stalePids: [{ pid: 42, files: [] }] },
      { unit: 'cron.service', outcome: 'verified' },
    ];
    const r = await applyWith('failed', 2, report([], results));
    assert.equal(r.code & 4, 4, r.stdout + r.stderr);
    assert.match(
      r.stderr,
      /Failed to call refresh: afterpatch restart --package libc6 failed: nginx\.service failed: Job for nginx\.service failed; php\.service still-stale \(PIDs 42\)/,
    );
  });

  it('3, an unreadable report, a missing CLI: the resource fails, never a clean notice', async () => {
    const usage = await applyWith(
      'usage',
      3,
      '',
      'afterpatch: another afterpatch restart holds /var/lib/afterpatch/lock (PID 7); try again later\n',
    );
    assert.equal(usage.code & 4, 4);
    assert.match(
      usage.stderr,
      /afterpatch restart --package libc6: afterpatch: another afterpatch restart holds/,
    );
    const garbage = await applyWith('garbage', 0, 'not json');
    assert.equal(garbage.code & 4, 4, garbage.stdout + garbage.stderr);
    assert.match(garbage.stderr, /exit 0 but its JSON report could not be read/);
    const missing = await run('puppet', [
      'apply',
      '--detailed-exitcodes',
      ...puppetArgs(join(dir, 'p')),
      '-e',
      `notify { 'x': } ~> afterpatch_restart { 'libc6': cli => '${dir}/missing' }`,
    ]);
    assert.equal(missing.code & 4, 4);
    assert.match(missing.stderr, /cannot run .*missing/);
  });
});
