// A chrooted process, for real: the kernel prints the paths of its mappings as the reader (the
// scan) sees them, from the host's root — not relative to the process's root. A daemon that
// loads its libraries and then chroots (postfix's smtpd, haproxy) maps host files: their package
// is the host's, and an advisory must see it (a root-joined path named no file and no package).
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../../harness/cli.ts';
import { spawnHolders, stopProcesses } from '../../harness/fixtures.ts';
import { removeScratch, TEST_TMP } from '../../harness/stale-lib.ts';

const isRoot = process.geteuid?.() === 0;

/** Maps argv[3] with PROT_EXEC, chroots into argv[4], says ready, then waits. */
const HOLDER = [
  '#!/usr/bin/python3',
  'import mmap, os, sys, time',
  'with open(sys.argv[3], "rb") as f:',
  '    held = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ | mmap.PROT_EXEC)',
  'os.chroot(sys.argv[4])',
  'os.chdir("/")',
  'print("ready", flush=True)',
  'end = time.time() + int(sys.argv[1])',
  'while time.time() < end: time.sleep(0.1)',
  '',
].join('\n');

/** Opens argv[3] (a source file) and keeps it open, chroots into argv[4], says ready, waits. */
const INTERPRETER = [
  '#!/usr/bin/python3',
  'import os, sys, time',
  'held = open(sys.argv[3], "rb")',
  'os.chroot(sys.argv[4])',
  'os.chdir("/")',
  'print("ready", flush=True)',
  'end = time.time() + int(sys.argv[1])',
  'while time.time() < end: time.sleep(0.1)',
  '',
].join('\n');

interface ScanJson {
  processes: { pid: number; root: string; files: { path: string; hostPath: string | null }[] }[];
}

describe('a chrooted process mapping a file loaded before its chroot', {
  skip: isRoot ? false : 'needs root (chroot)',
}, () => {
  let dir = '';
  const pids: number[] = [];
  const lib = () => join(dir, 'lib', 'libchrooted.so');
  const jail = () => join(dir, 'jail');

  before(async () => {
    mkdirSync(TEST_TMP, { recursive: true, mode: 0o755 });
    dir = mkdtempSync(join(TEST_TMP, 'chroot-'));
    const holder = join(dir, 'holder');
    writeFileSync(holder, HOLDER);
    chmodSync(holder, 0o755);
    mkdirSync(join(dir, 'lib'));
    mkdirSync(jail());
    writeFileSync(lib(), 'x'.repeat(4096));
    pids.push(...(await spawnHolders(holder, 1, { args: [lib(), jail()], maxLifetimeS: 60 })));
    unlinkSync(lib()); // as an upgrade does: the process keeps the old file
  });
  after(async () => {
    await stopProcesses(pids);
    if (dir) removeScratch(dir);
  });

  it('reports the host path as both path and hostPath, with the chroot as its root', async () => {
    const [pid] = pids as [number];
    const r = await runCli(['scan', '--json', '--no-packages', '--pid', String(pid)]);
    assert.equal(r.code, 1, r.stderr);
    const doc = JSON.parse(r.stdout) as ScanJson;
    assert.deepEqual(
      doc.processes.map((p) => [p.pid, p.root, p.files.map((f) => [f.path, f.hostPath])]),
      [[pid, jail(), [[lib(), lib()]]]],
    );
  });
});

describe('a chrooted interpreter holding a source file opened before its chroot', {
  skip: isRoot ? false : 'needs root (chroot)',
}, () => {
  let dir = '';
  const pids: number[] = [];
  const source = () => join(dir, 'app', 'module.py');
  const jail = () => join(dir, 'jail');

  before(async () => {
    mkdirSync(TEST_TMP, { recursive: true, mode: 0o755 });
    dir = mkdtempSync(join(TEST_TMP, 'chroot-interp-'));
    const holder = join(dir, 'holder');
    writeFileSync(holder, INTERPRETER);
    chmodSync(holder, 0o755);
    mkdirSync(join(dir, 'app'));
    mkdirSync(jail());
    writeFileSync(source(), 'VALUE = 1\n');
    pids.push(...(await spawnHolders(holder, 1, { args: [source(), jail()], maxLifetimeS: 60 })));
    unlinkSync(source()); // replaced by an upgrade: the interpreter still holds the old one
  });
  after(async () => {
    await stopProcesses(pids);
    if (dir) removeScratch(dir);
  });

  it('gives the held file’s host path (the fd link is the kernel’s, from the host)', async () => {
    const [pid] = pids as [number];
    const r = await runCli(['scan', '--json', '--no-packages', '--pid', String(pid)]);
    assert.equal(r.code, 1, r.stderr);
    const doc = JSON.parse(r.stdout) as ScanJson;
    const files = doc.processes.flatMap((p) => p.files.map((f) => [f.path, f.hostPath]));
    assert.deepEqual(
      files.filter(([path]) => path === source()),
      [[source(), source()]],
    );
  });
});
