// A package lookup that failed is not "this stale code belongs to no package": what depends on
// it — --package, --fixed/--advisory — fails closed (an error, or the advisory `unknown`), never
// clean; plain `scan` still reports the stale processes, with their package `unknown`.
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { runCli } from '../../harness/cli.ts';
import { writeFakeSystemctl } from '../helpers/fake-systemctl.ts';
import { FAKE_INIT, makeProcTree, mapsLine } from '../helpers/fakeproc.ts';

const LIBSSL = '/usr/lib/x86_64-linux-gnu/libssl.so.3';

describe('a failed package lookup', () => {
  let fx: ReturnType<typeof makeProcTree>;
  let root: string;
  let env: NodeJS.ProcessEnv;
  const info = () => join(root, 'var/lib/dpkg/info');
  before(() => {
    fx = makeProcTree({
      1: FAKE_INIT,
      100: {
        name: 'nginx',
        maps: [
          mapsLine('/usr/sbin/nginx'),
          mapsLine(LIBSSL, { deleted: true, addr: 0x7f5000 }),
        ].join('\n'),
        cgroup: '0::/system.slice/nginx.service\n',
      },
    });
    root = join(fx.root, 'fsroot');
    mkdirSync(join(root, 'etc'), { recursive: true });
    writeFileSync(join(root, 'etc/os-release'), 'ID=debian\n');
    mkdirSync(join(fx.root, 'bin'));
    writeFakeSystemctl(join(fx.root, 'bin'));
    env = { ...process.env, PATH: `${join(fx.root, 'bin')}:${process.env.PATH}` };
    writeFileSync(
      join(fx.root, 'cve.toml'),
      'id = "CVE-2024-5535"\n[[packages]]\nname = "openssl"\nfixed = { debian = "3.0.11-1~deb12u1" }\n',
    );
  });
  beforeEach(() => {
    rmSync(join(root, 'var'), { recursive: true, force: true });
    mkdirSync(info(), { recursive: true });
    writeFileSync(
      join(root, 'var/lib/dpkg/status'),
      'Package: libssl3\nStatus: install ok installed\nArchitecture: amd64\nSource: openssl\nVersion: 3.0.11-1~deb12u2\n\n',
    );
    writeFileSync(join(info(), 'libssl3:amd64.list'), `${LIBSSL}\n`);
  });
  after(() => fx.cleanup());
  /** dpkg's info directory replaced by a regular file: its lists cannot be read (ENOTDIR). */
  const breakLists = () => {
    rmSync(info(), { recursive: true });
    writeFileSync(info(), '');
  };
  const cli = (...a: string[]) =>
    runCli([...a, '--proc-root', fx.root, '--root', root, '--state-dir', join(fx.root, 'st')], {
      env,
    });
  const scan = (...a: string[]) =>
    runCli(['scan', '--proc-root', fx.root, '--root', root, ...a], { env });
  const advisory = ['--advisory', () => join(fx.root, 'cve.toml')] as const;
  const adv = () => [advisory[0], advisory[1]()];

  it('readable: --package finds nginx, the advisory is not clean', async () => {
    const r = await scan('--package', 'libssl3');
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /libssl3 3\.0\.11-1~deb12u2/);
    const a = JSON.parse((await scan('--json', ...adv())).stdout);
    assert.notEqual(a.advisoryVerdict, 'clean');
  });

  it('--package: one line on stderr and an error on every command, never "nothing stale"', async () => {
    breakLists();
    const line =
      /^afterpatch: --package cannot be applied: package lookup failed: cannot read the dpkg database: .*ENOTDIR/;
    const s = await scan('--package', 'libssl3');
    assert.equal(s.code, 2, s.stdout);
    assert.equal(s.stdout, '');
    assert.match(s.stderr, line);
    assert.equal(s.stderr.trimEnd().split('\n').length, 1);
    const c = await cli('check', '--package', 'libssl3');
    assert.equal(c.code, 3, c.stdout);
    assert.match(
      c.stdout,
      /^AFTERPATCH UNKNOWN - --package cannot be applied: package lookup failed/,
    );
    const m = await cli('metrics', '--package', 'libssl3');
    assert.equal(m.code, 2);
    assert.match(m.stdout, /^afterpatch_last_scan_success 0$/m);
    assert.doesNotMatch(m.stdout, /^afterpatch_outdated_processes 0$/m);
    const r = await cli('restart', '--dry-run', '--package', 'libssl3');
    assert.equal(r.code, 3, r.stdout);
    assert.doesNotMatch(r.stdout, /nothing to restart/i);
    assert.match(r.stderr, line);
  });

  it('--advisory: unknown (scan, check, metrics), restart plans the unit, never clean', async () => {
    breakLists();
    const s = await scan('--json', ...adv());
    const doc = JSON.parse(s.stdout);
    assert.equal(doc.advisoryVerdict, 'unknown', s.stderr);
    assert.equal(doc.entries[0].vulnerable, 'unknown');
    const text = await scan(...adv());
    assert.match(text.stdout, /^Advisory CVE-2024-5535: unknown$/m);
    const c = await cli('check', ...adv());
    assert.match(c.stdout, /advisories: CVE-2024-5535 unknown/);
    const m = await cli('metrics', ...adv());
    assert.match(
      m.stdout,
      /^afterpatch_advisory_verdict\{advisory="CVE-2024-5535",verdict="unknown"\} 1$/m,
    );
    assert.match(
      m.stdout,
      /^afterpatch_advisory_verdict\{advisory="CVE-2024-5535",verdict="clean"\} 0$/m,
    );
    const plan = await cli('restart', '--dry-run', '--json', ...adv());
    assert.deepEqual(
      JSON.parse(plan.stdout).plan.map((e: { unit: string }) => e.unit),
      ['nginx.service'],
      plan.stderr,
    );
  });

  it('plain scan: the stale process is still reported (exit 1), its package "unknown", not "not packaged"', async () => {
    breakLists();
    const s = await scan();
    assert.equal(s.code, 1, s.stderr);
    assert.match(s.stdout, /nginx\.service .* unknown +systemctl restart nginx\.service/);
    assert.doesNotMatch(s.stdout, /not packaged/);
    assert.match(s.stdout + s.stderr, /^warning: package lookup failed: /m);
  });
});
