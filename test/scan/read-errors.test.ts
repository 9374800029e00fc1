// Read errors other than "gone" and "denied" (ELOOP, EISDIR, EMFILE, ...) and scans that read
// no process: never "clean". Was: every errno but EACCES/EPERM counted the process as exited, so
// it vanished from the count (scan exit 0, check OK, afterpatch_scan_partial 0), and an empty
// --proc-root or a --pid of no process said "nothing stale".
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../../harness/cli.ts';
import { writeFakeSystemctl } from '../helpers/fake-systemctl.ts';
import { FAKE_INIT, FAKE_STALE_SSHD, makeProcTree } from '../helpers/fakeproc.ts';
import { scratchDirs } from '../helpers/scratch.ts';

const metric = (text: string, name: string): string | undefined =>
  new RegExp(`^${name.replace(/[{}"=]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1];

describe('a process whose maps fail to read (ELOOP, EISDIR) makes the scan partial, as root too', () => {
  const dir = scratchDirs('afterpatch-read-errors');
  let fx: ReturnType<typeof makeProcTree>;
  let state: string;
  let env: NodeJS.ProcessEnv;
  before(() => {
    // 1: init, readable; 10: maps a symlink to itself (ELOOP); 11: maps a directory (EISDIR).
    fx = makeProcTree({ 1: FAKE_INIT, 10: {}, 11: {} });
    symlinkSync('maps', join(fx.root, '10', 'maps'));
    mkdirSync(join(fx.root, '11', 'maps'));
    state = dir();
    const bin = dir();
    writeFakeSystemctl(bin);
    env = { PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}` };
  });
  after(() => fx.cleanup());

  it('scan: exit 3, the causes named on stdout and stderr (not "access denied")', async () => {
    const r = await runCli(['scan', '--proc-root', fx.root]);
    assert.equal(r.code, 3, `${r.stdout}${r.stderr}`);
    assert.match(
      r.stdout,
      /^2 of 3 processes could not be read \(ELOOP: too many symbolic links encountered; EISDIR: is a directory\): the scan is partial\.$/m,
    );
    assert.doesNotMatch(r.stdout, /access denied/);
    assert.equal(
      r.stderr,
      'afterpatch: 2 of 3 processes could not be read (ELOOP: too many symbolic links encountered; EISDIR: is a directory): nothing stale among the others, but the scan is partial (exit 3).\n',
    );
  });

  it('scan --json: partial, summary.failed and readErrors', async () => {
    const r = await runCli(['scan', '--json', '--proc-root', fx.root]);
    assert.equal(r.code, 3, r.stderr);
    const doc = JSON.parse(r.stdout);
    assert.equal(doc.partial, true);
    assert.deepEqual([doc.summary.scanned, doc.summary.unreadable, doc.summary.failed], [1, 2, 2]);
    assert.deepEqual(doc.readErrors, [
      'ELOOP: too many symbolic links encountered',
      'EISDIR: is a directory',
    ]);
  });

  it('check: UNKNOWN with the causes', async () => {
    const r = await runCli(['check', '--proc-root', fx.root, '--root', dir()]);
    assert.equal(r.code, 3, r.stdout);
    assert.match(
      r.stdout,
      /^AFTERPATCH UNKNOWN - cannot read 2 of 3 processes: 2 failed \(ELOOP: too many symbolic links encountered; EISDIR: is a directory\); found so far/,
    );
  });

  it('metrics: afterpatch_scan_partial 1', async () => {
    const r = await runCli([
      'metrics',
      '--proc-root',
      fx.root,
      '--root',
      dir(),
      '--state-dir',
      state,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(metric(r.stdout, 'afterpatch_unreadable_processes'), '2');
    assert.equal(metric(r.stdout, 'afterpatch_scan_partial'), '1');
  });

  it('restart: nothing planned is not "nothing to do" (exit 1)', async () => {
    const r = await runCli(['restart', '--dry-run', '--proc-root', fx.root, '--state-dir', state], {
      env,
    });
    assert.equal(r.code, 1, `${r.stdout}${r.stderr}`);
    assert.match(r.stdout, /could not be read \(ELOOP: too many symbolic links encountered/);
  });
});

describe('a scan that read no process does not say clean', () => {
  const dir = scratchDirs('afterpatch-no-process');
  let fx: ReturnType<typeof makeProcTree>;
  before(() => {
    fx = makeProcTree({ 1: FAKE_INIT, 10: FAKE_STALE_SSHD });
  });
  after(() => fx.cleanup());

  it('an empty --proc-root: scan exits 2, check 3 (UNKNOWN), metrics 2 with a scan error; one line', async () => {
    const empty = dir();
    for (const [args, code] of [
      [['scan'], 2],
      [['check', '--root', dir()], 3],
      [['metrics', '--root', dir(), '--state-dir', dir()], 2],
    ] as const) {
      const r = await runCli([...args, '--proc-root', empty]);
      assert.equal(r.code, code, `${args[0]}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, /no processes in .*: is procfs mounted there\?/, args[0]);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      if (args[0] === 'check') assert.match(r.stdout, /^AFTERPATCH UNKNOWN - no processes in /);
      if (args[0] === 'metrics')
        assert.equal(metric(r.stdout, 'afterpatch_scan_errors_total'), '1');
    }
  });

  it('a tree whose processes all exited before their maps were read: exit 2', async () => {
    const gone = makeProcTree({ 10: {}, 11: {} });
    try {
      const r = await runCli(['scan', '--proc-root', gone.root]);
      assert.equal(r.code, 2, r.stdout);
      assert.match(r.stderr, /^afterpatch: no process could be read in .*: all 2 listed exited/);
    } finally {
      gone.cleanup();
    }
  });

  it('--pid of a process that does not exist: exit 2, "does not exist"', async () => {
    const r = await runCli(['scan', '--pid', '99999', '--proc-root', fx.root]);
    assert.equal(r.code, 2, r.stdout);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^afterpatch: no process with PID 99999 in .*: it does not exist/);
    const some = await runCli(['scan', '--pid', '10', '--pid', '99999', '--proc-root', fx.root]);
    assert.equal(some.code, 2, some.stdout);
    // The one that exists is still scanned as before.
    assert.equal((await runCli(['scan', '-q', '--pid', '10', '--proc-root', fx.root])).code, 1);
  });
});

describe('on the real /proc, maps that fail to open with EMFILE', () => {
  const dir = scratchDirs('afterpatch-emfile');
  it('make the scan partial as root too (was: 0 processes scanned, exit 0)', async () => {
    // RLIMIT_NOFILE alone is not deterministic (which reads fail depends on the threads'
    // timing), so every PID/maps open fails with EMFILE, in one thread.
    const preload = join(dir(), 'emfile.cjs');
    writeFileSync(
      preload,
      `const fs = require('node:fs');
const open = fs.openSync;
fs.openSync = function (path, ...rest) {
  if (typeof path === 'string' && /^\\/proc\\/\\d+\\/maps$/.test(path)) {
    const e = new Error("EMFILE: too many open files, open '" + path + "'");
    e.code = 'EMFILE';
    e.errno = -24;
    throw e;
  }
  return open.call(this, path, ...rest);
};
`,
    );
    const r = await runCli(['scan', '--threads', '1', '--no-packages'], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', NODE_OPTIONS: `--require ${preload}` },
      spawn: true,
    });
    assert.equal(r.code, 3, `${r.stdout}${r.stderr}`);
    assert.match(r.stdout, /processes could not be read \(EMFILE: too many open files\)/);
    assert.match(
      r.stderr,
      /^afterpatch: \d+ of \d+ processes could not be read \(EMFILE: too many open files\): no process was read, but the scan is partial \(exit 3\)\.$/m,
    );
    assert.doesNotMatch(r.stdout, /No process runs outdated code/);
  });
});
