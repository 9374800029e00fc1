// A chrooted process, for real: the kernel prints the paths of its mappings (and of its open
// files) as the reader — the scan — sees them, from the host's root, not relative to the
// process's root. A daemon that loads its libraries and then chroots (postfix's smtpd, haproxy)
// maps host files: their package is the host's, and an advisory must see it (a root-joined path
// named no file and no package).
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../../harness/cli.ts';
import { spawnHolders, stopProcesses } from '../../harness/fixtures.ts';
import { removeScratch, TEST_TMP } from '../../harness/stale-lib.ts';
import { pythonHolder } from '../helpers/python.ts';

const isRoot = process.geteuid?.() === 0;

/** Takes hold of argv[3] (how: `hold`), chroots into argv[4], then waits. */
const chrootingHolder = (imports: string, hold: string) =>
  pythonHolder(imports, [hold, 'os.chroot(sys.argv[4])', 'os.chdir("/")']);

const CASES = [
  {
    what: 'a chrooted process mapping a file loaded before its chroot',
    file: 'lib/libchrooted.so',
    content: 'x'.repeat(4096),
    holder: chrootingHolder(
      'mmap, os',
      'f = open(sys.argv[3], "rb"); held = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ | mmap.PROT_EXEC)',
    ),
  },
  {
    // The open file's path is an fd link: the kernel's, from the host, like maps.
    what: 'a chrooted interpreter holding a source file opened before its chroot',
    file: 'app/module.py',
    content: 'VALUE = 1\n',
    holder: chrootingHolder('os', 'held = open(sys.argv[3], "rb")'),
  },
];

interface ScanJson {
  processes: { pid: number; root: string; files: { path: string; hostPath: string | null }[] }[];
}

for (const c of CASES) {
  describe(c.what, { skip: isRoot ? false : 'needs root (chroot)' }, () => {
    let dir = '';
    const pids: number[] = [];
    const file = () => join(dir, c.file);
    const jail = () => join(dir, 'jail');

    before(async () => {
      mkdirSync(TEST_TMP, { recursive: true, mode: 0o755 });
      dir = mkdtempSync(join(TEST_TMP, 'chroot-'));
      const holder = join(dir, 'holder');
      writeFileSync(holder, c.holder);
      chmodSync(holder, 0o755);
      mkdirSync(join(file(), '..'));
      mkdirSync(jail());
      writeFileSync(file(), c.content);
      pids.push(...(await spawnHolders(holder, 1, { args: [file(), jail()], maxLifetimeS: 60 })));
      unlinkSync(file()); // as an upgrade does: the process keeps the old file
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
        doc.processes.map((p) => [
          p.pid,
          p.root,
          p.files.filter((f) => f.path === file()).map((f) => [f.path, f.hostPath]),
        ]),
        [[pid, jail(), [[file(), file()]]]],
      );
    });
  });
}
