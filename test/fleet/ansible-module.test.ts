// Runs both Ansible modules as Ansible does - the Python one (integrations/ansible/library/
// afterpatch.py, `python3 <module> <args.json>` with ANSIBLE_MODULE_ARGS, as AnsiballZ does
// underneath) and the Node.js one (library/afterpatch_node, WANT_JSON: `node <module>
// <args.json>`) - against the built CLI reading a fake /proc through a wrapper. One table of
// cases for both, and the two must return the same result for the same arguments.
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CLI } from '../../harness/cli.ts';
import { writeCliStandIn } from '../../harness/cli-stand-in.ts';
import { writeFakeSystemctl } from '../helpers/fake-systemctl.ts';
import { FAKE_INIT, FAKE_STALE_SSHD, makeProcTree } from '../helpers/fakeproc.ts';
import { validateDocument } from '../helpers/schema.ts';

const LIBRARY = fileURLToPath(new URL('../../integrations/ansible/library/', import.meta.url));
/** Debian's python3, which has ansible-core's module_utils (not a pyenv shim's). */
const PYTHON = '/usr/bin/python3';

interface ModuleKind {
  name: string;
  file: string;
  /** argv running the module on its arguments file, and that file's content. */
  argv(args: string): string[];
  argsText(args: object): string;
  /** Why this kind cannot run here (skip), or false. */
  skip: string | false;
  /** msg for an option of the wrong type, an unknown option, arguments that are not JSON. */
  badBool: RegExp;
  unknown: RegExp;
  notJson: RegExp;
}

const hasAnsible =
  existsSync(PYTHON) && existsSync('/usr/lib/python3/dist-packages/ansible/module_utils/basic.py');

const MODULES: readonly ModuleKind[] = [
  {
    name: 'afterpatch (Python, pipelined)',
    file: join(LIBRARY, 'afterpatch.py'),
    argv: (args) => [PYTHON, join(LIBRARY, 'afterpatch.py'), args],
    argsText: (args) => JSON.stringify({ ANSIBLE_MODULE_ARGS: args }),
    skip: hasAnsible ? false : 'ansible-core not installed for /usr/bin/python3',
    badBool: /argument 'force' .*not a valid boolean/,
    unknown: /Unsupported parameters for .*: colour/,
    notJson: /unable to decode valid JSON/,
  },
  {
    name: 'afterpatch_node (Node.js, WANT_JSON)',
    file: join(LIBRARY, 'afterpatch_node'),
    argv: (args) => [process.execPath, join(LIBRARY, 'afterpatch_node'), args],
    argsText: (args) => JSON.stringify(args),
    skip: false,
    badBool: /force: expected a boolean/,
    unknown: /unsupported parameters: colour/,
    notJson: /not JSON/,
  },
];

interface ModuleRun {
  code: number;
  stdout: string;
  result: Record<string, unknown>;
}

/** A result with what differs between two runs or two modules by design made equal. */
function comparable(r: Record<string, unknown>): unknown {
  return JSON.parse(JSON.stringify(r), (k, v) =>
    // Times of the runs (each run scans and restarts anew); AnsibleModule adds `invocation`.
    ['time', 'durationMs', 'invocation'].includes(k) ? undefined : v,
  );
}

describe('Ansible modules afterpatch (Python) and afterpatch_node', () => {
  let dir: string;
  let fx: ReturnType<typeof makeProcTree>;
  let oldWrapper: string;
  let PATH: string;
  let n = 0;
  /**
   * Each module's own directory: its stand-in CLI (restart records in its own state directory,
   * so the two modules' tests can run side by side), a CLI whose --version fails, its runs' files.
   */
  const homes = new Map<
    ModuleKind,
    { dir: string; wrapper: string; noVersionWrapper: string; blindWrapper: string }
  >();
  /** A /proc without sys/kernel/osrelease: the reboot verdict is unknown. */
  let blind: ReturnType<typeof makeProcTree>;
  const home = (mod: ModuleKind) => {
    const h = homes.get(mod);
    assert.ok(h !== undefined);
    return h;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'afterpatch-module-'));
    fx = makeProcTree({
      1: FAKE_INIT,
      10: FAKE_STALE_SSHD,
    });
    blind = makeProcTree({ 1: FAKE_INIT }, { kernel: null });
    mkdirSync(join(dir, 'root'));
    mkdirSync(join(dir, 'bin'));
    oldWrapper = join(dir, 'afterpatch-old');
    writeFileSync(oldWrapper, '#!/bin/sh\necho 0.0.1\n');
    chmodSync(oldWrapper, 0o755);
    for (const [i, mod] of MODULES.entries()) {
      const d = join(dir, `module-${i}`);
      mkdirSync(join(d, 'root'), { recursive: true }); // root: a directory, no executable
      // The hidden --proc-root exists on scan, restart and reboot-required (which also takes --root).
      const wrapper = join(d, 'afterpatch');
      await writeCliStandIn(wrapper, {
        scan: ['--proc-root', fx.root, '--root', join(dir, 'root')],
        restart: [
          '--proc-root',
          fx.root,
          '--root',
          join(dir, 'root'),
          '--state-dir',
          join(d, 'state'),
        ],
        'reboot-required': ['--proc-root', fx.root, '--root', join(dir, 'root')],
      });
      // A CLI whose --version fails: proves known_version skips that run.
      const noVersionWrapper = join(d, 'afterpatch-no-version');
      writeFileSync(
        noVersionWrapper,
        `#!/bin/sh\n[ "$1" = --version ] && { echo 'no --version here' >&2; exit 3; }\nexec '${wrapper}' "$@"\n`,
      );
      chmodSync(noVersionWrapper, 0o755);
      const blindWrapper = join(d, 'afterpatch-blind');
      await writeCliStandIn(blindWrapper, {
        scan: ['--proc-root', blind.root, '--root', join(dir, 'root')],
      });
      homes.set(mod, { dir: d, wrapper, noVersionWrapper, blindWrapper });
    }
    // restart asks systemd about the units: a fake systemctl (loaded, active, no reload).
    writeFakeSystemctl(join(dir, 'bin'));
    PATH = `${join(dir, 'bin')}:${process.env.PATH ?? '/usr/bin:/bin'}`;
  });
  after(() => {
    fx.cleanup();
    blind.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  // Each run's result, by module and arguments: "both modules" compares the runs the tests of
  // each module already made (every run costs a few CLI runs) and makes only the missing ones.
  // A module's own stand-in is named WRAPPER in the key, so both modules' runs compare.
  const WRAPPER = "(the module's stand-in)";
  const results = new Map<string, ModuleRun>();
  const key = (mod: ModuleKind, args: object) => {
    const named: Record<string, unknown> = { ...args };
    if (named.afterpatch === home(mod).wrapper) named.afterpatch = WRAPPER;
    return `${mod.name}\0${JSON.stringify(named, Object.keys(named).sort())}`;
  };

  async function runModule(mod: ModuleKind, args: object | string): Promise<ModuleRun> {
    const run = await runModuleOnce(mod, args);
    if (typeof args === 'object') results.set(key(mod, args), run);
    return run;
  }

  function runModuleOnce(mod: ModuleKind, args: object | string): Promise<ModuleRun> {
    const { dir: d } = home(mod);
    // Every run starts without restart records: an earlier run's would change the plan.
    rmSync(join(d, 'state'), { recursive: true, force: true });
    const file = join(d, `args-${n++}.json`);
    writeFileSync(file, typeof args === 'string' ? args : mod.argsText(args));
    const [cmd, ...argv] = mod.argv(file);
    return new Promise((resolve) => {
      execFile(cmd ?? '', argv, { env: { PATH }, cwd: d }, (err, stdout) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 127) : 0;
        // Exactly one JSON object on stdout, nothing before or after it.
        assert.equal(stdout.trim().split('\n').length, 1, stdout);
        const result = JSON.parse(stdout);
        assert.equal(typeof result, 'object');
        assert.ok(!Array.isArray(result));
        resolve({ code, stdout, result });
      });
    });
  }

  // The two modules side by side (each one's tests in order): half the wall time of this file.
  describe('each module', { concurrency: true }, () => {
    for (const mod of MODULES) {
      describe(mod.name, { skip: mod.skip, concurrency: 1 }, () => {
        const run = (args: object | string) => runModule(mod, args);
        let wrapper = '';
        let noVersionWrapper = '';
        let dir = '';
        before(() => {
          ({ wrapper, noVersionWrapper, dir } = home(mod));
        });

        it('state scanned: the combined per-host result, changed false', async () => {
          const { result: r } = await run({ afterpatch: wrapper, _ansible_check_mode: false });
          assert.equal(r.changed, false);
          assert.equal(r.failed, false, String(r.msg));
          assert.equal(r.needs_restart, true);
          assert.equal(r.needs_reboot, false);
          assert.equal(typeof r.host, 'string');
          const scan = r.scan as { entries: { unit: string; severity: string }[]; summary: object };
          assert.deepEqual(
            scan.entries.map((e) => e.unit),
            ['ssh.service'],
          );
          assert.equal(r.restart, null);
          assert.equal((r.reboot as { required: boolean }).required, false);
          assert.match(String(r.msg), /1 thing still runs outdated code; no reboot required/);
        });

        it('a reboot verdict that could not be had: "reboot unknown", never "no reboot required"', async () => {
          const { result: r } = await run({
            afterpatch: home(mod).blindWrapper,
            _ansible_check_mode: false,
          });
          assert.equal(r.needs_reboot, false);
          assert.ok(((r.reboot as { unknown?: string[] }).unknown ?? []).length > 0);
          assert.match(String(r.msg), /; reboot unknown \(evidence unreadable\)\.$/);
          assert.doesNotMatch(String(r.msg), /no reboot required/);
        });

        it('check mode with state restarted: a dry-run plan, nothing changed', async () => {
          const { result: r } = await run({
            afterpatch: wrapper,
            state: 'restarted',
            _ansible_check_mode: true,
          });
          assert.equal(r.failed, false, String(r.msg));
          assert.equal(r.changed, false);
          assert.equal(r.check_mode, true);
          const restart = r.restart as {
            dryRun: boolean;
            plan: { unit: string; action: string }[];
            results: unknown[];
          };
          assert.equal(restart.dryRun, true);
          assert.deepEqual(
            restart.plan.map((e) => [e.unit, e.action]),
            [['ssh.service', 'restart']],
          );
          assert.deepEqual(restart.results, []);
          assert.match(String(r.msg), /would restart 1 unit/);
        });

        it('state restarted: changed, and failed when the restart is not proven', async () => {
          // The fake systemctl "restarts" nothing: the fake /proc still has sshd on the old
          // library (the CLI says so as still stale, or as unverified: no cgroup evidence).
          const { result: r } = await run({ afterpatch: wrapper, state: 'restarted' });
          assert.equal(r.changed, true);
          assert.equal(r.failed, true);
          assert.match(
            String(r.msg),
            /ssh\.service: (still stale in the verification scan|unverified)/,
          );
          const restart = r.restart as {
            dryRun: boolean;
            results: { unit: string; action: string }[];
          };
          assert.equal(restart.dryRun, false);
          assert.deepEqual(
            restart.results.map((x) => [x.unit, x.action]),
            [['ssh.service', 'restart']],
          );
        });

        it('state restarted with nothing to restart: not changed, not failed', async () => {
          const { result: r } = await run({
            afterpatch: wrapper,
            state: 'restarted',
            lib: 'nothing-matches-this',
          });
          assert.equal(r.failed, false, String(r.msg));
          assert.equal(r.changed, false);
          assert.equal(r.needs_restart, false);
          assert.deepEqual((r.restart as { results: unknown[] }).results, []);
          assert.match(
            String(r.msg),
            /^0 units restarted and verified; nothing runs outdated code/,
          );
        });

        it('health_command after a restart: retried until it passes, else the host fails with its last line', async () => {
          const nothing = { afterpatch: wrapper, state: 'restarted', lib: 'nothing-matches-this' };
          // Fails on its first attempt only (the file is its memory), then passes.
          const flag = join(dir, `healthy-${mod.name}`);
          rmSync(flag, { force: true });
          const second = ['sh', '-c', `test -e '${flag}' || { touch '${flag}'; exit 1; }`];
          const ok = await run({ ...nothing, health_command: second, health_delay: 0 });
          assert.equal(ok.result.failed, false, String(ok.result.msg));
          assert.deepEqual(
            [
              (ok.result.health as { rc: number }).rc,
              (ok.result.health as { attempts: number }).attempts,
            ],
            [0, 2],
          );
          const bad = ['sh', '-c', 'echo starting; echo "no /run/healthy" >&2; exit 3'];
          const failed = await run({
            ...nothing,
            health_command: bad,
            health_retries: 1,
            health_delay: 0,
          });
          assert.equal(failed.result.failed, true);
          assert.equal(
            failed.result.msg,
            'Health check command: exit status 3 after 2 attempts: no /run/healthy',
          );
          assert.equal((failed.result.health as { attempts: number }).attempts, 2);
          for (const r of [ok.result, failed.result]) validateDocument('host', r);
          // The restart's own result is kept next to it.
          assert.deepEqual((failed.result.restart as { results: unknown[] }).results, []);
          // Never in check mode, never for a read, never after a restart that failed.
          for (const args of [
            { ...nothing, health_command: bad, _ansible_check_mode: true },
            { afterpatch: wrapper, health_command: bad },
            { afterpatch: wrapper, state: 'restarted', health_command: bad },
          ]) {
            const r = (await run(args)).result;
            assert.equal(r.health, undefined, JSON.stringify(args));
            assert.doesNotMatch(String(r.msg), /Health check/);
          }
          const notArgv = await run({ ...nothing, health_command: 'curl -f http://localhost/' });
          assert.equal(notArgv.result.failed, true);
          assert.match(
            String(notArgv.result.msg),
            /^health_command: expected an argv, a list of strings/,
          );
        });

        it('ad-hoc string arguments: booleans and comma-separated lists', async () => {
          const { result: r } = await run({
            afterpatch: wrapper,
            state: 'restarted',
            _ansible_check_mode: 'True',
            force: 'yes',
            reboot_sentinel: '0',
            exclude: 'ssh.*, cron.service',
          });
          assert.equal(r.failed, false, String(r.msg));
          const restart = r.restart as { plan: unknown[]; excluded: string[] };
          assert.deepEqual(restart.plan, []);
          assert.deepEqual(restart.excluded, ['ssh.service']);
          const json = await run({
            afterpatch: wrapper,
            state: 'restarted',
            _ansible_check_mode: true,
            exclude: '["ssh.service"]',
          });
          assert.deepEqual((json.result.restart as { excluded: string[] }).excluded, [
            'ssh.service',
          ]);
          const bad = await run({ afterpatch: wrapper, force: 'maybe' });
          assert.equal(bad.result.failed, true);
          assert.match(String(bad.result.msg), mod.badBool);
          const unknown = await run({ afterpatch: wrapper, colour: 'red' });
          assert.equal(unknown.result.failed, true);
          assert.match(String(unknown.result.msg), mod.unknown);
        });

        it('an exclude glob that is no valid pattern: one msg line, nothing run', async (t) => {
          if (!readFileSync(mod.file, 'utf8').includes('is not a valid unit glob')) {
            t.skip('this module does not validate exclude globs yet (issue 12.10)');
            return;
          }
          for (const exclude of [['[z-a].service'], 'ssh.service, [z-a]*']) {
            const { result: r } = await run({ state: 'restarted', exclude, afterpatch: wrapper });
            assert.equal(r.failed, true);
            assert.equal(r.changed, false);
            assert.match(String(r.msg), /^exclude: "\[z-a\][^"]*" is not a valid unit glob \(/);
            assert.doesNotMatch(String(r.msg), /\n/);
          }
        });

        it('a CLI answering what the module does not expect: one msg line, the trace apart', async () => {
          // A CLI that says it is 9.9.9 and prints `output` for anything else.
          const fakeCli = (name: string, output: string) => {
            const file = join(dir, name);
            writeFileSync(
              file,
              `#!/bin/sh\n[ "$1" = --version ] && { echo 9.9.9; exit 0; }\necho '${output}'\n`,
            );
            chmodSync(file, 0o755);
            return file;
          };
          const odd = fakeCli('afterpatch-odd', '{"entries": 5}');
          const { result: r } = await run({ afterpatch: odd });
          assert.equal(r.failed, true);
          assert.equal(r.changed, false);
          assert.match(String(r.msg), /^afterpatch module error: /);
          if (readFileSync(mod.file, 'utf8').includes('exception')) {
            assert.doesNotMatch(String(r.msg), /\n/);
            assert.ok(String(r.exception).includes('\n'), 'the trace is kept for -vvv');
          }
          // A scan that is no JSON object at all: the scan failed, never "nothing stale".
          const arr = fakeCli('afterpatch-array', '1');
          const { result: a } = await run({ afterpatch: arr });
          assert.equal(a.failed, true);
          assert.match(String(a.msg), /afterpatch scan failed \(exit status 0\)/);
        });

        it('missing CLI: failed with a clear msg', async () => {
          // Some systems have a /nonexistent directory (nobody's home): that is "not an executable".
          const { result: r } = await run({ afterpatch: '/nonexistent' });
          assert.equal(r.failed, true);
          assert.equal(r.changed, false);
          assert.match(
            String(r.msg),
            /afterpatch is not installed on .*\/nonexistent not found|\/nonexistent on .* is not an executable afterpatch/,
          );
          const gone = await run({ afterpatch: join(dir, 'no-such-dir', 'afterpatch') });
          assert.equal(gone.result.failed, true);
          assert.match(
            String(gone.result.msg),
            /afterpatch is not installed on .*no-such-dir\/afterpatch not found\)/,
          );
          const notExec = await run({ afterpatch: join(dir, 'root') });
          assert.equal(notExec.result.failed, true);
          assert.match(String(notExec.result.msg), /root on .* is not an executable afterpatch/);
          // Only while no afterpatch is installed on the machine (a package test may install one
          // for a while): the test's PATH includes the system's.
          if (!PATH.split(':').some((d) => existsSync(join(d, 'afterpatch')))) {
            const notOnPath = await run({});
            assert.equal(notOnPath.result.failed, true, 'PATH of the test has no afterpatch');
            assert.match(String(notOnPath.result.msg), /afterpatch not found on PATH/);
          }
        });

        it('too old a CLI: failed with a clear msg', async () => {
          const { result: r } = await run({ afterpatch: oldWrapper });
          assert.equal(r.failed, true);
          assert.equal(r.afterpatch_version, '0.0.1');
          assert.match(
            String(r.msg),
            /afterpatch 0\.0\.1 on .* is too old: this module needs \d+\.\d+\.\d+ or newer/,
          );
        });

        it('known_version: no --version run, the minimum still checked, a non-version refused', async () => {
          const without = await run({
            afterpatch: noVersionWrapper,
            state: 'restarted',
            _ansible_check_mode: true,
          });
          assert.equal(without.result.failed, true);
          assert.match(String(without.result.msg), /--version failed .*no --version here/);
          const known = await run({ afterpatch: noVersionWrapper, known_version: '9.9.9' });
          assert.equal(known.result.failed ?? false, false, known.stdout);
          assert.equal(known.result.afterpatch_version, '9.9.9');
          assert.equal(known.result.needs_restart, true, known.stdout);
          const old = await run({ afterpatch: noVersionWrapper, known_version: '0.0.1' });
          assert.equal(old.result.failed, true);
          assert.match(String(old.result.msg), /afterpatch 0\.0\.1 on .* is too old/);
          const bad = await run({ afterpatch: noVersionWrapper, known_version: 'latest' });
          assert.equal(bad.result.failed, true);
          assert.match(
            String(bad.result.msg),
            /known_version: "latest" is not an afterpatch version/,
          );
        });

        it('one CLI run per read or restart: the scan answers the reboot question and names the version; the restart rescans', async () => {
          const log = join(dir, `calls-${n}.log`);
          const logging = join(dir, `afterpatch-logging-${n}`);
          writeFileSync(logging, `#!/bin/sh\necho "$*" >> '${log}'\nexec '${wrapper}' "$@"\n`);
          chmodSync(logging, 0o755);
          const calls = () => {
            const text = existsSync(log) ? readFileSync(log, 'utf8') : '';
            rmSync(log, { force: true });
            return text.trim().split('\n');
          };
          const scanned = await run({ afterpatch: logging, reboot_sentinel: true });
          assert.equal(scanned.result.failed, false, String(scanned.result.msg));
          assert.deepEqual(calls(), ['scan --json --reboot --sentinel']);
          const restarted = await run({
            afterpatch: logging,
            state: 'restarted',
            known_version: '9.9.9',
          });
          assert.equal(restarted.result.changed, true, String(restarted.result.msg));
          // The restart (after the Node.js module's dry run) then scans again in the same run.
          const made = calls();
          assert.equal(made.at(-1), 'restart --yes --json --rescan', made.join(' | '));
          assert.ok(
            made.every((c) => c.startsWith('restart ')),
            made.join(' | '),
          );
          assert.deepEqual(
            (restarted.result.scan as { entries: { unit: string }[] }).entries.map((e) => e.unit),
            ['ssh.service'],
            'the rescan is the verification: sshd still stale (the fake systemctl restarts nothing)',
          );
          assert.equal((restarted.result.restart as Record<string, unknown>).rescan, undefined);
          assert.equal((restarted.result.reboot as { required: boolean }).required, false);
          // With exclude the restart names its units: the verification is a scan of its own.
          await run({
            afterpatch: logging,
            state: 'restarted',
            known_version: '9.9.9',
            exclude: 'cron.*',
          });
          assert.equal(calls().at(-1), 'scan --json --reboot');
        });

        it('no reboot verdict read is a failed host, never "no reboot required"', async () => {
          for (const [name, reboot] of [
            ['none', undefined],
            ['unusable', { required: 'no' }],
          ] as const) {
            // A scan document as the real CLI writes it, with its reboot part removed or spoiled.
            const doc = JSON.parse(
              spawnSync(
                process.execPath,
                [CLI, 'scan', '--json', '--proc-root', fx.root, '--root', join(dir, 'root')],
                { encoding: 'utf8' },
              ).stdout,
            );
            if (reboot !== undefined) doc.reboot = reboot;
            const file = join(dir, `scan-${name}.json`);
            writeFileSync(file, JSON.stringify(doc));
            const cli = join(dir, `afterpatch-verdict-${name}`);
            writeFileSync(cli, `#!/bin/sh\ncat '${file}'\nexit 1\n`);
            chmodSync(cli, 0o755);
            const { result: r } = await run({ afterpatch: cli });
            assert.equal(r.failed, true, name);
            assert.equal(r.needs_reboot, undefined, name);
            assert.match(String(r.msg), /afterpatch scan --reboot gave no reboot verdict/, name);
          }
        });

        it('a CLI older than scan --reboot and restart --rescan: separate runs, as before', async () => {
          const older = join(dir, 'afterpatch-no-reboot-flag');
          writeFileSync(
            older,
            `#!/bin/sh
  for a in "$@"; do
    [ "$a" = --reboot ] && { echo "afterpatch: unknown option '--reboot'; run with --help for usage." >&2; exit 2; }
    [ "$a" = --rescan ] && { echo "afterpatch: unknown option '--rescan'; run with --help for usage." >&2; exit 3; }
  done
  exec '${wrapper}' "$@"
  `,
          );
          chmodSync(older, 0o755);
          const now = await run({ afterpatch: wrapper });
          const before = await run({ afterpatch: older });
          assert.equal(before.result.failed, false, String(before.result.msg));
          assert.deepEqual(comparable(before.result), comparable(now.result));
          const restarted = await run({
            afterpatch: older,
            state: 'restarted',
            known_version: '0.1.0',
          });
          assert.equal(restarted.result.changed, true, String(restarted.result.msg));
          assert.equal((restarted.result.reboot as { format: string }).format, 'afterpatch-reboot');
          assert.equal((restarted.result.reboot as { required: boolean }).required, false);
          const now2 = await run({
            afterpatch: wrapper,
            state: 'restarted',
            known_version: '0.1.0',
          });
          assert.deepEqual(comparable(restarted.result), comparable(now2.result));
        });

        it('unreadable or non-JSON arguments: still one JSON object', async () => {
          const { result: r } = await run('state=scanned');
          assert.equal(r.failed, true);
          assert.match(String(r.msg), mod.notJson);
        });
      });
    }
  });

  describe('both modules', { skip: MODULES.find((m) => m.skip !== false)?.skip ?? false }, () => {
    it('return the same result for the same arguments', async () => {
      const [py, node] = MODULES;
      assert.ok(py !== undefined && node !== undefined);
      // The first, second, fourth, sixth and seventh ran in the tests of each module above.
      const cases: { afterpatch: string; [k: string]: unknown }[] = [
        { afterpatch: WRAPPER, _ansible_check_mode: false },
        { afterpatch: WRAPPER, state: 'restarted', _ansible_check_mode: true },
        { afterpatch: WRAPPER, state: 'restarted', _ansible_check_mode: true, exclude: 'ssh.*' },
        { afterpatch: WRAPPER, state: 'restarted' },
        { afterpatch: WRAPPER, lib: 'nothing-matches-this', units: ['cron.service'] },
        { afterpatch: '/nonexistent' },
        { afterpatch: oldWrapper },
      ];
      // The case with the module's own stand-in in place of WRAPPER.
      const own = (mod: ModuleKind, c: (typeof cases)[number]) =>
        c.afterpatch === WRAPPER ? { ...c, afterpatch: home(mod).wrapper } : c;
      for (const c of cases) {
        const args = [own(py, c), own(node, c)] as const;
        const a: ModuleRun = results.get(key(py, args[0])) ?? (await runModule(py, args[0]));
        const b: ModuleRun = results.get(key(node, args[1])) ?? (await runModule(node, args[1]));
        assert.deepEqual(comparable(a.result), comparable(b.result), JSON.stringify(c));
      }
    });

    it('the Python module is a new-style module (pipelined), the Node one WANT_JSON', () => {
      const [py, node] = MODULES;
      // Ansible pipelines a module only when it imports module_utils (AnsiballZ).
      assert.match(
        readFileSync(py?.file ?? '', 'utf8'),
        /^from ansible\.module_utils\.basic import AnsibleModule$/m,
      );
      const text = readFileSync(node?.file ?? '', 'utf8');
      assert.match(text, /^#!\/usr\/bin\/env node\n/);
      assert.match(text, /WANT_JSON/);
      assert.doesNotMatch(text, /from '\.\.?\//);
    });

    it('the Node module runs as CommonJS too, as the copy Ansible makes outside the checkout', async () => {
      const copy = join(dir, 'AnsiballZ_afterpatch');
      copyFileSync(join(LIBRARY, 'afterpatch_node'), copy);
      const file = join(dir, 'cjs-args.json');
      writeFileSync(file, JSON.stringify({ afterpatch: '/nonexistent' }));
      const out = await new Promise<string>((resolve) => {
        execFile(process.execPath, [copy, file], { env: { PATH }, cwd: dir }, (_e, stdout) =>
          resolve(stdout),
        );
      });
      assert.equal(JSON.parse(out).failed, true);
    });
  });
});
