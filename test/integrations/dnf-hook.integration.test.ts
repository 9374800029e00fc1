// The dnf 4 hook (integrations/dnf/afterpatch.py and afterpatch.conf, running
// afterpatch-dnf-hook), driven by REAL dnf transactions: Debian ships dnf 4.14. Test rpms built
// with rpmbuild go into a scratch root (`dnf --installroot`); dnf loads the shipped plugin from a
// private plugin directory, with the shipped configuration pointing at a copy of the hook, so the
// machine's own dnf configuration and plugins are neither read nor changed (HOME is a scratch
// directory too: Debian's rpm keeps its database in ~/.rpmdb). A holder process runs the test
// library from the scratch root; an upgrade replaces the library, and the hook, run by the
// plugin, runs the real afterpatch, which must list the holder.
//
// Needs root, dnf, rpmbuild, gcc and `npm run build` (skips with the reason otherwise).
import assert from 'node:assert/strict';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CLI } from '../../harness/cli.ts';
import {
  compileHolder,
  compileLibrary,
  HOLDER_NAME,
  LIB_SONAME,
  spawnHolders,
  stopProcesses,
} from '../../harness/fixtures.ts';
import {
  afterpatchStubs,
  HOOK_PATH,
  notUnder,
  type Result,
  runOpenStdin,
  show,
} from '../../harness/hook-run.ts';
import { removeScratch, TEST_TMP } from '../../harness/stale-lib.ts';
import { which as whichOnPath } from '../../harness/tools.ts';
import { buildRpms, testRpmSpec } from '../helpers/rpm-build.ts';

const DNF_DIR = new URL('../../integrations/dnf/', import.meta.url).pathname;
const HOOK_SRC = new URL('../../integrations/apt/afterpatch-apt-hook', import.meta.url).pathname;
const PKG = 'afterpatch-test-dnfhook';
const OTHER = 'afterpatch-test-dnfother';
const which = (name: string) => whichOnPath(name, HOOK_PATH);

function whyNot(): string | false {
  if (process.platform !== 'linux') return 'Linux only';
  if (process.getuid?.() !== 0) return 'needs root (dnf transactions into a scratch root)';
  for (const [tool, pkg] of [
    ['dnf', 'dnf'],
    ['rpmbuild', 'rpm'],
    ['gcc', 'gcc'],
  ] as const) {
    if (which(tool) === undefined) return `${tool} not installed (apt-get install ${pkg})`;
  }
  if (!existsSync(CLI)) return `${CLI} is missing: run "npm run build" first`;
  return false;
}
const skip = whyNot();

describe('dnf hook through real dnf transactions', { skip }, () => {
  let dir = '';
  const stub = (name: string, body: string) => afterpatchStubs(dir).stub(name, body);
  const recorder = (name: string) => afterpatchStubs(dir).recorder(name);
  let root = '';
  let hook = '';
  let realBin = '';
  let holders: number[] = [];
  /** The package's rpms by version (1.0 …), and the other package's. */
  const rpms = new Map<string, string>();
  let version = 0;

  before(async () => {
    mkdirSync(TEST_TMP, { recursive: true, mode: 0o755 });
    dir = mkdtempSync(join(TEST_TMP, 'dnf-hook-'));
    root = join(dir, 'root');
    mkdirSync(root);
    // The hook as it would be installed: the apt hook under the name dnf-hook.
    mkdirSync(join(dir, 'lib'));
    writeFileSync(join(dir, 'lib', 'apt-hook'), readFileSync(HOOK_SRC), { mode: 0o755 });
    hook = join(dir, 'lib', 'dnf-hook');
    symlinkSync('apt-hook', hook);
    // The shipped plugin in a plugin directory of its own, its shipped configuration pointing at
    // that copy of the hook.
    mkdirSync(join(dir, 'dnf-plugins'));
    writeFileSync(
      join(dir, 'dnf-plugins', 'afterpatch.py'),
      readFileSync(`${DNF_DIR}afterpatch.py`),
    );
    mkdirSync(join(dir, 'plugins'));
    const conf = readFileSync(`${DNF_DIR}afterpatch.conf`, 'utf8');
    assert.match(conf, /^enabled = 1$/m);
    writeFileSync(join(dir, 'plugins', 'afterpatch.conf'), `${conf}hook = ${hook}\n`);
    mkdirSync(join(dir, 'home'));
    mkdirSync(join(dir, 'repos.d'));
    writeFileSync(join(dir, 'dnf.conf'), '[main]\ngpgcheck=0\ninstall_weak_deps=False\n');
    realBin = stub('real', `exec ${process.execPath} ${CLI} "$@"`);

    const build = join(dir, 'build');
    mkdirSync(build);
    const libDir = `${root}/usr/lib/${PKG}`;
    for (let v = 1; v <= 6; v++) {
      const lib = join(build, `lib-${v}.so`);
      await compileLibrary(lib, v, `${v}.0`);
      const [rpm] = await buildRpms(
        testRpmSpec(PKG, `${v}.0`, [[lib, `/usr/lib/${PKG}/${LIB_SONAME}`]]),
        join(build, `${PKG}-${v}.spec`),
        join(build, `top-${v}`),
      );
      assert.ok(rpm);
      rpms.set(`${v}.0`, rpm);
    }
    const [other] = await buildRpms(
      testRpmSpec(OTHER, '1.0', [[join(build, 'lib-1.so'), `/usr/lib/${OTHER}/${LIB_SONAME}`]]),
      join(build, `${OTHER}.spec`),
      join(build, 'top-other'),
    );
    assert.ok(other);
    rpms.set('other', other);

    const first = await dnf(['install', next()], { AFTERPATCH_SKIP: '1' });
    assert.equal(first.code, 0, show(first));
    const holder = join(build, HOLDER_NAME);
    await compileHolder(holder, join(build, 'lib-1.so'), libDir);
    holders = await spawnHolders(holder, 1);
  });

  after(async () => {
    await stopProcesses(holders).catch(() => {});
    if (dir !== '') removeScratch(dir);
  });

  /** The next version's rpm (each is an upgrade of the previous one). */
  function next(): string {
    version++;
    const rpm = rpms.get(`${version}.0`);
    assert.ok(rpm, 'out of test package versions');
    return rpm;
  }

  let n = 0;
  /**
   * dnf -y ARGS into the scratch root, with only our configuration, repositories (none) and
   * plugins; the hook's environment (our CLI, config, state, root) plus `extra`. The hook inherits
   * it from dnf, as it inherits dnf's.
   */
  function dnf(
    args: readonly string[],
    extra: NodeJS.ProcessEnv = {},
    pluginConf = join(dir, 'plugins'),
  ): Promise<Result> {
    const config = join(dir, 'afterpatch.toml');
    // Other jobs on this machine may hold stale files of their own: the listing shows only this
    // test's library.
    if (!existsSync(config)) {
      writeFileSync(config, `[scan]\nignore_files = ['${notUnder(`${root}/usr/lib/${PKG}/`)}']\n`);
    }
    const fakeRoot = join(dir, `fsroot-${++n}`);
    mkdirSync(join(fakeRoot, 'run'), { recursive: true });
    return runOpenStdin(
      [
        'dnf',
        '-y',
        `--config=${join(dir, 'dnf.conf')}`,
        `--installroot=${root}`,
        '--releasever=12',
        `--setopt=reposdir=${join(dir, 'repos.d')}`,
        `--setopt=pluginconfpath=${pluginConf}`,
        `--setopt=pluginpath=${join(dir, 'dnf-plugins')}`,
        ...args,
      ],
      {
        PATH: HOOK_PATH,
        HOME: join(dir, 'home'),
        LANG: 'C.UTF-8',
        AFTERPATCH_BIN: realBin,
        AFTERPATCH_CONFIG: config,
        AFTERPATCH_HOOK_STATE_DIR: join(dir, `state-${n}`),
        AFTERPATCH_ROOT: fakeRoot,
        AFTERPATCH_TEXTFILE_DIR: join(dir, 'no-node-exporter'),
        ...extra,
      },
      300_000,
    );
  }

  /** A plugin configuration directory with this afterpatch.conf; returns its path. */
  function pluginConf(name: string, text: string): string {
    const d = join(dir, `plugins-${name}`);
    mkdirSync(d);
    writeFileSync(join(d, 'afterpatch.conf'), text);
    return d;
  }

  it('dnf upgrade through the shipped plugin lists the stale holder', async () => {
    const r = await dnf(['upgrade', next()]);
    assert.equal(r.code, 0, show(r));
    const out = `${r.stdout}${r.stderr}`;
    assert.match(
      out,
      /afterpatch: processes still running outdated code after this upgrade:/,
      show(r),
    );
    const row = out.split('\n').find((l) => l.includes(`${root}/usr/lib/${PKG}/${LIB_SONAME}`));
    assert.match(
      row ?? '',
      new RegExp(`\\b${holders[0]}\\b`),
      `holder PID ${holders[0]}: ${show(r)}`,
    );
    assert.doesNotMatch(out, /afterpatch-dnf-hook:|afterpatch: cannot run|Traceback/, show(r));
  });

  it('runs once per transaction however many packages came in, with stdin /dev/null', async () => {
    const rec = recorder('rec-once');
    const r = await dnf(['install', next(), rpms.get('other') ?? ''], { AFTERPATCH_BIN: rec.bin });
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, new RegExp(`Upgrading +: ${PKG}-`), show(r));
    assert.match(r.stdout, new RegExp(`Installing +: ${OTHER}-`), show(r));
    const calls = rec.calls();
    assert.equal(calls.length, 2, calls.join('\n')); // scan, reboot-required: once
    assert.match(calls[0] ?? '', /^scan --config \S+\|stdin=\/dev\/null$/);
    assert.match(calls[1] ?? '', /^reboot-required --sentinel -q --root \S+\|stdin=\/dev\/null$/);
  });

  it('runs nothing after a removal, or with hooks.dnf = "off"; "restart" restarts', async () => {
    const rec = recorder('rec-out');
    const removed = await dnf(['remove', OTHER], { AFTERPATCH_BIN: rec.bin });
    assert.equal(removed.code, 0, show(removed));
    assert.match(removed.stdout, new RegExp(`Erasing +: ${OTHER}-`), show(removed));
    assert.deepEqual(rec.calls(), [], 'nothing came in');

    const off = join(dir, 'off.toml');
    writeFileSync(off, '[hooks]\napt = "restart"\ndnf = "off"\n');
    const r = await dnf(['upgrade', next()], { AFTERPATCH_BIN: rec.bin, AFTERPATCH_CONFIG: off });
    assert.equal(r.code, 0, show(r));
    assert.deepEqual(rec.calls(), [], 'hooks.dnf = "off"');

    const restart = join(dir, 'restart.toml');
    writeFileSync(restart, '[hooks]\napt = "off"\ndnf = "restart"\n');
    const again = await dnf(['reinstall', rpms.get(`${version}.0`) ?? ''], {
      AFTERPATCH_BIN: rec.bin,
      AFTERPATCH_CONFIG: restart,
    });
    assert.equal(again.code, 0, show(again));
    assert.match(rec.calls()[0] ?? '', /^restart --yes --config /, rec.calls().join('\n'));

    const calls = rec.calls().length;
    const disabled = await dnf(
      ['reinstall', rpms.get(`${version}.0`) ?? ''],
      { AFTERPATCH_BIN: rec.bin },
      pluginConf('disabled', `[main]\nenabled = 0\nhook = ${hook}\n`),
    );
    assert.equal(disabled.code, 0, show(disabled));
    assert.equal(rec.calls().length, calls, 'enabled = 0 in afterpatch.conf');
  });

  it('never fails the transaction: a failing afterpatch is one line in dnf’s log', async () => {
    const failing = stub('fail', 'echo "afterpatch: boom" >&2\necho "second line" >&2\nexit 70');
    const r = await dnf(['upgrade', next()], { AFTERPATCH_BIN: failing });
    assert.equal(r.code, 0, show(r));
    const out = `${r.stdout}${r.stderr}`;
    assert.match(out, /afterpatch-dnf-hook: afterpatch scan failed \(exit 70\): afterpatch: boom/);
    assert.match(out, /Upgraded:/, show(r));
    assert.doesNotMatch(out, /second line|Traceback/, show(r));

    const missing = join(dir, 'nowhere', 'dnf-hook');
    const gone = await dnf(
      ['upgrade', next()],
      {},
      pluginConf('missing', `[main]\nhook = ${missing}\n`),
    );
    assert.equal(gone.code, 0, show(gone));
    assert.ok(
      `${gone.stdout}${gone.stderr}`.includes(
        `afterpatch: cannot run ${missing}: No such file or directory`,
      ),
      show(gone),
    );
    assert.match(gone.stdout, /Upgraded:/, show(gone));
  });
});
