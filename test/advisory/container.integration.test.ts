// Containers for an advisory, for real: processes in their own PID and mount namespaces
// (unshare, as root) whose root is a tmpfs (pivot_root) holding a minimal dpkg status. One lists
// the test package at 1.0-1 → `image-vulnerable`, named by the container, never the host's
// verdict. In the other, var/lib/dpkg/status is an absolute symlink to a file that exists only on
// the host: it must be resolved inside the container (absent there) → `unknown`, never the host
// file's answer.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../../harness/cli.ts';
import { readInRoot } from '../../src/advisory/in-root.ts';
import { assertScanExitMatchesVerdict } from '../helpers/advisory-exit.ts';

const isRoot = process.geteuid?.() === 0;
const PKG = 'afterpatch-ctrtest';

const status = (version: string) =>
  `Package: ${PKG}\nStatus: install ok installed\nArchitecture: all\nVersion: ${version}\nDescription: test\n\n`;

/**
 * A shell script that makes a tmpfs root with the host's /usr bound read-only (so sleep runs),
 * lets `setup` fill it, pivots into it and sleeps. Paths are the test's own, never input.
 */
function containerScript(root: string, setup: string): string {
  return [
    'set -e',
    `R=${root}`,
    'mount -t tmpfs tmpfs "$R"',
    'mkdir -p "$R/usr" "$R/old" "$R/var/lib/dpkg" "$R/etc" "$R/proc"',
    'mount --bind -o ro /usr "$R/usr"',
    'ln -s usr/lib "$R/lib"; ln -s usr/lib64 "$R/lib64"; ln -s usr/bin "$R/bin"',
    setup,
    'cd "$R"',
    'pivot_root . old',
    'mount -t proc proc /proc',
    'umount -l /old',
    'exec /usr/bin/sleep 120',
  ].join('\n');
}

/** Starts the container; resolves with the host PID of its sleep once it has pivoted. */
async function startContainer(
  root: string,
  setup: string,
): Promise<{ pid: number; outer: number }> {
  mkdirSync(root, { recursive: true });
  const child = spawn(
    'unshare',
    [
      '--pid',
      '--mount',
      '--fork',
      '--propagation',
      'private',
      'sh',
      '-c',
      containerScript(root, setup),
    ],
    { stdio: 'ignore' },
  );
  const outer = child.pid as number;
  for (let i = 0; i < 100; i++) {
    await new Promise((r) => setTimeout(r, 50));
    let kids: string;
    try {
      kids = readFileSync(`/proc/${outer}/task/${outer}/children`, 'utf8').trim();
    } catch {
      continue;
    }
    const pid = Number(kids.split(' ')[0]);
    if (!pid) continue;
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'sleep') return { pid, outer };
    } catch {}
  }
  throw new Error('the container did not start');
}

describe('advisories in containers (own PID and mount namespace, pivot_root onto a tmpfs)', {
  skip: isRoot ? false : 'needs root (unshare, mount)',
}, () => {
  let dir = '';
  const started: number[] = [];
  let vulnerable = 0;
  let symlinked = 0;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'afterpatch-ctr-'));
    // A file only the host has, listing the package at a vulnerable version.
    writeFileSync(join(dir, 'host-status'), status('1.0-1'));
    const a = await startContainer(
      join(dir, 'a'),
      `printf '%s' '${status('1.0-1')}' > "$R/var/lib/dpkg/status"`,
    );
    const b = await startContainer(
      join(dir, 'b'),
      `ln -s ${join(dir, 'host-status')} "$R/var/lib/dpkg/status"`,
    );
    started.push(a.pid, a.outer, b.pid, b.outer);
    vulnerable = a.pid;
    symlinked = b.pid;
  });
  after(() => {
    // Only what this test started, by PID: the sleeps (PID 1 of their namespaces) end them.
    for (const pid of started) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {}
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('reads the container database inside its root; an absolute symlink never leads to the host', () => {
    assert.match(
      readInRoot(`/proc/${vulnerable}/root`, '/var/lib/dpkg/status', 1 << 20)?.toString() ?? '',
      /Version: 1\.0-1/,
    );
    // The kernel would follow it to the host's file; we resolve it in the container: absent.
    assert.match(readFileSync(`/proc/${symlinked}/root/var/lib/dpkg/status`, 'utf8'), /1\.0-1/);
    assert.equal(readInRoot(`/proc/${symlinked}/root`, '/var/lib/dpkg/status', 1 << 20), null);
  });

  it('scan --fixed: the container image-vulnerable, the symlinked one unknown, the host not unpatched', async () => {
    const r = await runCli([
      'scan',
      '--json',
      ...[vulnerable, symlinked].flatMap((p) => ['--pid', String(p)]),
      '--fixed',
      `${PKG}=2.0-1`,
    ]);
    assertScanExitMatchesVerdict(r);
    const d = JSON.parse(r.stdout);
    const mine = (d.containerVersions as { id: string; vulnerable: unknown; version: unknown }[])
      .filter((c) => c.vulnerable !== false)
      .map((c) => [c.vulnerable, c.version]);
    assert.deepEqual(
      mine.filter(([v]) => v === true),
      [[true, '1.0-1']],
    );
    assert.ok(
      mine.some(([v, ver]) => v === 'unknown' && ver === null),
      JSON.stringify(mine),
    );
    const adv = d.advisories[0];
    assert.equal(adv.verdict, 'image-vulnerable');
    // The host has no such package: no reason is the host's own.
    assert.ok(
      adv.reasons.every(
        (x: { verdict: string; why: string }) =>
          /^container /.test(x.why) || x.verdict === 'unknown',
      ),
      JSON.stringify(adv.reasons),
    );
    assert.ok(!adv.reasons.some((x: { verdict: string }) => x.verdict === 'unpatched'));
  });
});

describe('readInRoot: symlinks resolved inside the root', () => {
  it('clamps `..` at the root, follows relative and absolute links inside it, refuses loops and FIFOs', () => {
    const root = mkdtempSync(join(tmpdir(), 'afterpatch-inroot-'));
    try {
      mkdirSync(join(root, 'etc'));
      mkdirSync(join(root, 'a'));
      writeFileSync(join(root, 'etc', 'passwd'), 'inside\n');
      symlinkSync('../../../../etc', join(root, 'a', 'up'));
      symlinkSync('/etc/passwd', join(root, 'a', 'abs'));
      symlinkSync('loop', join(root, 'a', 'loop'));
      execFileSync('mkfifo', [join(root, 'fifo')]);
      const read = (p: string) => readInRoot(root, p, 1 << 20)?.toString() ?? null;
      assert.equal(read('/a/up/passwd'), 'inside\n');
      assert.equal(read('/a/abs'), 'inside\n');
      assert.equal(read('/a/../../etc/passwd'), 'inside\n');
      assert.equal(read('/a/loop'), null);
      assert.equal(read('/fifo'), null);
      assert.equal(read('/etc/passwd'.padEnd(20, '/')), 'inside\n');
      assert.equal(readInRoot(root, '/etc/passwd', 3), null, 'larger than the bound');
      // Deep chains of links are cut off, not walked without end.
      let prev = 'etc';
      for (let i = 0; i < 30; i++) {
        const name = `d${i}`;
        symlinkSync(`${'x/../'.repeat(20)}${prev}`, join(root, name));
        prev = name;
      }
      mkdirSync(join(root, 'x'));
      assert.equal(read(`/${prev}/passwd`), null);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
