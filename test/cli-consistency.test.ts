// docs/cli.md's promises, checked on the built CLI: every error with one prefix (commander's
// usage errors too), -q on every command with an exit status except check, --format json as an
// alias of --json, and the scan filters on every command that scans.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../harness/cli.ts';
import { FAKE_INIT, FAKE_STALE_SSHD, makeProcTree } from './helpers/fakeproc.ts';

describe('one command line (docs/cli.md)', () => {
  let fx: ReturnType<typeof makeProcTree>;
  let root: string;
  let state: string;
  before(() => {
    fx = makeProcTree({ 1: FAKE_INIT, 10: FAKE_STALE_SSHD });
    root = join(fx.root, 'fsroot');
    state = join(fx.root, 'state');
    mkdirSync(join(root, 'run'), { recursive: true });
  });
  after(() => fx.cleanup());

  const usage: [string[], number][] = [
    [['scan', '--bogus'], 2],
    [['restart', '--bogus'], 3],
    [['reboot-required', '--bogus'], 2],
    [['metrics', '--bogus'], 2],
    [['serve', '--listen', ':0', '--bogus'], 2],
    [['report', '--bogus'], 2],
    [['config', '--bogus'], 2],
    [['bogus'], 2],
  ];
  for (const [argv, code] of usage) {
    it(`a usage error of "${argv.join(' ')}" is one "afterpatch: " line, exit ${code}`, async () => {
      const r = await runCli(argv);
      assert.equal(r.code, code, r.stderr);
      assert.match(
        r.stderr,
        /^afterpatch: unknown (option|command) '[-a-z]+'; run with --help for usage\.\n$/,
      );
      assert.equal(r.stdout, '');
    });
  }

  it("keeps commander's guess at a typo on the one line (was: dropped)", async () => {
    const cases: [string[], string][] = [
      [['scna'], "unknown command 'scna' (did you mean scan?)"],
      [['scan', '--jsn'], "unknown option '--jsn' (did you mean --json?)"],
      // What the caller typed is escaped, and a guess it forged is not taken for commander's.
      [['\x1b[2Jx\n(Did you mean \x1b[31mEVIL?)'], "unknown command '\\x1b[2Jx"],
    ];
    for (const [argv, line] of cases) {
      const r = await runCli(argv);
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stderr, `afterpatch: ${line}; run with --help for usage.\n`);
    }
  });

  it('-q prints nothing on restart, report, metrics, scan and reboot-required; the status tells', async () => {
    const common = ['--proc-root', fx.root];
    const cases: [string[], number][] = [
      [['scan', '-q', ...common], 1],
      // Filtered to nothing: this machine may have no systemd to ask about ssh.service.
      [['restart', '-q', '--dry-run', '--lib', 'none', '--state-dir', state, ...common], 0],
      [['reboot-required', '-q', '--root', root, ...common], 0],
      [['metrics', '-q', '--root', root, '--state-dir', state, ...common], 0],
    ];
    for (const [argv, code] of cases) {
      const r = await runCli(argv);
      assert.deepEqual([r.code, r.stdout], [code, ''], `${argv[0]}: ${r.stderr}`);
    }
    const doc = join(fx.root, 'host.json');
    writeFileSync(doc, (await runCli(['scan', '--json', ...common])).stdout);
    const report = await runCli(['report', '-q', doc]);
    assert.deepEqual([report.code, report.stdout], [1, ''], report.stderr);
  });

  it('--format json is --json on every command with a document', async () => {
    const common = ['--proc-root', fx.root];
    const empty = join(fx.root, 'empty.toml');
    writeFileSync(empty, '');
    const docs: [string[], string][] = [
      [['scan', ...common], 'afterpatch-scan'],
      [['reboot-required', '--root', root, ...common], 'afterpatch-reboot'],
      [['check', '--root', root, '--state-dir', state, ...common], 'afterpatch-health'],
      [['config', empty], 'afterpatch-config'],
    ];
    for (const [argv, format] of docs) {
      for (const flag of [['--json'], ['--format', 'json']]) {
        const r = await runCli([...argv, ...flag]);
        assert.equal(JSON.parse(r.stdout).format, format, `${argv[0]} ${flag.join(' ')}`);
      }
    }
  });

  it('--lib, --unit and --package mean the same on every command that scans', async () => {
    const common = ['--proc-root', fx.root, '--state-dir', state];
    for (const filter of [
      ['--lib', 'libssl'],
      ['--unit', 'nginx.service'],
      ['--package', 'zlib1g'],
    ]) {
      const scan = await runCli(['scan', '-q', '--proc-root', fx.root, ...filter]);
      assert.equal(scan.code, 0, `scan ${filter.join(' ')}`);
      const check = await runCli(['check', '--root', root, ...common, ...filter]);
      assert.equal(check.code, 0, `check ${filter.join(' ')}: ${check.stdout}`);
      const metrics = await runCli(['metrics', '--root', root, ...common, ...filter]);
      assert.match(
        metrics.stdout,
        /^afterpatch_outdated_processes 0$/m,
        `metrics ${filter.join(' ')}`,
      );
      const restart = await runCli(['restart', '--dry-run', '--json', ...common, ...filter]);
      assert.equal(restart.code, 0, restart.stderr);
      assert.deepEqual(JSON.parse(restart.stdout).plan ?? [], [], `restart ${filter.join(' ')}`);
    }
  });
});
