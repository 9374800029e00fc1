// Terminal injection (issue 12.1): every string from the system reaches a terminal escaped, in
// every text output. A table test of the escaping function, then the real CLI over a /proc
// fixture whose names carry OSC/CSI sequences, C1 controls, bidi overrides and lone surrogates.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmdirSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../../harness/cli.ts';
import { TEST_TMP } from '../../harness/stale-lib.ts';
import { MAX_ADVICE_PIDS, suggestAction } from '../../src/grouping/action.ts';
import { formatRestartText } from '../../src/output/restart.ts';
import { PLAIN, printable } from '../../src/output/style.ts';
import type { RestartReport } from '../../src/restart/restart.ts';
import { FAKE_INIT, makeProcTree, mapsLine } from '../helpers/fakeproc.ts';

const ESC = '\x1b';
/** OSC 0 (set the window title) and CSI 2J (clear the screen): the repro. */
const OSC_CSI = `${ESC}]0;PWN\x07${ESC}[2J`;
/** 8-bit CSI (U+009B), the right-to-left override, a line separator, a lone surrogate. */
const C1_BIDI = '\u009b2J\u202eevil\u2028x\ud800';
const HOSTILE = `${OSC_CSI}${C1_BIDI}`;

/**
 * Fails when the output holds a control a terminal acts on: a byte below 0x20 other than the
 * newline, DEL, a C1 code point (U+0080–U+009F, the bytes C2 80–C2 9F in UTF-8), a bidi override
 * or isolate, a line separator, or bytes that are not UTF-8.
 */
function assertTerminalSafe(out: Buffer | string, what: string): void {
  const bytes = typeof out === 'string' ? Buffer.from(out, 'utf8') : out;
  bytes.forEach((b, i) => {
    if ((b < 0x20 && b !== 0x0a) || b === 0x7f) {
      assert.fail(`${what}: byte 0x${b.toString(16)} at ${i}: ${JSON.stringify(String(bytes))}`);
    }
  });
  const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  for (const ch of text) {
    const c = ch.codePointAt(0) ?? 0;
    const bad =
      (c >= 0x80 && c <= 0x9f) ||
      (c >= 0x202a && c <= 0x202e) ||
      (c >= 0x2066 && c <= 0x2069) ||
      c === 0x2028 ||
      c === 0x2029;
    // The message only when it fails: built for each of 65,536 characters it took 40 s.
    if (bad) assert.fail(`${what}: U+${c.toString(16)} in ${JSON.stringify(text)}`);
  }
}

describe('printable: the one escaping function', () => {
  it('escapes every C0 control, DEL and every C1 control as \\xNN', () => {
    for (let c = 0; c < 0x20; c++) {
      assert.equal(
        printable(`a${String.fromCharCode(c)}b`),
        `a\\x${c.toString(16).padStart(2, '0')}b`,
      );
    }
    assert.equal(printable('\x7f'), '\\x7f');
    for (let c = 0x80; c <= 0x9f; c++) {
      assert.equal(printable(String.fromCharCode(c)), `\\x${c.toString(16)}`);
    }
  });

  it('escapes bidi overrides, isolates, line separators and lone surrogates', () => {
    // Every bidi override and isolate, both separators, both ends of the surrogate range.
    const points = [0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069];
    for (const c of [...points, 0x2028, 0x2029, 0xd800, 0xdbff, 0xdc00, 0xdfff]) {
      assert.equal(printable(String.fromCharCode(c)), `\\u{${c.toString(16)}}`);
    }
    assert.equal(printable('x\udc00y'), 'x\\u{dc00}y');
  });

  it('keeps printable text, accents, CJK, emoji and U+FFFD (invalid UTF-8 once decoded)', () => {
    for (const s of [
      'ssh.service',
      '/usr/lib/x86_64-linux-gnu/libssl.so.3',
      'café ñ Ω',
      '日本語',
      '\u00a0\u00ff',
      '😀 \u{1f600}',
      Buffer.from([0x2f, 0xff, 0xfe, 0xc3]).toString('utf8'),
      'a\\x1bb',
    ]) {
      assert.equal(printable(s), s);
    }
  });

  it('leaves nothing unsafe in any string (every code unit 0..0xFFFF)', () => {
    let all = '';
    for (let c = 0; c <= 0xffff; c++) all += String.fromCharCode(c);
    assertTerminalSafe(printable(all).replaceAll('\ufffd', ''), 'printable');
  });
});

describe('advice for many PIDs is bounded (issue 11.2)', () => {
  it('names a few PIDs and counts the rest', () => {
    const pids = Array.from({ length: 10_000 }, (_, i) => 100_000 + i);
    const a = suggestAction({ type: 'unmanaged', cgroup: null }, pids);
    assert.ok('advice' in a);
    assert.match(a.advice, / and 9992 more by hand$/);
    assert.ok(a.advice.length < 200, `${a.advice.length} characters`);
    assert.equal((a.advice.match(/\d{6}/g) ?? []).length, MAX_ADVICE_PIDS);
    const few = suggestAction({ type: 'unmanaged', cgroup: null }, [7, 8]);
    assert.ok('advice' in few);
    assert.equal(few.advice, 'not in a systemd unit: restart PID 7, 8 by hand');
  });
});

describe('text outputs over hostile names (real CLI, /proc fixture)', () => {
  let fx: ReturnType<typeof makeProcTree>;
  let root = '';
  const stale = (addr: number) =>
    [mapsLine('/usr/bin/x'), mapsLine(`/usr/lib/lib${HOSTILE}.so`, { deleted: true, addr })].join(
      '\n',
    );
  before(() => {
    const procs: Parameters<typeof makeProcTree>[0] = {
      1: FAKE_INIT,
      // The repro: a container named with OSC/CSI, at the top of the hierarchy…
      20: { name: 'c1', maps: stale(0x7f5000), cgroup: `0::/lxc.payload.${HOSTILE}\n` },
      // …and inside an unprivileged user's delegated subtree, where no root is needed.
      21: {
        name: 'c2',
        uid: 1000,
        maps: stale(0x7f6000),
        cgroup: `0::/user.slice/user-1000.slice/user@1000.service/app.slice/lxc.payload.u${OSC_CSI}\n`,
      },
      // machined names arrive systemd-escaped (\x1b as text) and are unescaped for people.
      22: {
        name: 'm',
        maps: stale(0x7f7000),
        cgroup: '0::/machine.slice/machine-a\\x1b\\x5b2Jb.scope\n',
      },
      // A unit, a command and an argv with controls.
      23: {
        name: `n${C1_BIDI}`,
        cmdline: [`arg${OSC_CSI}`],
        maps: stale(0x7f8000),
        cgroup: `0::/system.slice/evil${ESC}[31m.service\n`,
      },
      24: { name: `s${ESC}`, maps: stale(0x7f9000), cgroup: `0::/system.slice/x${ESC}.scope\n` },
    };
    // Many processes outside any unit: the advice must not list every PID.
    for (let pid = 100; pid < 140; pid++) {
      procs[pid] = { name: `u${ESC}`, maps: stale(0x7fa000), cgroup: '0::/\n' };
    }
    fx = makeProcTree(procs);
    root = join(fx.root, 'fsroot');
    mkdirSync(join(root, 'run'), { recursive: true });
    writeFileSync(join(root, 'run/reboot-required'), `x${OSC_CSI}\n`);
    writeFileSync(join(root, 'run/reboot-required.pkgs'), `libc6${OSC_CSI}\nlib${C1_BIDI}\n`);
  });
  after(() => fx.cleanup());
  it('scan: the table, the ACTION column and the container advice', async () => {
    const r = await runCli(['scan', '--proc-root', fx.root, '--no-packages', '--all']);
    assert.equal(r.code, 1, r.stderr);
    assertTerminalSafe(r.stdout, 'scan');
    assertTerminalSafe(r.stderr, 'scan stderr');
    assert.ok(r.stdout.includes('lxc container'), r.stdout);
    assert.ok(r.stdout.includes('restart the lxc container \\x1b]0;PWN\\x07\\x1b[2J'), r.stdout);
    assert.ok(r.stdout.includes('a\\x1b[2Jb'), r.stdout);
    // (the lone surrogate went through a file: it comes back as U+FFFD, which is harmless)
    assert.ok(r.stdout.includes('n\\x9b2J\\u{202e}evil\\u{2028}x\ufffd'), r.stdout);
    assert.ok(r.stdout.includes('restart the lxc container u\\x1b]0;PWN\\x07\\x1b[2J;'), r.stdout);
    // 42 PIDs outside units (a unit name with controls is no unit): the advice names 8 of them.
    assert.match(
      r.stdout,
      /restart PID 23, 24, 100, 101, 102, 103, 104, 105 and 34 more by hand$/m,
    );
  });

  it('check: the plugin output and its long text', async () => {
    const where = { '--proc-root': fx.root, '--root': root, '--state-dir': join(fx.root, 'st') };
    const r = await runCli(['check', ...Object.entries(where).flat()]);
    assert.ok(r.code >= 0 && r.code <= 3, r.stderr);
    assert.match(r.stdout, /^AFTERPATCH /);
    assertTerminalSafe(r.stdout, 'check');
  });

  it('reboot-required: reasons from a planted sentinel', async () => {
    const r = await runCli(['reboot-required', '--proc-root', fx.root, '--root', root]);
    assert.equal(r.code, 1, r.stderr);
    assert.ok(r.stdout.includes('libc6\\x1b]0;PWN'), r.stdout);
    assertTerminalSafe(r.stdout, 'reboot-required');
  });

  it('report: host names, units, reasons and the failed host message', async () => {
    const file = join(fx.root, 'fleet.jsonl');
    const scanDoc = await runCli(['scan', '--proc-root', fx.root, '--no-packages', '--json']);
    const docs = [
      { host: `bad${OSC_CSI}`, failed: true, msg: `boom${OSC_CSI}${C1_BIDI}` },
      { ...JSON.parse(scanDoc.stdout), hostname: `h${C1_BIDI}` },
    ];
    writeFileSync(file, docs.map((d) => JSON.stringify(d)).join('\n'));
    const r = await runCli(['report', file]);
    assert.equal(r.code, 1, r.stderr);
    assert.ok(r.stdout.includes('boom\\x1b]0;PWN'), r.stdout);
    assertTerminalSafe(r.stdout, 'report');
  });

  it('error lines: a path or name quoted in an error is escaped on stderr', async () => {
    const bad = join(fx.root, `no${OSC_CSI}`);
    for (const args of [
      ['scan', '--config', bad],
      ['config', bad],
      ['scan', '--proc-root', bad],
      ['metrics', '--textfile', join(bad, 'x.prom')],
    ]) {
      const r = await runCli(args);
      assert.ok(r.code !== 0, `${args[0]}: ${r.stderr}`);
      assert.match(r.stderr, /^afterpatch: /, args.join(' '));
      assert.ok(r.stderr.includes('\\x1b]0;PWN'), r.stderr);
      assertTerminalSafe(r.stderr, `${args.join(' ')} stderr`);
    }
  });

  it('restart text: units, failure messages and journal lines', () => {
    const owner = { type: 'system-unit' as const, unit: `a${ESC}.service` };
    const report = {
      dryRun: false,
      scan: { summary: { scanned: 1, unreadable: 0 }, asRoot: true },
      plan: [
        {
          key: 'k',
          owner,
          unit: owner.unit,
          action: 'restart',
          reason: `r${OSC_CSI}`,
          pids: [5],
          needsHuman: false,
        },
      ],
      results: [
        {
          unit: owner.unit,
          outcome: 'failed',
          activeState: `failed${ESC}`,
          message: `m${C1_BIDI}`,
          journal: [`j${OSC_CSI}`],
          durationMs: 1,
          stalePids: [],
        },
        {
          unit: `b${ESC}.service`,
          outcome: 'still-stale',
          journal: [],
          durationMs: 1,
          stalePids: [{ pid: 6, files: [`/f${OSC_CSI}`] }],
        },
      ],
    } as unknown as RestartReport;
    assertTerminalSafe(formatRestartText(report, PLAIN), 'restart');
  });
});

/** A writable cgroup2 mount (pure v2 or the hybrid "unified" one), or the reason there is none. */
function cgroup2(): string | { skip: string } {
  if (process.getuid?.() !== 0) return { skip: 'needs root to create cgroups' };
  const line = readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .find((l) => l.split(' ')[2] === 'cgroup2');
  const mount = line?.split(' ')[1];
  if (mount === undefined) return { skip: 'no cgroup2 mount' };
  const probe = join(mount, `afterpatch-probe-${randomBytes(4).toString('hex')}`);
  try {
    mkdirSync(probe);
    rmdirSync(probe);
  } catch (e) {
    return { skip: `cgroup2 not writable (${(e as NodeJS.ErrnoException).code})` };
  }
  return mount;
}

const LIBM = [
  '/usr/lib/x86_64-linux-gnu/libm.so.6',
  '/lib64/libm.so.6',
  '/usr/lib64/libm.so.6',
].find((p) => existsSync(p));

describe('a real cgroup named with OSC/CSI (root)', () => {
  const cg = cgroup2();
  const skip = typeof cg === 'string' ? (LIBM === undefined ? 'no libm to map' : false) : cg.skip;
  let base = '';
  let scratch = '';
  const children: ChildProcess[] = [];
  const made: string[] = [];

  before(() => {
    if (skip !== false || typeof cg !== 'string') return;
    base = join(cg, `afterpatch-test-${randomBytes(4).toString('hex')}`);
    mkdirSync(TEST_TMP, { recursive: true, mode: 0o755 });
    scratch = mkdtempSync(join(TEST_TMP, 'hostile-'));
  });
  after(async () => {
    for (const c of children) {
      if (c.exitCode === null && c.signalCode === null) {
        const gone = new Promise((r) => c.once('exit', r));
        if (c.pid !== undefined) process.kill(c.pid, 'SIGKILL');
        await gone;
      }
    }
    // Innermost first: a cgroup is removed only when empty of processes and children.
    for (const d of made.reverse()) rmdirSync(d);
    if (scratch !== '') rmSync(scratch, { recursive: true, force: true });
  });

  /** A sleep that maps a deleted copy of libm, moved into `cgroup` (made under the test's base). */
  async function staleIn(cgroup: string): Promise<number> {
    const lib = join(scratch, `libhostile-${children.length}.so`);
    copyFileSync(LIBM ?? '', lib);
    const c = spawn('sleep', ['300'], { env: { LD_PRELOAD: lib }, stdio: 'ignore' });
    children.push(c);
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(c.pid !== undefined && c.exitCode === null, 'the holder runs');
    unlinkSync(lib);
    let dir = base;
    for (const part of ['', ...cgroup.split('/').filter(Boolean)]) {
      dir = part === '' ? base : join(dir, part);
      if (!existsSync(dir)) {
        mkdirSync(dir);
        made.push(dir);
      }
    }
    writeFileSync(join(dir, 'cgroup.procs'), String(c.pid));
    return c.pid;
  }

  it('reaches the terminal escaped, top-level and inside a delegated user subtree', {
    skip,
  }, async () => {
    const top = await staleIn(`lxc.payload.${OSC_CSI}`);
    // What an unprivileged user can create in their own delegated subtree, without root.
    const delegated = await staleIn(
      `user.slice/user-1000.slice/user@1000.service/app.slice/lxc.payload.u${OSC_CSI}`,
    );
    const r = await runCli([
      'scan',
      '--pid',
      String(top),
      '--pid',
      String(delegated),
      '--no-packages',
    ]);
    assert.equal(r.code, 1, `${r.stdout}${r.stderr}`);
    assertTerminalSafe(r.stdout, 'scan');
    assert.ok(r.stdout.includes('restart the lxc container \\x1b]0;PWN\\x07\\x1b[2J;'), r.stdout);
    assert.ok(r.stdout.includes('restart the lxc container u\\x1b]0;PWN\\x07\\x1b[2J;'), r.stdout);
  });
});
