// Issue 12.5: a pattern from the configuration or --lib cannot hang a scan. `^/(a+)+$` against
// a mapped path of a's plus "!" took more than 30 s; with V8's linear-time fallback it answers at
// once, in the bundle and in its worker threads. Patterns the linear engine cannot run
// (backreferences, lookaround) are refused with one clear line.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../../harness/cli.ts';
import { UserError } from '../../src/errors.ts';
import { patternProblem, userRegExp } from '../../src/match/regexp.ts';
import { FAKE_INIT, makeProcTree, mapsLine } from '../helpers/fakeproc.ts';

const EVIL = '^/(a+)+$';
/** Exponential for a backtracking engine: 2^40 ways to split the a's before "!" fails. */
const VICTIM = `/${'a'.repeat(40)}!`;
const BOUND_MS = 10_000;

describe('patterns from the configuration and --lib (ReDoS)', () => {
  let fx: ReturnType<typeof makeProcTree>;
  let config = '';
  let empty = '';
  before(() => {
    const procs: Parameters<typeof makeProcTree>[0] = { 1: FAKE_INIT };
    // Enough processes that every --threads worker reads some.
    for (let pid = 10; pid < 30; pid++) {
      procs[pid] = {
        name: 'victim',
        maps: [mapsLine('/usr/bin/v'), mapsLine(VICTIM, { deleted: true, addr: 0x7f5000 })].join(
          '\n',
        ),
        cgroup: '0::/system.slice/v.service\n',
      };
    }
    fx = makeProcTree(procs);
    empty = join(fx.root, 'empty.toml');
    writeFileSync(empty, '');
    config = join(fx.root, 'afterpatch.toml');
    writeFileSync(
      config,
      `[scan]\nignore_files = [${JSON.stringify(EVIL)}]\nignore_processes = [${JSON.stringify(EVIL)}]\n`,
    );
  });
  after(() => fx.cleanup());

  const scan = (...a: string[]) => runCli(['scan', '--proc-root', fx.root, '--no-packages', ...a]);

  it('the bundle answers at once with a pathological ignore_files pattern and --lib', async () => {
    for (const args of [
      ['--config', config],
      ['--config', config, '--threads', '4'],
      ['--lib', EVIL, '--config', empty],
    ]) {
      const t0 = Date.now();
      const r = await scan(...args, '--json');
      const ms = Date.now() - t0;
      assert.ok(ms < BOUND_MS, `${args.join(' ')}: ${ms} ms`);
      // The pattern does not match (the path ends in "!"): the processes are still reported,
      // except with --lib, which keeps only matching files.
      assert.ok(r.stdout.startsWith('{'), `${args.join(' ')}: exit ${r.code}: ${r.stderr}`);
      const doc = JSON.parse(r.stdout);
      if (args[0] === '--lib') assert.equal(doc.summary.processes, 0, r.stderr);
      else assert.equal(doc.summary.processes, 20, r.stderr);
    }
  });

  it('a refused pattern that reaches the matcher is a UserError, not a crash', () => {
    assert.throws(
      () => userRegExp('(?<=a)b'),
      (e: Error) => e instanceof UserError && /lookaround/.test(e.message),
    );
    assert.throws(
      () => userRegExp('(unclosed'),
      (e: Error) => e instanceof UserError && /not a valid/.test(e.message),
    );
  });

  it('the library turns the linear-time fallback on with the first pattern, not when loaded', async () => {
    const lib = new URL('../../dist/index.cjs', import.meta.url).pathname;
    // `l` exists only with the flags set: loading changes no V8 flag (which would cost the host
    // program V8's code cache for Node's own modules); the first pattern sets them, process-wide,
    // and the evil pattern then answers at once.
    const code = `const v8 = require('node:v8'); const tag = v8.cachedDataVersionTag(); const lib = require(${JSON.stringify(lib)}); if (v8.cachedDataVersionTag() !== tag) process.exit(7); try { new RegExp('a', 'l'); process.exit(8); } catch {} lib.parseConfig('[scan]\\nignore_files = ["^/x"]\\n'); new RegExp('a', 'l'); const t = Date.now(); /^\\/(a+)+$/.test('/' + 'a'.repeat(40) + '!'); process.stdout.write(String(Date.now() - t));`;
    const out = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, ['-e', code], { timeout: 30_000 }, (e, stdout, stderr) =>
        e ? reject(new Error(`${e.message}: ${stderr}`)) : resolve(stdout),
      ),
    );
    assert.ok(Number(out) < 2000, `${out} ms`);
  });

  it('the program changes no V8 flag while it loads: nothing compiles a pattern then', async () => {
    const bundle = new URL('../../dist/afterpatch.cjs', import.meta.url).pathname;
    const probe = join(fx.root, 'flags-probe.cjs');
    writeFileSync(
      probe,
      "const v8 = require('node:v8'); const tag = v8.cachedDataVersionTag(); process.on('exit', () => process.stderr.write(v8.cachedDataVersionTag() === tag ? 'same' : 'changed'));",
    );
    const stderr = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, ['-r', probe, bundle, '--version'], (e, _out, err) =>
        e ? reject(e) : resolve(err),
      ),
    );
    assert.equal(stderr, 'same');
  });

  it('the matcher itself answers in milliseconds', () => {
    const re = userRegExp(EVIL);
    const t0 = performance.now();
    assert.equal(re.test(`/${'a'.repeat(5000)}!`), false);
    assert.ok(performance.now() - t0 < 1000);
  });

  it('refuses backreferences and lookaround, which have no linear-time engine', async () => {
    for (const p of ['(a)\\1', '^(?!/usr)', '(?<=x)y', '(?<n>a)\\k<n>']) {
      assert.match(patternProblem(p) ?? '', /backreference or lookaround/, p);
    }
    for (const p of ['libssl', '^/usr/lib/.*\\.so', '(a+)+$', '[\\w.-]+']) {
      assert.equal(patternProblem(p), null, p);
    }
    const lib = await scan('--lib', '(a)\\1');
    assert.equal(lib.code, 2);
    assert.match(lib.stderr, /^afterpatch: --lib "\(a\)\\\\1" uses a backreference or lookaround/);
    assert.equal(lib.stderr.trim().split('\n').length, 1, lib.stderr);

    const restart = await runCli(['restart', '--dry-run', '--lib', '(?=a)']);
    assert.equal(restart.code, 3);
    assert.match(
      restart.stderr,
      /^afterpatch: --lib "\(\?=a\)" uses a backreference or lookaround/,
    );

    const bad = join(fx.root, 'lookahead.toml');
    writeFileSync(bad, '[scan]\n\nignore_files = ["^(?!/usr/lib/)"]\n');
    const r = await scan('--config', bad);
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      /lookahead\.toml:3: scan\.ignore_files\[0\]: uses a backreference or lookaround/,
    );
  });
});
