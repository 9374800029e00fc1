// The apt/dpkg hook (integrations/apt/afterpatch-apt-hook and 50afterpatch), driven by REAL
// package operations: `apt-get install ./pkg.deb` with the shipped 50afterpatch in a temporary
// apt.conf.d (-o Dir::Etc::parts=…, so the machine's own apt hooks do not run), and
// `dpkg --post-invoke=HOOK -i pkg.deb` (dpkg's own hook mechanism). A test package is upgraded
// under a running holder process, so afterpatch has something real to report.
//
// Nothing is installed into the machine's /etc/apt, /etc/dpkg or /usr/lib: the hook runs from a
// temporary copy, its state goes to a temporary directory, and reboot-required runs with
// AFTERPATCH_ROOT=<temporary root>, so the sentinel lands in <root>/run, never in /run.
//
// Needs root, dpkg, apt-get, gcc and `npm run build` (skips with the reason otherwise).
import assert from 'node:assert/strict';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CLI } from '../../harness/cli.ts';
import {
  buildTestDeb,
  dpkgPurge,
  isInstalled,
  spawnHolders,
  stopProcesses,
  testPackagePaths,
} from '../../harness/fixtures.ts';
import {
  afterpatchStubs,
  HOOK_PATH,
  notUnder,
  type Result,
  runOpenStdin,
  runPlain,
  show,
} from '../../harness/hook-run.ts';
import { removeScratch, TEST_TMP } from '../../harness/stale-lib.ts';
import { which as whichOnPath } from '../../harness/tools.ts';

const HOOK_SRC = new URL('../../integrations/apt/afterpatch-apt-hook', import.meta.url).pathname;
const APT_CONF_SRC = new URL('../../integrations/apt/50afterpatch', import.meta.url).pathname;
const INSTALLED_HOOK = '/usr/lib/afterpatch/apt-hook';
const PKG = 'afterpatch-test-apthook';

const which = (name: string) => whichOnPath(name, HOOK_PATH);

function whyNot(): string | false {
  if (process.platform !== 'linux') return 'Linux only';
  if (process.getuid?.() !== 0) return 'needs root (installs a test package with dpkg)';
  for (const tool of ['dpkg', 'dpkg-deb', 'apt-get', 'gcc']) {
    if (which(tool) === undefined) return `${tool} not installed`;
  }
  if (!existsSync(CLI)) return `${CLI} is missing: run "npm run build" first`;
  return false;
}
const skip = whyNot();

/** The running kernel release and a newer one of the same flavour (null when unusual). */
function kernels(): { running: string; newer: string } | null {
  const running = readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
  const m = /^(\d+)\.(\d+)\.(\d+)(.*)$/.exec(running);
  if (!m) return null;
  return { running, newer: `${m[1]}.${m[2]}.${Number(m[3]) + 1}${m[4]}` };
}

describe('apt/dpkg hook through real package operations', { skip }, () => {
  let dir = '';
  const stub = (name: string, body: string) => afterpatchStubs(dir).stub(name, body);
  const recorder = (name: string) => afterpatchStubs(dir).recorder(name);
  let hook = '';
  let parts = '';
  let aptConfig = '';
  let realBin = '';
  let holders: number[] = [];
  const debs: string[] = [];
  let version = 0;
  const paths = testPackagePaths(PKG);

  before(async () => {
    mkdirSync(TEST_TMP, { recursive: true, mode: 0o755 });
    dir = mkdtempSync(join(TEST_TMP, 'apt-hook-'));
    // The hook as it would be installed, under its installed name.
    mkdirSync(join(dir, 'lib'));
    hook = join(dir, 'lib', 'apt-hook');
    copyFileSync(HOOK_SRC, hook);
    chmodSync(hook, 0o755);
    // The shipped apt.conf.d snippet, pointing at that copy.
    parts = join(dir, 'apt.conf.d');
    mkdirSync(parts);
    const conf = readFileSync(APT_CONF_SRC, 'utf8');
    assert.ok(conf.includes(INSTALLED_HOOK));
    writeFileSync(join(parts, '50afterpatch'), conf.replaceAll(INSTALLED_HOOK, hook));
    // apt reads APT_CONFIG first, then Dir::Etc::parts: only our snippet, none of the machine's
    // (an `-o Dir::Etc::parts=` would come too late, after the machine's parts were read).
    aptConfig = join(dir, 'apt.conf');
    writeFileSync(aptConfig, `Dir::Etc::parts "${parts}";\n`);
    // `afterpatch` = the built CLI.
    realBin = stub('real', `exec ${process.execPath} ${CLI} "$@"`);

    for (let v = 1; v <= 6; v++) {
      debs.push(await buildTestDeb({ name: PKG, version: `${v}.0-1`, libValue: v }));
    }
    await dpkgPurge(PKG);
    const first = await dpkg(['-i', next()], null);
    assert.equal(first.code, 0, show(first));
    holders = await spawnHolders(paths.holder, 1);
  });

  after(async () => {
    await stopProcesses(holders).catch(() => {});
    await dpkgPurge(PKG).catch(() => {});
    if (dir !== '') removeScratch(dir);
  });

  /** The next version's .deb (each install is an upgrade of the previous one). */
  function next(): string {
    const deb = debs[version];
    version++;
    assert.ok(deb, 'out of test package versions');
    return deb;
  }

  let rootN = 0;
  /** A fresh file-system root for reboot-required (its run/ receives the sentinel). */
  function fakeRoot(newerKernel: boolean): string {
    const root = join(dir, `root-${++rootN}`);
    mkdirSync(join(root, 'run'), { recursive: true });
    const k = kernels();
    if (newerKernel && k) {
      mkdirSync(join(root, 'boot'));
      writeFileSync(join(root, 'boot', `vmlinuz-${k.running}`), '');
      writeFileSync(join(root, 'boot', `vmlinuz-${k.newer}`), '');
    }
    return root;
  }

  let stateN = 0;
  /** The hook's environment: our CLI, our state, our root, our config; plus `extra`. */
  function hookEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
    const config = join(dir, 'afterpatch.toml');
    // Other jobs on this machine may hold stale files of their own: the listing (20 lines at
    // most) shows only this test's library, so the assertions do not depend on them.
    if (!existsSync(config)) {
      writeFileSync(config, `[scan]\nignore_files = ['${notUnder(`/usr/lib/${PKG}/`)}']\n`);
    }
    return {
      PATH: HOOK_PATH,
      LANG: 'C.UTF-8',
      DEBIAN_FRONTEND: 'noninteractive',
      AFTERPATCH_BIN: realBin,
      AFTERPATCH_CONFIG: config,
      AFTERPATCH_HOOK_STATE_DIR: join(dir, `state-${++stateN}`),
      AFTERPATCH_ROOT: fakeRoot(false),
      AFTERPATCH_TEXTFILE_DIR: join(dir, 'no-node-exporter'),
      ...extra,
    };
  }

  /**
   * dpkg ARGS with `--post-invoke=HOOK` (dpkg runs it through sh -c after the operation) and the
   * hook's environment; with env null, plain dpkg.
   */
  function dpkg(args: readonly string[], env: NodeJS.ProcessEnv | null): Promise<Result> {
    if (env === null) {
      return runOpenStdin(['dpkg', ...args], {
        PATH: HOOK_PATH,
        DEBIAN_FRONTEND: 'noninteractive',
      });
    }
    return runOpenStdin(['dpkg', `--post-invoke=${hook}`, ...args], env);
  }

  it('apt-get install through the shipped 50afterpatch lists the stale holder', async () => {
    const textDir = join(dir, 'node-exporter');
    mkdirSync(textDir);
    const env = hookEnv({ AFTERPATCH_TEXTFILE_DIR: textDir, APT_CONFIG: aptConfig });
    const dump = await runOpenStdin(['apt-config', 'dump'], env);
    assert.match(dump.stdout, /^DPkg::Post-Invoke:: "if \[ -x .*apt-hook \]; then/m);
    assert.doesNotMatch(dump.stdout, /PackageKit/, "none of the machine's apt hooks");
    const root = env.AFTERPATCH_ROOT ?? '';
    const deb = next();
    const r = await runOpenStdin(
      ['apt-get', '-o', 'Dpkg::Use-Pty=0', '-y', '--no-install-recommends', 'install', deb],
      env,
      300_000,
    );
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, /afterpatch: processes still running outdated code after this upgrade:/);
    assert.ok(r.stdout.includes(`${paths.lib}`), show(r));
    assert.ok(r.stdout.includes(String(holders[0])), `holder PID ${holders[0]}: ${show(r)}`);
    assert.doesNotMatch(r.stdout, /reboot is required/);
    assert.ok(!existsSync(join(root, 'run', 'reboot-required')), 'no reboot needed: no sentinel');
    // node_exporter's directory exists here: metrics were refreshed too.
    const prom = readFileSync(join(textDir, 'afterpatch.prom'), 'utf8');
    assert.match(prom, /^afterpatch_outdated_processes [1-9]/m);
    assert.doesNotMatch(r.stderr, /afterpatch-apt-hook/, show(r));
  });

  it('dpkg -i with dpkg’s post-invoke writes the sentinel only when a reboot is needed', {
    skip: kernels() === null ? 'unusual kernel release string' : false,
  }, async () => {
    const hostSentinel = () =>
      existsSync('/run/reboot-required') ? statSync('/run/reboot-required').mtimeMs : null;
    const hostBefore = hostSentinel();
    const env = hookEnv({ AFTERPATCH_ROOT: fakeRoot(true) });
    const root = env.AFTERPATCH_ROOT ?? '';
    const r = await dpkg(['-i', next()], env);
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, /afterpatch: a reboot is required/, show(r));
    assert.ok(r.stdout.includes(paths.lib), show(r));
    assert.match(
      readFileSync(join(root, 'run', 'reboot-required'), 'utf8'),
      /System restart required/,
    );
    assert.equal(
      readFileSync(join(root, 'run', 'reboot-required.pkgs'), 'utf8'),
      `linux-image-${kernels()?.newer}\n`,
    );
    assert.equal(hostSentinel(), hostBefore, "the machine's /run/reboot-required is untouched");
  });

  it('runs only when dpkg unpacked something (dpkg.log), and always exits 0', async () => {
    const rec = recorder('rec-unpacked');
    const env = hookEnv({ AFTERPATCH_BIN: rec.bin });
    const installed = await dpkg(['-i', next()], env);
    assert.equal(installed.code, 0, show(installed));
    assert.equal(rec.calls().length, 2, rec.calls().join('\n')); // scan, reboot-required
    // The same hook again, with nothing new in dpkg.log: nothing to do.
    const again = await runOpenStdin([hook], env);
    assert.equal(again.code, 0, show(again));
    assert.equal(rec.calls().length, 2, 'no new dpkg.log lines: afterpatch not called');
    // A real dpkg run that unpacks nothing (a removal) does not run afterpatch either; the
    // holder keeps the removed library mapped, the next test installs the package again.
    assert.ok(statSync(paths.lib).isFile());
    const removed = await dpkg(['--remove', PKG], env);
    assert.equal(removed.code, 0, show(removed));
    assert.ok(!existsSync(paths.lib));
    assert.equal(rec.calls().length, 2, 'a removal unpacks nothing');
  });

  it('never fails dpkg when afterpatch fails, crashes, hangs or is missing', async () => {
    const failing = stub('fail', 'echo "afterpatch: boom" >&2\necho "second line" >&2\nexit 70');
    const r = await dpkg(['-i', next()], hookEnv({ AFTERPATCH_BIN: failing }));
    assert.equal(r.code, 0, show(r));
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('afterpatch-apt-hook:'));
    assert.deepEqual(
      lines,
      [
        'afterpatch-apt-hook: afterpatch scan failed (exit 70): afterpatch: boom',
        'afterpatch-apt-hook: afterpatch reboot-required failed (exit 70): afterpatch: boom',
      ],
      show(r),
    );
    assert.ok(await isInstalled(PKG));

    const cases: [string, NodeJS.ProcessEnv, RegExp][] = [
      [
        'a crash (SIGKILL)',
        { AFTERPATCH_BIN: stub('crash', 'kill -KILL $$') },
        /^afterpatch-apt-hook: afterpatch scan failed \(exit 137\)/,
      ],
      [
        'a hang',
        { AFTERPATCH_BIN: stub('hang', 'exec sleep 60'), AFTERPATCH_HOOK_TIMEOUT: '1' },
        /^afterpatch-apt-hook: afterpatch scan timed out after 1s$/,
      ],
      [
        'a missing binary',
        { AFTERPATCH_BIN: join(dir, 'nowhere', 'afterpatch') },
        /^afterpatch-apt-hook: afterpatch not found \(.*nowhere\/afterpatch\); nothing checked/,
      ],
      [
        'a failing afterpatch found in PATH',
        {
          AFTERPATCH_BIN: '',
          PATH: `${join(dir, 'bin-fail')}:${HOOK_PATH}`,
        },
        /^afterpatch-apt-hook: afterpatch scan failed \(exit 70\): afterpatch: boom$/,
      ],
      [
        'a partial scan (exit 3): its own last line, not "No process runs outdated code" (was: "failed")',
        {
          AFTERPATCH_BIN: stub(
            'partial',
            [
              'case "$1" in scan) ;; *) exit 0;; esac',
              'echo "No process runs outdated code (58 processes scanned)."',
              'echo "1 of 59 processes could not be read: afterpatch runs without CAP_SYS_PTRACE."',
              'echo "afterpatch: 1 of 59 processes could not be read without CAP_SYS_PTRACE: the scan is partial (exit 3)." >&2',
              'exit 3',
            ].join('\n'),
          ),
        },
        /^afterpatch-apt-hook: afterpatch scan: 1 of 59 processes could not be read without CAP_SYS_PTRACE: the scan is partial \(exit 3\)\.$/,
      ],
      [
        'a non-executable afterpatch',
        { AFTERPATCH_BIN: APT_CONF_SRC },
        /^afterpatch-apt-hook: afterpatch not found/,
      ],
    ];
    for (const [what, extra, first] of cases) {
      const t0 = Date.now();
      const h = await runOpenStdin([hook], hookEnv({ AFTERPATCH_HOOK_FORCE: '1', ...extra }));
      assert.equal(h.code, 0, `${what}: ${show(h)}`);
      const errLines = h.stderr.trim().split('\n');
      assert.match(errLines[0] ?? '', first, `${what}: ${show(h)}`);
      assert.ok(
        errLines.every((l) => l.startsWith('afterpatch-apt-hook: ')),
        `${what}: one line per failure: ${show(h)}`,
      );
      assert.ok(Date.now() - t0 < 40_000, `${what}: took ${Date.now() - t0} ms`);
    }
  });

  it('does nothing with AFTERPATCH_SKIP=1, even after a real upgrade', async () => {
    const rec = recorder('rec-skip');
    const env = hookEnv({ AFTERPATCH_BIN: rec.bin, AFTERPATCH_SKIP: '1' });
    const r = await dpkg(['-i', next()], env);
    assert.equal(r.code, 0, show(r));
    assert.deepEqual(rec.calls(), []);
    assert.doesNotMatch(`${r.stdout}${r.stderr}`, /afterpatch-apt-hook|^afterpatch:/m);
    assert.ok(!existsSync(env.AFTERPATCH_HOOK_STATE_DIR ?? ''), 'no state written either');
  });

  it('never reads stdin: afterpatch always gets /dev/null', async () => {
    const rec = recorder('rec-stdin');
    // stdin of the hook is an open pipe nobody writes to: a read would hang until the timeout.
    const r = await runOpenStdin(
      [hook],
      hookEnv({ AFTERPATCH_BIN: rec.bin, AFTERPATCH_HOOK_FORCE: '1' }),
      20_000,
    );
    assert.equal(r.code, 0, show(r));
    const calls = rec.calls();
    assert.equal(calls.length, 2);
    for (const c of calls) assert.match(c, /\|stdin=\/dev\/null$/);
  });

  it('follows hooks.apt in the configuration: list, restart, off', async () => {
    const cases: [string, string | null, RegExp[], RegExp | null][] = [
      ['no [hooks] table', '[restart]\njobs = 2\n', [/^scan --config /, /^reboot-required /], null],
      [
        'restart',
        '[hooks]\napt = "restart"   # unattended\ndnf = "off"\n',
        [/^restart --yes --config /, /^reboot-required --sentinel -q --root /],
        null,
      ],
      ['a dotted key', "hooks.apt = 'restart'\n", [/^restart --yes /, /^reboot-required /], null],
      ['off', '[scan]\n\n[hooks]\napt = "off"\n', [], null],
      ['dnf = off does not switch off apt', '[hooks]\ndnf = "off"\n', [/^scan /, /^reb/], null],
      [
        'a bad value',
        '[hooks]\napt = "sometimes"\n',
        [/^scan /, /^reboot-required /],
        /^afterpatch-apt-hook: .*hooks\.apt must be "list", "restart" or "off"; listing only$/,
      ],
      ['a missing file', null, [/^scan /, /^reboot-required /], null],
    ];
    for (const [what, toml, expected, warning] of cases) {
      const rec = recorder(`rec-mode-${what.replace(/[^a-z]+/g, '-')}`);
      const config = join(dir, `mode-${what.replace(/[^a-z]+/g, '-')}.toml`);
      if (toml !== null) writeFileSync(config, toml);
      const r = await runOpenStdin(
        [hook],
        hookEnv({ AFTERPATCH_BIN: rec.bin, AFTERPATCH_HOOK_FORCE: '1', AFTERPATCH_CONFIG: config }),
      );
      assert.equal(r.code, 0, `${what}: ${show(r)}`);
      const calls = rec.calls();
      assert.equal(calls.length, expected.length, `${what}: ${calls.join('\n')}`);
      expected.forEach((re, i) => {
        assert.match(calls[i] ?? '', re, what);
      });
      if (warning) assert.match(r.stderr.trim(), warning, what);
      else assert.equal(r.stderr, '', `${what}: ${show(r)}`);
    }
  });

  it('as dnf-hook it reads hooks.dnf and does not need dpkg.log', async () => {
    const dnfHook = join(dir, 'lib', 'dnf-hook');
    symlinkSync('apt-hook', dnfHook);
    const rec = recorder('rec-dnf');
    const config = join(dir, 'dnf.toml');
    writeFileSync(config, '[hooks]\napt = "off"\ndnf = "restart"\n');
    const r = await runOpenStdin(
      [dnfHook],
      hookEnv({
        AFTERPATCH_BIN: rec.bin,
        AFTERPATCH_CONFIG: config,
        AFTERPATCH_DPKG_LOG: join(dir, 'no-such-log'),
      }),
    );
    assert.equal(r.code, 0, show(r));
    assert.match(rec.calls()[0] ?? '', /^restart --yes /);
    const failing = await runOpenStdin(
      [dnfHook],
      hookEnv({ AFTERPATCH_BIN: join(dir, 'bin-fail', 'afterpatch'), AFTERPATCH_CONFIG: config }),
    );
    assert.equal(failing.code, 0);
    assert.match(failing.stderr, /^afterpatch-dnf-hook: afterpatch restart failed \(exit 70\)/);
  });

  it('suggests afterpatch restart only for restartable entries, and passes no controls (11.14, 12.1)', async () => {
    const row = (action: string) =>
      `printf 'UNIT  KIND  PIDS  COMMAND  STALE FILE  PACKAGE  ACTION\\n%s\\n' '${action}'`;
    const scanStub = (name: string, action: string) =>
      stub(name, `case "$1" in scan) ${row(action)}; exit 1 ;; esac\nexit 0`);
    const cases: [string, string, RegExp][] = [
      [
        'only a container',
        'c  lxc container  5  x  /usr/lib/l.so  not packaged  restart the lxc container \x1b]0;PWN\x07\x1b[2J\xc2\x9b; rebuild',
        /afterpatch restart cannot restart these: follow the ACTION column/,
      ],
      [
        'processes outside units',
        '-  no unit  5  x  /usr/lib/l.so  not packaged  not in a systemd unit: restart PID 5 by hand',
        /afterpatch restart cannot restart these/,
      ],
      [
        'a unit',
        'ssh.service  unit  5  sshd  /usr/lib/l.so  libssl3 3.0  systemctl restart ssh.service',
        /restart them with "afterpatch restart"/,
      ],
      [
        'a user unit',
        'a.service  user unit (uid 1000)  5  a  /usr/lib/l.so  x 1  systemctl --user -M 1000@ restart a.service',
        /restart them with "afterpatch restart"/,
      ],
    ];
    for (const [what, action, re] of cases) {
      const bin = scanStub(`scan-${what.replace(/[^a-z]+/g, '-')}`, action);
      const r = await runOpenStdin(
        [hook],
        hookEnv({ AFTERPATCH_BIN: bin, AFTERPATCH_HOOK_FORCE: '1' }),
      );
      assert.equal(r.code, 0, `${what}: ${show(r)}`);
      assert.match(r.stdout, re, `${what}: ${show(r)}`);
      const controls = [...r.stdout].filter((c) => (c < ' ' && c !== '\n') || c === '\x7f');
      assert.deepEqual(controls, [], `${what}: no control reaches apt's output`);
    }
  });

  it('passes sh -n, dash -n and shellcheck', async () => {
    for (const sh of ['sh', 'dash', 'bash']) {
      const bin = which(sh);
      if (bin === undefined) continue;
      const r = await runPlain(bin, ['-n', HOOK_SRC]);
      assert.equal(r.code, 0, `${sh} -n: ${r.stderr}`);
    }
    const shellcheck = which('shellcheck');
    if (shellcheck === undefined) return;
    const r = await runPlain(shellcheck, ['-s', 'sh', HOOK_SRC]);
    assert.equal(r.code, 0, r.stdout);
  });
});
