import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CLI, type RunResult, runCli } from '../../harness/cli.ts';
import { PYTHON3 as PYTHON } from '../helpers/python.ts';

const T1 = '2026-01-01T00:00:00.000Z';
const scan = (host: string, stale: boolean) => ({
  format: 'afterpatch-scan',
  formatVersion: 1,
  hostname: host,
  time: T1,
  asRoot: true,
  partial: false,
  summary: { unreadable: 0 },
  entries: stale
    ? [
        {
          type: 'system-unit',
          key: 'system-unit:nginx.service',
          unit: 'nginx.service',
          severity: 'code',
          files: [{ kind: 'code', package: { name: 'libssl3' } }],
        },
      ]
    : [],
});
const reboot = {
  format: 'afterpatch-reboot',
  formatVersion: 1,
  required: true,
  reasons: [{ type: 'sentinel', file: '/run/reboot-required', packages: ['linux-image'] }],
  notes: [],
};

const withStdin = (args: string[], input: string): Promise<RunResult> => runCli(args, { input });

describe('afterpatch report', () => {
  let dir: string;
  const f = (name: string) => join(dir, name);
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'afterpatch-report-'));
    writeFileSync(f('web1.json'), JSON.stringify(scan('web1', true), null, 2));
    writeFileSync(f('web2.json'), JSON.stringify(scan('web2', false)));
    writeFileSync(f('db1'), JSON.stringify(reboot)); // ansible --tree names files by host
    writeFileSync(
      f('clean.jsonl'),
      `${JSON.stringify(scan('a', false))}\n${JSON.stringify({ host: 'b', scan: scan('b', false) })}\n`,
    );
    writeFileSync(f('bad.jsonl'), `${JSON.stringify(scan('a', false))}\n{not json\n`);
    writeFileSync(f('weird.json'), '{"hello": "world"}');
    writeFileSync(f('empty-array.json'), '[]\n');
    execFileSync('mkfifo', [f('fifo')]);
    symlinkSync('/dev/zero', f('zero.json'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('merges files into a table and exits 1 when a host needs work', async () => {
    const r = await runCli(['report', f('web1.json'), f('web2.json'), f('db1')]);
    assert.equal(r.code, 1, r.stderr);
    // db1 has only a reboot verdict: no scan, so unknown (never clean).
    assert.match(
      r.stdout,
      /^3 hosts: 1 need a restart, 1 need a reboot, 0 failed, 1 unknown \(no scan, a partial one, or an unknown reboot verdict\), 1 clean\./,
    );
    assert.match(r.stdout, /Need a restart \(1\)\n\s+web1\s+nginx\.service/);
    assert.match(
      r.stdout,
      /Need a reboot \(1\)\n\s+db1\s+\/run\/reboot-required exists \(packages: linux-image\)/,
    );
    assert.match(r.stdout, /Clean \(1\)\n\s+web2/);
    assert.match(r.stdout, /Units by hosts\n\s+1\s+nginx\.service\s+web1/);
    assert.match(r.stdout, /Packages by hosts\n\s+1\s+libssl3\s+web1/);
  });

  it('writes versioned JSON', async () => {
    const r = await runCli(['report', '--json', f('web1.json'), f('web2.json')]);
    assert.equal(r.code, 1, r.stderr);
    const doc = JSON.parse(r.stdout);
    assert.equal(doc.format, 'afterpatch-fleet');
    assert.equal(doc.formatVersion, 1);
    assert.deepEqual(doc.summary, {
      hosts: 2,
      needRestart: 1,
      needReboot: 0,
      failed: 0,
      unknown: 0,
      clean: 1,
    });
    assert.deepEqual(doc.units, [{ name: 'nginx.service', hosts: 1, hostnames: ['web1'] }]);
  });

  it('exits 0 when every host is clean (JSON Lines)', async () => {
    const r = await runCli(['report', f('clean.jsonl')]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /2 hosts: 0 need a restart, 0 need a reboot, 0 failed, 2 clean\./);
  });

  it('reads standard input, with no file or with -', async () => {
    const input = `${JSON.stringify([scan('x', false), scan('y', true)])}\n`;
    for (const args of [
      ['report', '--json'],
      ['report', '--json', '-'],
    ]) {
      const r = await withStdin(args, input);
      assert.equal(r.code, 1, r.stderr);
      assert.equal(JSON.parse(r.stdout).summary.hosts, 2);
    }
  });

  it('bad input: one line naming the file (and line), exit 2', async () => {
    const cases: [string[], RegExp][] = [
      [[f('bad.jsonl')], /^afterpatch: .*bad\.jsonl:2: not valid JSON/],
      [[f('weird.json')], /^afterpatch: .*weird\.json: not an afterpatch document/],
      [[f('missing.json')], /^afterpatch: .*missing\.json: cannot read \(ENOENT\)/],
      // Issue 17: no host is no verdict (was: exit 0, "0 clean"); what is not a regular file is
      // refused, never waited on (a FIFO without a writer, /dev/zero through a symlink hung).
      [[f('empty-array.json')], /^afterpatch: no host in the input/],
      [
        [f('fifo')],
        /^afterpatch: .*fifo: cannot read \(not a regular file; for a pipe, give - and feed it on standard input\)/,
      ],
      [
        [f('zero.json')],
        /^afterpatch: .*zero\.json: cannot read \(not a regular file; for a pipe, give - and feed it on standard input\)/,
      ],
    ];
    for (const [files, re] of cases) {
      const r = await runCli(['report', ...files]);
      assert.equal(r.code, 2, r.stdout);
      assert.match(r.stderr, re);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.equal(r.stdout, '');
    }
    const s = await withStdin(
      ['report'],
      `${JSON.stringify({ format: 'afterpatch-reboot', formatVersion: 1, required: false })}\n`,
    );
    assert.equal(s.code, 2);
    assert.match(s.stderr, /\(stdin\): afterpatch-reboot document without a host name/);
  });

  it('a host without a usable result is an input error, never clean (issue 11.5)', async () => {
    const whole = { asRoot: true, summary: { unreadable: 0 } };
    const real = { dryRun: false, scan: { unreadable: 0 } };
    const cases: [unknown, RegExp][] = [
      [{ host: 'a', scan: {} }, /"scan" of host a is not a usable result \("asRoot" is missing/],
      [{ host: 'a' }, /host a has no scan, restart or reboot result/],
      [{ host: 'a', scan: { ...whole, entries: 'none' } }, /"entries": /],
      [{ host: 'a', restart: { ...real, plan: [] } }, /"restart" of host a .*"results"/],
      [{ host: 'a', restart: { ...real, plan: [], results: [{}] } }, /"results\.0\.outcome"/],
      [{ host: 'a', reboot: { reasons: [] } }, /"reboot" of host a .*"required"/],
      [
        { format: 'afterpatch-scan', formatVersion: 1, hostname: 'a' },
        /afterpatch-scan document of host a is not usable/,
      ],
      // A partial-scan flag that is not a boolean is refused, never read as "not partial".
      [{ host: 'a', scan: { entries: [], partial: 'no' } }, /"partial": /],
      [
        { format: 'afterpatch-scan', formatVersion: 1, hostname: 'a', entries: [], partial: 1 },
        /afterpatch-scan document of host a is not usable \("partial": /,
      ],
      [
        {
          format: 'afterpatch-reboot',
          formatVersion: 1,
          hostname: 'a',
          required: 'no',
          reasons: [],
        },
        /"required"/,
      ],
    ];
    for (const [doc, re] of cases) {
      const r = await withStdin(['report'], `${JSON.stringify(doc)}\n`);
      assert.equal(r.code, 2, `${JSON.stringify(doc)}: ${r.stdout}`);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /^afterpatch: \(stdin\): /);
      assert.match(r.stderr, re);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
    // In JSON Lines the line is named.
    const lines = `${JSON.stringify(scan('x', false))}\n${JSON.stringify({ host: 'a', scan: {} })}\n`;
    const r = await withStdin(['report'], lines);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^afterpatch: \(stdin\):2: /);
  });

  it('merges reboot-required --json by its hostname (issue 11.14)', async () => {
    const root = f('reboot-root');
    mkdirSync(join(root, 'run'), { recursive: true });
    writeFileSync(join(root, 'run', 'reboot-required'), 'x\n');
    const rb = await runCli(['reboot-required', '--json', '--root', root]);
    assert.equal(rb.code, 1, rb.stderr);
    const doc = JSON.parse(rb.stdout);
    assert.equal(doc.hostname, hostname());
    assert.ok(Math.abs(Date.parse(doc.time) - Date.now()) < 60_000, doc.time);
    const r = await withStdin(['report', '--json'], rb.stdout);
    assert.equal(r.code, 1, r.stderr);
    const view = JSON.parse(r.stdout);
    assert.equal(view.hosts[0].host, hostname());
    assert.equal(view.hosts[0].needsReboot, true);
  });

  it('says it reads standard input when that is a terminal (issue 11.14)', {
    skip: PYTHON === undefined ? 'no python3 for a pty' : false,
  }, async () => {
    // A pty as stdin: the program must say what it waits for; Ctrl-D ends the input.
    const py = [
      'import os, pty, sys, time',
      'pid, fd = pty.fork()',
      'if pid == 0: os.execv(sys.argv[1], sys.argv[1:])',
      'time.sleep(1)',
      "os.write(fd, b'\\x04')",
      "out = b''",
      'while True:',
      '    try: d = os.read(fd, 4096)',
      '    except OSError: break',
      '    if not d: break',
      '    out += d',
      'sys.stdout.write(out.decode())',
    ].join('\n');
    const r = await new Promise<RunResult>((resolve) => {
      execFile(
        PYTHON ?? 'python3',
        ['-c', py, process.execPath, CLI, 'report'],
        { timeout: 30_000 },
        (err, stdout, stderr) => resolve({ code: err ? 1 : 0, stdout, stderr }),
      );
    });
    assert.match(
      r.stdout,
      /^afterpatch: reading host documents from standard input \(end with Ctrl-D\)/,
      r.stdout + r.stderr,
    );
  });
});
