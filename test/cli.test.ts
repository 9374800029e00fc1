import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CLI, runCli } from '../harness/cli.ts';
import { FAKE_INIT, FAKE_STALE_SSHD, makeProcTree, mapsLine } from './helpers/fakeproc.ts';
import { validateScanJson } from './helpers/schema.ts';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));

describe('afterpatch CLI', () => {
  let fx: ReturnType<typeof makeProcTree>;
  before(() => {
    fx = makeProcTree({
      1: FAKE_INIT,
      10: FAKE_STALE_SSHD,
      11: {
        name: 'jit',
        maps: [
          mapsLine('/usr/bin/jit'),
          mapsLine('/memfd:x', { deleted: true, addr: 0x7f5000 }),
        ].join('\n'),
        cgroup: '0::/system.slice/jit.service\n',
      },
    });
  });
  after(() => fx.cleanup());
  const scanArgs = (...a: string[]) => ['scan', '--proc-root', fx.root, '--no-packages', ...a];

  it('prints its version', async () => {
    const r = await runCli(['--version']);
    assert.equal(r.code, 0);
    assert.equal(r.stdout.trim(), pkg.version);
  });

  it('documents exit codes in --help', async () => {
    const r = await runCli(['scan', '--help']);
    assert.equal(r.code, 0);
    assert.match(
      r.stdout,
      /Exit status: 0 nothing stale, 1 stale code found \(or an advisory not clean, or with --reboot a reboot required\), 2 error \(also: no process to read, a --pid of no process\), 3 nothing stale found but some processes could not be read: without root or CAP_SYS_PTRACE, or for a read error such as EMFILE/,
    );
    assert.match(r.stdout, /memfd/);
  });

  it('writes JSON that validates against the documented schema and exits 1', async () => {
    const r = await runCli(scanArgs('--json'));
    assert.equal(r.code, 1, r.stderr);
    const doc = JSON.parse(r.stdout);
    validateScanJson(doc);
    assert.deepEqual(
      doc.entries.map((e: { key: string }) => e.key),
      ['system-unit:ssh.service'],
    );
  });

  it('validates the --all JSON too', async () => {
    const r = await runCli(scanArgs('--json', '--all'));
    const doc = JSON.parse(r.stdout);
    validateScanJson(doc);
    assert.equal(doc.processes.find((p: { pid: number }) => p.pid === 11).ignored[0].rule, 'memfd');
  });

  it('prints a plain table without colour when not on a terminal', async () => {
    const r = await runCli(scanArgs());
    assert.equal(r.code, 1);
    assert.match(r.stdout, /^UNIT\s+KIND\s+PIDS/);
    assert.match(
      r.stdout,
      /ssh\.service\s+unit\s+10\s+sshd\s+\/usr\/lib\/libcrypto\.so\.3\s+not packaged\s+systemctl restart ssh\.service/,
    );
    assert.ok(!r.stdout.includes('\u001b['), 'no ANSI escapes');
  });

  it('is silent with -q and exits 0 when the filter leaves nothing', async () => {
    const stale = await runCli(scanArgs('-q'));
    assert.deepEqual([stale.code, stale.stdout], [1, '']);
    const clean = await runCli(scanArgs('-q', '--lib', 'libssl'));
    assert.deepEqual([clean.code, clean.stdout], [0, '']);
  });

  const bad: [string, string[], RegExp][] = [
    [
      'an invalid regular expression',
      ['--lib', '(unclosed'],
      /--lib "\(unclosed" is not a valid regular expression/,
    ],
    ['a PID that is not a number', ['--pid', 'abc'], /expected a process ID/],
    ['an unknown noise rule', ['--include', 'bogus'], /unknown noise rule "bogus" for --include/],
    ['an unknown option', ['--bogus'], /unknown option '--bogus'/],
    ['a bad format', ['--format', 'xml'], /Allowed choices are text, json/],
  ];
  for (const [what, args, message] of bad) {
    it(`rejects ${what} with one clear line and exit 2`, async () => {
      const r = await runCli(scanArgs(...args));
      assert.equal(r.code, 2);
      assert.match(r.stderr, message);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
      assert.equal(r.stdout, '');
    });
  }

  it('refuses a broken configuration file before scanning', async () => {
    const file = join(fx.root, 'bad.toml');
    writeFileSync(file, '[restart]\njobs = -1\n');
    const r = await runCli(scanArgs('--config', file));
    assert.equal(r.code, 2);
    assert.equal(
      r.stderr,
      `afterpatch: ${file}:2: restart.jobs: must be at least 1; fix the file or pass --config.\n`,
    );
    assert.equal(r.stdout, '');
  });

  it('applies ignore rules from the configuration', async () => {
    const file = join(fx.root, 'ignore.toml');
    writeFileSync(file, '[scan]\nignore_processes = ["^sshd$"]\n');
    const r = await runCli(scanArgs('--config', file, '--json'));
    assert.equal(r.code, 0);
    assert.deepEqual(JSON.parse(r.stdout).entries, []);
  });

  it('stops quietly with the scan verdict when the reader closes the pipe early', async () => {
    const stale = (pid: number) => ({
      name: `w${pid}`,
      maps: [
        mapsLine('/usr/bin/w'),
        mapsLine('/usr/lib/libw.so.1', { deleted: true, addr: 0x7f6000 }),
      ].join('\n'),
      cgroup: '0::/system.slice/w.service\n',
    });
    const many = makeProcTree(
      Object.fromEntries(Array.from({ length: 400 }, (_, i) => [1000 + i, stale(1000 + i)])),
    );
    try {
      const child = spawn(
        process.execPath,
        [CLI, 'scan', '--json', '--proc-root', many.root, '--no-packages'],
        {
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let stderr = '';
      child.stderr.on('data', (d) => {
        stderr += d;
      });
      child.stdout.once('data', () => child.stdout.destroy()); // like `| head -c 100`
      const code = await new Promise<number | null>((r) => child.once('exit', r));
      assert.equal(stderr, '');
      assert.equal(code, 1, 'the verdict (stale found), not a crash');
    } finally {
      many.cleanup();
    }
  });

  it('fails cleanly on an unreadable /proc', async () => {
    const r = await runCli(['scan', '--proc-root', '/nonexistent/proc']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^afterpatch: /);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  });
});
