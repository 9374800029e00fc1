import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { openPackageDb } from '../../src/packages/db.ts';
import { DpkgDb, parseDiversions, parseStatus, stanzasOf } from '../../src/packages/dpkg.ts';

const run = promisify(execFile);

interface FixturePackage {
  name: string;
  arch: string;
  version: string;
  status?: string;
  /** `.list` file name without `.list`; defaults to `name:arch`. */
  list?: string;
  files: string[];
}

const PACKAGES: FixturePackage[] = [
  // Recorded before merged /usr: maps show /usr/lib/…, dpkg knows /lib/….
  {
    name: 'libc6',
    arch: 'amd64',
    version: '2.36-9+deb12u4',
    files: ['/lib/x86_64-linux-gnu/libc.so.6'],
  },
  // Recorded under /usr: a process may show the /lib name.
  {
    name: 'libnew1',
    arch: 'amd64',
    version: '1.0-1',
    files: ['/usr/lib/x86_64-linux-gnu/libnew.so.1'],
  },
  // Two architectures installed: names keep their architecture.
  {
    name: 'libssl3',
    arch: 'amd64',
    version: '3.0.11-1',
    files: ['/usr/lib/x86_64-linux-gnu/libssl.so.3', '/usr/share/doc/libssl3/copyright'],
  },
  {
    name: 'libssl3',
    arch: 'i386',
    version: '3.0.11-1',
    files: ['/usr/lib/i386-linux-gnu/libssl.so.3', '/usr/share/doc/libssl3/copyright'],
  },
  // One architecture, multiarch list name: reported without it.
  {
    name: 'libzstd1',
    arch: 'amd64',
    version: '1.5.4+dfsg2-5',
    files: ['/usr/lib/x86_64-linux-gnu/libzstd.so.1.5.4'],
  },
  // Old-style list name without architecture, epoch in the version, triggers pending after an upgrade.
  {
    name: 'bash',
    arch: 'amd64',
    version: '1:5.2.15-2',
    status: 'install ok triggers-pending',
    list: 'bash',
    files: ['/bin/bash'],
  },
  // Removed, configuration files left: owns nothing any more.
  {
    name: 'libgone1',
    arch: 'amd64',
    version: '0.9-1',
    status: 'deinstall ok config-files',
    files: ['/usr/lib/libgone.so.1'],
  },
  // Diversion by `wrapper`: its own /usr/bin/tool stays, `tool`'s copy goes to /usr/bin/tool.real.
  { name: 'wrapper', arch: 'all', version: '2', list: 'wrapper', files: ['/usr/bin/tool'] },
  {
    name: 'tool',
    arch: 'amd64',
    version: '7.1-1',
    files: ['/usr/bin/tool', '/usr/share/man/man1/tool.1.gz'],
  },
  // Local diversion (package ":"): the administrator's file sits at the original path.
  {
    name: 'libx1',
    arch: 'amd64',
    version: '4.4-1',
    files: ['/usr/lib/x86_64-linux-gnu/libx.so.1'],
  },
];

const DIVERSIONS = [
  ['/usr/bin/tool', '/usr/bin/tool.real', 'wrapper'],
  ['/usr/lib/x86_64-linux-gnu/libx.so.1', '/usr/lib/x86_64-linux-gnu/libx.so.1.dist', ':'],
];

function stanza(p: FixturePackage): string {
  return [
    `Package: ${p.name}`,
    `Status: ${p.status ?? 'install ok installed'}`,
    'Priority: optional',
    `Architecture: ${p.arch}`,
    p.arch === 'all' ? '' : 'Multi-Arch: same',
    `Version: ${p.version}`,
    'Description: a fixture',
    ' Package: not-a-package',
    ' Version: 0.0-not-a-version',
  ]
    .filter((l) => l !== '')
    .join('\n');
}

async function makeRoot(dir: string): Promise<void> {
  const info = join(dir, 'var/lib/dpkg/info');
  await mkdir(info, { recursive: true });
  await writeFile(join(dir, 'var/lib/dpkg/status'), `${PACKAGES.map(stanza).join('\n\n')}\n`);
  await writeFile(join(dir, 'var/lib/dpkg/diversions'), `${DIVERSIONS.flat().join('\n')}\n`);
  for (const p of PACKAGES) {
    const dirs = ['/.', '/usr', '/usr/lib'];
    await writeFile(
      join(info, `${p.list ?? `${p.name}:${p.arch}`}.list`),
      `${[...dirs, ...p.files].join('\n')}\n`,
    );
  }
}

describe('dpkg package database (fixture root)', () => {
  let root = '';
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'afterpatch-dpkg-'));
    await makeRoot(root);
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  async function lookup(paths: string[]) {
    const db = await openPackageDb({ root });
    assert.ok(db, 'a root with var/lib/dpkg/status opens as dpkg');
    assert.equal(db.manager, 'dpkg');
    return db.lookup(paths);
  }

  it('finds a path dpkg recorded under /lib when asked for /usr/lib (merged /usr)', async () => {
    const found = await lookup(['/usr/lib/x86_64-linux-gnu/libc.so.6']);
    assert.deepEqual(found.get('/usr/lib/x86_64-linux-gnu/libc.so.6'), {
      name: 'libc6',
      version: '2.36-9+deb12u4',
      manager: 'dpkg',
    });
  });

  it('finds a path dpkg recorded under /usr when asked for /lib and /bin (other direction)', async () => {
    const found = await lookup(['/lib/x86_64-linux-gnu/libnew.so.1', '/usr/bin/bash']);
    assert.equal(found.get('/lib/x86_64-linux-gnu/libnew.so.1')?.name, 'libnew1');
    assert.deepEqual(found.get('/usr/bin/bash'), {
      name: 'bash',
      version: '1:5.2.15-2',
      manager: 'dpkg',
    });
  });

  it('names multiarch packages without the architecture unless two are installed', async () => {
    const found = await lookup([
      '/usr/lib/x86_64-linux-gnu/libzstd.so.1.5.4',
      '/usr/lib/x86_64-linux-gnu/libssl.so.3',
      '/usr/lib/i386-linux-gnu/libssl.so.3',
    ]);
    assert.equal(found.get('/usr/lib/x86_64-linux-gnu/libzstd.so.1.5.4')?.name, 'libzstd1');
    assert.equal(found.get('/usr/lib/x86_64-linux-gnu/libssl.so.3')?.name, 'libssl3:amd64');
    assert.equal(found.get('/usr/lib/i386-linux-gnu/libssl.so.3')?.name, 'libssl3:i386');
  });

  it('leaves unowned paths and packages without files on disk out of the map', async () => {
    const asked = ['/opt/nothing/libfoo.so', '/usr/lib/libgone.so.1', '/usr/lib', '/'];
    const found = await lookup(asked);
    assert.equal(found.has('/opt/nothing/libfoo.so'), false);
    assert.equal(found.has('/usr/lib/libgone.so.1'), false);
    assert.equal(found.get('/usr/lib')?.manager, 'dpkg', 'directories are owned like files');
    assert.equal(found.size, 1);
  });

  it('applies a package diversion: the diverter keeps the path, the other copy is at the divert-to name', async () => {
    const found = await lookup([
      '/usr/bin/tool',
      '/usr/bin/tool.real',
      '/usr/share/man/man1/tool.1.gz',
    ]);
    assert.equal(found.get('/usr/bin/tool')?.name, 'wrapper');
    assert.equal(found.get('/usr/bin/tool.real')?.name, 'tool');
    assert.equal(found.get('/usr/share/man/man1/tool.1.gz')?.name, 'tool');
  });

  it('applies a local diversion: the original path belongs to no package', async () => {
    const found = await lookup([
      '/usr/lib/x86_64-linux-gnu/libx.so.1',
      '/usr/lib/x86_64-linux-gnu/libx.so.1.dist',
    ]);
    assert.equal(found.has('/usr/lib/x86_64-linux-gnu/libx.so.1'), false);
    assert.equal(found.get('/usr/lib/x86_64-linux-gnu/libx.so.1.dist')?.name, 'libx1');
  });

  it('keys the result by the path as asked, including duplicates and an empty request', async () => {
    const found = await lookup([
      '/lib/x86_64-linux-gnu/libc.so.6',
      '/lib/x86_64-linux-gnu/libc.so.6',
    ]);
    assert.deepEqual([...found.keys()], ['/lib/x86_64-linux-gnu/libc.so.6']);
    assert.equal((await lookup([])).size, 0);
  });

  it('searches the .list files where it is told to (a scan thread), and here when that fails', async () => {
    const db = await openPackageDb({ root });
    assert.ok(db);
    const asked = ['/usr/bin/tool', '/usr/lib/x86_64-linux-gnu/libc.so.6'];
    const here = await db.lookup(asked);
    const seen: string[][] = [];
    // Told where: its answer is the one used (asked with the merged-/usr alias too).
    const elsewhere = await db.lookup(asked, {
      listSearch: async (infoDir, wanted) => {
        seen.push([infoDir, ...[...wanted].sort()]);
        return new Map([['/lib/x86_64-linux-gnu/libc.so.6', ['bash']]]);
      },
    });
    assert.equal(seen[0]?.[0], `${root}/var/lib/dpkg/info`);
    assert.ok(
      seen[0]?.includes('/usr/bin/tool') && seen[0]?.includes('/lib/x86_64-linux-gnu/libc.so.6'),
    );
    assert.equal(elsewhere.get('/usr/lib/x86_64-linux-gnu/libc.so.6')?.name, 'bash');
    assert.equal(elsewhere.has('/usr/bin/tool'), false);
    // The other thread gone or failed: the same answer as without it.
    const fallback = await db.lookup(asked, {
      listSearch: () => Promise.reject(new Error('the scan thread ended')),
    });
    assert.deepEqual([...fallback], [...here]);
    assert.equal(here.get('/usr/bin/tool')?.name, 'wrapper');
  });

  it('works without a diversions file', async () => {
    const bare = await mkdtemp(join(tmpdir(), 'afterpatch-dpkg-bare-'));
    try {
      await makeRoot(bare);
      await rm(join(bare, 'var/lib/dpkg/diversions'));
      const found = await new DpkgDb(bare).lookup(['/usr/bin/tool']);
      assert.ok(['tool', 'wrapper'].includes(found.get('/usr/bin/tool')?.name ?? ''));
    } finally {
      await rm(bare, { recursive: true, force: true });
    }
  });

  it('rejects with one clear line when the database cannot be read', async () => {
    const broken = await mkdtemp(join(tmpdir(), 'afterpatch-dpkg-broken-'));
    try {
      await mkdir(join(broken, 'var/lib/dpkg/status'), { recursive: true }); // a directory: EISDIR
      const db = await openPackageDb({ root: broken });
      assert.ok(db);
      await assert.rejects(db.lookup(['/bin/sh']), (e: Error) => {
        assert.match(
          e.message,
          /^cannot read the dpkg database: .*\/var\/lib\/dpkg\/status: EISDIR$/,
        );
        return true;
      });
      await rm(join(broken, 'var/lib/dpkg/status'), { recursive: true });
      await writeFile(join(broken, 'var/lib/dpkg/status'), '');
      await assert.rejects(
        db.lookup(['/bin/sh']),
        /^Error: cannot read the dpkg database: .*\/info: ENOENT$/,
      );
    } finally {
      await rm(broken, { recursive: true, force: true });
    }
  });
});

describe('dpkg .list files: how they are read and searched', () => {
  let root = '';
  const big = '/usr/lib/x86_64-linux-gnu/libbig.so.2';
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'afterpatch-dpkg-lists-'));
    const info = join(root, 'var/lib/dpkg/info');
    await mkdir(info, { recursive: true });
    const pkgs = [
      { name: 'big', arch: 'amd64', version: '2-1', files: [] },
      { name: 'short', arch: 'amd64', version: '1-1', files: [] },
    ];
    await writeFile(join(root, 'var/lib/dpkg/status'), `${pkgs.map(stanza).join('\n\n')}\n`);
    // Larger than the reader's first buffer (256 KiB), the wanted path its last line, with no
    // newline after it; and a line that the prefix `/usr/lib/libpre.so` must not match.
    const filler = Array.from({ length: 20_000 }, (_, i) => `/usr/share/big/file-${i}.txt`);
    await writeFile(
      join(info, 'big:amd64.list'),
      [...filler, '/usr/lib/libpre.so.1', big].join('\n'),
    );
    // The wanted path as the very first line, listed twice.
    await writeFile(join(info, 'short:amd64.list'), '/usr/bin/short\n/.\n/usr/bin/short\n');
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  const asked = ['/usr/bin/short', big, '/usr/lib/libpre.so'];
  const expected = [
    ['/usr/bin/short', { name: 'short', version: '1-1', manager: 'dpkg' }],
    [big, { name: 'big', version: '2-1', manager: 'dpkg' }],
  ];

  it('finds a first line, a last line without newline past the first buffer, never a prefix', async () => {
    const found = await new DpkgDb(root).lookup(asked);
    assert.deepEqual([...found], expected);
  });

  it('gives the same answer when many paths are asked (compared line by line)', async () => {
    // Each path is asked with its merged-/usr aliases: 3 + 20 paths are well above the count
    // searched one by one.
    const unowned = Array.from({ length: 20 }, (_, i) => `/usr/lib/none-${i}.so`);
    const found = await new DpkgDb(root).lookup([...asked, ...unowned]);
    assert.deepEqual([...found], expected);
  });

  it('rejects with one clear line when a .list file cannot be read', async () => {
    const dir = join(root, 'var/lib/dpkg/info/unreadable.list');
    await mkdir(dir); // a directory: EISDIR on read
    try {
      await assert.rejects(
        new DpkgDb(root).lookup(asked),
        /^Error: cannot read the dpkg database: .*\/info\/unreadable\.list: EISDIR$/,
      );
    } finally {
      await rm(dir, { recursive: true });
    }
  });

  it('refuses a status file that is a FIFO with one clear line, never waiting on it', async () => {
    const fifoRoot = await mkdtemp(join(tmpdir(), 'afterpatch-dpkg-fifo-'));
    try {
      await makeRoot(fifoRoot);
      const status = join(fifoRoot, 'var/lib/dpkg/status');
      await rm(status);
      execFileSync('mkfifo', [status]);
      await assert.rejects(
        new DpkgDb(fifoRoot).lookup(['/usr/bin/tool']),
        /^Error: cannot read the dpkg database: .*\/status is not a regular file$/,
      );
    } finally {
      await rm(fifoRoot, { recursive: true, force: true });
    }
  });
});

describe('dpkg file parsers', () => {
  it('takes a whole stanza when Package is not its first field', () => {
    const text = [
      'Status: install ok installed\nPackage: first\nVersion: 1\nArchitecture: all',
      'Version: 2\nStatus: install ok installed\nPackage: later\nArchitecture: amd64',
      'Package: gone\nStatus: deinstall ok config-files\nVersion: 3\nArchitecture: all',
    ].join('\n\n');
    const status = parseStatus(stanzasOf(text, ['later', 'first', 'gone']));
    assert.equal(status.resolve('later')?.version, '2');
    assert.equal(status.resolve('first')?.version, '1');
    assert.equal(status.resolve('gone'), null);
  });

  it('parses status stanzas, ignoring continuation lines and packages without files', () => {
    const index = parseStatus(
      'Package: a\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1\n' +
        'Description: x\n Package: b\n\n\n' +
        'Package: c\nStatus: purge ok not-installed\nArchitecture: amd64\n\n' +
        'Package: d\nStatus: install ok unpacked\nVersion: 2:3-4\nArchitecture: all\n',
    );
    assert.deepEqual(index.resolve('a:amd64'), { name: 'a', version: '1', manager: 'dpkg' });
    assert.equal(index.resolve('a:i386'), null);
    assert.equal(index.resolve('b'), null);
    assert.equal(index.resolve('c'), null);
    assert.equal(index.resolve('d')?.version, '2:3-4');
  });

  it('parses diversions in groups of three lines', () => {
    const d = parseDiversions('/a\n/a.orig\npkg\n/b\n/b.local\n:\n');
    assert.deepEqual(d.byFrom.get('/a'), { from: '/a', to: '/a.orig', by: 'pkg' });
    assert.equal(d.byTo.get('/b.local')?.by, ':');
    assert.equal(d.byFrom.size, 2);
  });
});

describe('dpkg package database (this machine)', () => {
  const hasDpkg = existsSync('/var/lib/dpkg/status');
  it('says libc.so.6 mapped into this process belongs to libc6 at the installed version', {
    skip: hasDpkg ? false : 'not a dpkg system',
  }, async () => {
    const libc = readFileSync('/proc/self/maps', 'utf8')
      .split('\n')
      .map((line) => line.slice(line.indexOf('/')))
      .find((path) => path.endsWith('/libc.so.6'));
    assert.ok(libc, 'this process maps libc.so.6');
    const { stdout: version } = await run('dpkg-query', ['-W', `-f=$\{Version}`, 'libc6']);
    for (const root of [undefined, '', '/']) {
      const db = await openPackageDb({ root });
      assert.equal(db?.manager, 'dpkg');
      const found = await db.lookup([libc, '/nonexistent/afterpatch/libc.so.6']);
      assert.deepEqual(found.get(libc), { name: 'libc6', version, manager: 'dpkg' });
      assert.equal(found.size, 1);
    }
  });
});
