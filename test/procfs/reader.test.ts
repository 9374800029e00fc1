// The procfs reader never blocks and never reads without bound: a fixture tree (--proc-root)
// whose maps is a FIFO, a link to /dev/zero or a huge file is refused and counted unreadable.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../../harness/cli.ts';
import {
  isProcfsMount,
  openRegularSync,
  ProcReader,
  RefusedFileError,
  readFileBounded,
} from '../../src/procfs/reader.ts';
import { FAKE_INIT, FAKE_STALE_SSHD, makeProcTree } from '../helpers/fakeproc.ts';

describe('ProcReader on hostile fixture files', () => {
  let fx: ReturnType<typeof makeProcTree>;
  before(() => {
    fx = makeProcTree({ 1: FAKE_INIT, 10: { maps: '' }, 11: { maps: '' }, 12: { maps: '' } });
    rmSync(join(fx.root, '10/maps'));
    execFileSync('mkfifo', [join(fx.root, '10/maps')]);
    rmSync(join(fx.root, '11/maps'));
    symlinkSync('/dev/zero', join(fx.root, '11/maps'));
    writeFileSync(join(fx.root, '12/maps'), 'x'.repeat(5000));
  });
  after(() => fx.cleanup());

  it('refuses a FIFO at once instead of waiting for a writer', () => {
    const t0 = performance.now();
    assert.equal(new ProcReader(fx.root).readRaw('10/maps'), 'refused');
    assert.ok(performance.now() - t0 < 1000);
  });

  it('refuses a link to a device (no endless read of /dev/zero)', () => {
    assert.equal(new ProcReader(fx.root).read('11/maps'), 'refused');
  });

  it('refuses a regular file longer than the bound and reads one exactly at the bound', () => {
    assert.equal(new ProcReader(fx.root, { maxBytes: 4999 }).readRaw('12/maps'), 'refused');
    const r = new ProcReader(fx.root, { maxBytes: 5000 });
    assert.equal(r.readRaw('12/maps'), 5000);
    assert.equal(r.buffer.length, 5000, 'the buffer never grows past the bound');
  });

  it('checks maps in a fixture tree like any file: only a mounted procfs skips the check', () => {
    const fixture = new ProcReader(fx.root);
    assert.equal(fixture.isProcfs, false);
    assert.equal(fixture.readMaps(10), 'refused');
    assert.equal(fixture.readMaps(11), 'refused');
    assert.equal(isProcfsMount(fx.root), false);
    const proc = new ProcReader('/proc');
    assert.equal(proc.isProcfs, true);
    const len = proc.readMaps(process.pid);
    assert.equal(typeof len, 'number');
    assert.match(proc.buffer.toString('utf8', 0, len as number), /^[0-9a-f]+-[0-9a-f]+ /);
    assert.equal(proc.readMaps(2 ** 22 + 1), 'gone');
  });

  it('reads a real maps file whole, over several reads, stopping at the gate line or at its end', async () => {
    // An idle Python maps ~14 KB: the kernel returns a maps file about one page per read, so
    // every read but the last ends in a whole line that is not the last one.
    const child = spawn('python3', ['-c', 'import sys, time; print(flush=True); time.sleep(60)'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    try {
      await new Promise((resolve) => child.stdout.once('data', resolve));
      const pid = child.pid as number;
      const proc = new ProcReader('/proc');
      const len = proc.readMaps(pid);
      assert.equal(typeof len, 'number');
      const whole = readFileSync(`/proc/${pid}/maps`, 'latin1');
      assert.ok(whole.length > 8192, `${whole.length} bytes`);
      assert.equal(proc.buffer.toString('latin1', 0, len as number), whole);
    } finally {
      child.kill();
    }
  });

  it('still reads real procfs files (regular, size 0) whole', () => {
    const text = new ProcReader('/proc').read('self/status');
    assert.equal(typeof text, 'string');
    assert.match(text as string, /^Name:/);
  });

  it('readFileBounded and openRegularSync throw RefusedFileError for non-regular files', () => {
    assert.throws(() => readFileBounded(join(fx.root, '10/maps')), RefusedFileError);
    assert.throws(() => readFileBounded('/dev/zero'), RefusedFileError);
    assert.throws(() => readFileBounded(join(fx.root, '12/maps'), 10), RefusedFileError);
    assert.throws(() => openRegularSync(fx.root), RefusedFileError);
    assert.equal(readFileBounded(join(fx.root, '12/maps')).length, 5000);
  });
});

describe('scan of a tree with a FIFO and a /dev/zero maps', () => {
  let fx: ReturnType<typeof makeProcTree>;
  before(() => {
    fx = makeProcTree({ 1: FAKE_INIT, 20: FAKE_STALE_SSHD, 30: { maps: '' }, 31: { maps: '' } });
    rmSync(join(fx.root, '30/maps'));
    execFileSync('mkfifo', [join(fx.root, '30/maps')]);
    rmSync(join(fx.root, '31/maps'));
    symlinkSync('/dev/zero', join(fx.root, '31/maps'));
    // The reboot verdict reads these below --proc-root: a FIFO must not block it either.
    mkdirSync(join(fx.root, 'sys/kernel'), { recursive: true });
    rmSync(join(fx.root, 'sys/kernel/osrelease'), { force: true });
    execFileSync('mkfifo', [join(fx.root, 'sys/kernel/osrelease')]);
  });
  after(() => fx.cleanup());

  it('finishes quickly and counts both processes unreadable, not clean', async () => {
    const t0 = performance.now();
    const r = await runCli(['scan', '--json', '--proc-root', fx.root]);
    assert.ok(performance.now() - t0 < 20_000, 'the scan did not hang');
    const report = JSON.parse(r.stdout) as {
      partial: boolean;
      summary: { scanned: number; unreadable: number; failed: number };
      readErrors: string[];
    };
    assert.equal(report.summary.unreadable, 2, r.stderr);
    assert.equal(report.summary.scanned, 2);
    // Refused is no denial: partial as root too (was: "access denied even to root", clean).
    assert.equal(report.summary.failed, 2);
    assert.equal(report.partial, true);
    assert.deepEqual(report.readErrors, ['not a regular file']);
  });

  it('check (as root too) is UNKNOWN and names the cause', async () => {
    const r = await runCli(['check', '--proc-root', fx.root, '--root', fx.root]);
    assert.equal(r.code, 3, r.stdout);
    assert.match(
      r.stdout,
      /^AFTERPATCH UNKNOWN - cannot read 2 of 4 processes: 2 failed \(not a regular file\)/,
    );
    assert.match(r.stdout, /osrelease: EREFUSED/, 'the FIFO osrelease refused, not waited on');
  });
});
