// The Debian package (scripts/package-deb.mjs): contents and ownership, lintian, and a real
// install in a fresh Debian 12 root with Debian's own nodejs 18 (test/package/chroot.ts; the
// root is cached per day under /var/cache/afterpatch-test-debootstrap). Needs root, dpkg-deb,
// lintian and debootstrap (.ci/run installs them); skips otherwise.
import assert from 'node:assert/strict';
import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CLI } from '../../harness/cli.ts';
import { hasTool } from '../../harness/tools.ts';
import { cmd, freshRoot, inRoot, mustRun, removeRoot, withProc } from './chroot.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
const DEB_VERSION = `${pkg.version.replace('-', '~')}-1`;
/** The "previous release" for the upgrade test: same tree, a version that sorts lower. */
const PREV_VERSION = `${pkg.version.replace('-', '~')}~prev-1`;

const missing = ['dpkg-deb', 'lintian', 'debootstrap', 'chroot'].filter((t) => !hasTool(t));
const skip =
  process.getuid?.() !== 0
    ? 'needs root'
    : missing.length > 0
      ? `needs ${missing.join(', ')}`
      : !existsSync(CLI)
        ? 'run npm run build first'
        : false;

const EXPECTED_FILES = [
  './usr/bin/afterpatch',
  './usr/lib/afterpatch/afterpatch.cjs',
  './usr/lib/afterpatch/apt-hook',
  './usr/lib/systemd/system/afterpatch-metrics.service',
  './usr/lib/systemd/system/afterpatch-metrics.timer',
  './usr/lib/systemd/system/afterpatch-restart.service',
  './etc/apt/apt.conf.d/50afterpatch',
  './etc/afterpatch/afterpatch.toml',
  './usr/share/man/man8/afterpatch.8.gz',
  './usr/share/bash-completion/completions/afterpatch',
  './usr/share/zsh/vendor-completions/_afterpatch',
  './usr/share/doc/afterpatch/copyright',
  './usr/share/doc/afterpatch/changelog.Debian.gz',
  './usr/share/doc/afterpatch/changelog.gz',
  './usr/share/lintian/overrides/afterpatch',
  './usr/share/afterpatch/ansible/library/afterpatch_node',
  './usr/share/afterpatch/ansible/library/afterpatch.py',
  './usr/share/afterpatch/ansible/install.yml',
  './usr/share/afterpatch/ansible/rolling-restart.yml',
  './usr/share/afterpatch/ansible/roles/afterpatch/tasks/main.yml',
  './usr/share/afterpatch/ansible/tasks/save-result.yml',
  // rolling-restart.yml's controller steps: without it the packaged playbook cannot run.
  './usr/share/afterpatch/ansible/action_plugins/afterpatch_report.py',
];
const CONFFILES = ['/etc/afterpatch/afterpatch.toml', '/etc/apt/apt.conf.d/50afterpatch'];

/**
 * Every path in the root except dpkg's and apt's own bookkeeping, logs and caches, which an
 * install and purge change by design.
 */
async function snapshot(root: string): Promise<Set<string>> {
  const r = await mustRun(['find', root, '-xdev', '-mindepth', '1']);
  const volatile =
    /^\/(proc|sys|dev|tmp|var\/tmp|var\/log|var\/cache|var\/lib\/dpkg|var\/lib\/apt|root)(\/|$)/;
  return new Set(
    r.stdout
      .split('\n')
      .filter(Boolean)
      .map((p) => p.slice(root.length))
      .filter((p) => !volatile.test(p)),
  );
}

const diff = (a: Set<string>, b: Set<string>) => [...a].filter((x) => !b.has(x)).sort();

describe('Debian package', { skip }, () => {
  let out: string;
  let deb: string;
  let prevDeb: string;
  const roots: string[] = [];

  before(async () => {
    out = mkdtempSync(join(tmpdir(), 'afterpatch-deb-'));
    const script = join(ROOT, 'scripts/package-deb.mjs');
    await mustRun([process.execPath, script, '--bundle', CLI, '--out-dir', out], {
      env: process.env,
    });
    await mustRun(
      [process.execPath, script, '--bundle', CLI, '--out-dir', out, '--deb-version', PREV_VERSION],
      { env: process.env },
    );
    deb = join(out, `afterpatch_${DEB_VERSION}_all.deb`);
    prevDeb = join(out, `afterpatch_${PREV_VERSION}_all.deb`);
    assert.ok(existsSync(deb) && existsSync(prevDeb));
  });
  after(async () => {
    for (const r of roots) await removeRoot(r);
    rmSync(out, { recursive: true, force: true });
  });

  async function newRoot(): Promise<string> {
    const root = await freshRoot((s) => console.log(`# ${s}`));
    roots.push(root);
    return root;
  }

  it('has the expected files, all owned by root, and the control fields', async () => {
    const r = await mustRun(['dpkg-deb', '--contents', deb]);
    const entries = r.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const f = l.split(/\s+/);
        return { mode: f[0] ?? '', owner: f[1] ?? '', path: f[5] ?? '', target: f[7] };
      });
    for (const e of entries) assert.equal(e.owner, 'root/root', `${e.path} is ${e.owner}`);
    const paths = entries.map((e) => e.path);
    for (const p of EXPECTED_FILES) assert.ok(paths.includes(p), `missing ${p}`);
    const bin = entries.find((e) => e.path === './usr/bin/afterpatch');
    assert.equal(bin?.target, '../lib/afterpatch/afterpatch.cjs');
    assert.match(
      entries.find((e) => e.path.endsWith('/afterpatch.cjs'))?.mode ?? '',
      /^-rwxr-xr-x/,
    );
    assert.match(
      entries.find((e) => e.path.endsWith('/ansible/library/afterpatch_node'))?.mode ?? '',
      /^-rwxr-xr-x/,
    );
    assert.ok(
      !paths.some((p) => /\/ansible\/(.*\/)?(\.|README)/.test(p)),
      'no dot files or README under /usr/share/afterpatch',
    );
    const field = async (f: string) =>
      (await mustRun(['dpkg-deb', '--field', deb, f])).stdout.trim();
    assert.equal(await field('Package'), 'afterpatch');
    assert.equal(await field('Version'), DEB_VERSION);
    assert.equal(await field('Architecture'), 'all');
    assert.equal(await field('Depends'), 'nodejs (>= 18)');
    const conffiles = (await mustRun(['dpkg-deb', '--info', deb, 'conffiles'])).stdout;
    assert.deepEqual(conffiles.split('\n').filter(Boolean), CONFFILES);
    assert.equal(basename(deb), `afterpatch_${DEB_VERSION}_all.deb`);
  });

  it('is lintian-clean (pedantic and experimental tags included; overrides are justified)', async () => {
    const r = await cmd([
      'lintian',
      '--pedantic',
      '--display-info',
      '--display-experimental',
      '--fail-on',
      'error,warning,info,pedantic,experimental',
      deb,
    ]);
    assert.equal(r.code, 0, `${r.stdout}${r.stderr}`);
    assert.equal(r.stdout.trim(), '');
  });

  it('installs in a fresh Debian 12 root with its nodejs 18, runs, removes and purges', async () => {
    const root = await newRoot();
    const before = await snapshot(root);
    copyFileSync(deb, join(root, 'tmp/afterpatch.deb'));
    await withProc(root, async () => {
      const node = await inRoot(root, ['node', '--version']);
      assert.match(node.stdout, /^v18\./, 'Debian 12 nodejs');
      const inst = await inRoot(root, ['dpkg', '-i', '/tmp/afterpatch.deb']);
      assert.equal(inst.code, 0, inst.stderr);

      const v = await inRoot(root, ['afterpatch', '--version']);
      assert.equal(v.code, 0, v.stderr);
      assert.equal(v.stdout.trim(), pkg.version);
      const scan = await inRoot(root, ['afterpatch', 'scan']);
      assert.ok(scan.code === 0 || scan.code === 1, `scan exit ${scan.code}: ${scan.stderr}`);
      assert.match(scan.stdout, /processes? scanned/);
      const json = await inRoot(root, ['afterpatch', 'scan', '--json']);
      assert.ok(json.code === 0 || json.code === 1, json.stderr);
      JSON.parse(json.stdout);
      const check = await inRoot(root, ['afterpatch', 'check']);
      assert.match(check.stdout, /^AFTERPATCH (OK|WARNING|CRITICAL) - /, check.stderr);
      assert.ok(check.code <= 2, `check exit ${check.code}`);
      const hook = await inRoot(root, [
        'env',
        'AFTERPATCH_HOOK_FORCE=1',
        '/usr/lib/afterpatch/apt-hook',
      ]);
      assert.equal(hook.code, 0);
      assert.equal(hook.stderr, '', 'the apt hook ran the installed afterpatch without errors');
      // What afterpatch restart would leave behind (its state), for purge to remove.
      await inRoot(root, [
        'sh',
        '-c',
        'mkdir -p /var/lib/afterpatch && echo {} >/var/lib/afterpatch/state.json',
      ]);

      const rm = await inRoot(root, ['apt-get', 'remove', '-y', '-q', 'afterpatch']);
      assert.equal(rm.code, 0, rm.stderr);
      const status = await inRoot(root, [
        'dpkg-query',
        '-W',
        '-f',
        // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's format, not a JS template
        '${db:Status-Abbrev}',
        'afterpatch',
      ]);
      assert.equal(status.stdout.trim(), 'rc', 'removed, configuration files kept');
      for (const c of CONFFILES)
        assert.ok(existsSync(join(root, c)), `conffile ${c} kept on remove`);
      assert.ok(!existsSync(join(root, 'usr/lib/afterpatch/afterpatch.cjs')));
      assert.ok(existsSync(join(root, 'var/lib/afterpatch/state.json')), 'state kept on remove');
      // The hook's stamp in /run/afterpatch may or may not exist (run-time state, like the
      // restart state); purge removes both.
      const afterRemove = diff(await snapshot(root), before).filter(
        (p) => !p.startsWith('/run/afterpatch'),
      );
      assert.deepEqual(afterRemove, [
        '/etc/afterpatch',
        '/etc/afterpatch/afterpatch.toml',
        '/etc/apt/apt.conf.d/50afterpatch',
        '/var/lib/afterpatch',
        '/var/lib/afterpatch/state.json',
      ]);
      // apt still works with the hook's configuration left behind (the guard in 50afterpatch).
      const aptAfter = await inRoot(root, ['apt-get', 'check', '-q']);
      assert.equal(aptAfter.code, 0, aptAfter.stderr);

      const purge = await inRoot(root, ['apt-get', 'purge', '-y', '-q', 'afterpatch']);
      assert.equal(purge.code, 0, purge.stderr);
      const gone = await inRoot(root, ['dpkg-query', '-W', 'afterpatch']);
      assert.notEqual(gone.code, 0, 'purged: dpkg no longer knows the package');
    });
    const now = await snapshot(root);
    assert.deepEqual(diff(now, before), [], 'nothing left after purge');
    assert.deepEqual(diff(before, now), [], 'nothing of the system removed');
  });

  it('keeps a modified configuration file across an upgrade from the previous version', async () => {
    const root = await newRoot();
    copyFileSync(prevDeb, join(root, 'tmp/prev.deb'));
    copyFileSync(deb, join(root, 'tmp/new.deb'));
    const conf = join(root, 'etc/afterpatch/afterpatch.toml');
    await withProc(root, async () => {
      const i1 = await inRoot(root, ['dpkg', '-i', '/tmp/prev.deb']);
      assert.equal(i1.code, 0, i1.stderr);
      const edited = readFileSync(conf, 'utf8').replace('jobs = 64', 'jobs = 8');
      assert.ok(edited.includes('jobs = 8'));
      writeFileSync(conf, edited);
      const i2 = await inRoot(root, ['dpkg', '-i', '/tmp/new.deb']);
      assert.equal(i2.code, 0, i2.stderr);
      // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's format, not a JS template
      const status = await inRoot(root, ['dpkg-query', '-W', '-f', '${Version}', 'afterpatch']);
      assert.equal(status.stdout, DEB_VERSION);
      assert.equal(readFileSync(conf, 'utf8'), edited, 'the edit survived the upgrade');
      // And the edited file is valid: afterpatch loads it.
      const scan = await inRoot(root, ['afterpatch', 'restart', '--dry-run', '--yes']);
      assert.ok(scan.code !== 3, `restart --dry-run: ${scan.stdout}${scan.stderr}`);
    });
  });
});
