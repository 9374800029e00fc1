// Path options of a privileged run (issue 12.2): as root only what nobody else can change; under
// sudo also only what the caller could read, with one message whatever the reason.
import assert from 'node:assert/strict';
import {
  chmodSync,
  chownSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../../harness/cli.ts';
import {
  checkPrivilegedPath,
  delegatingUser,
  type PrivilegeContext,
} from '../../src/cli/privileged.ts';

const asRoot = process.geteuid?.() === 0;
const NOBODY = 65534;
const SECRET = 'hunter2';
const SUDO = { PATH: process.env.PATH ?? '/usr/bin:/bin', SUDO_USER: 'nagios', SUDO_UID: '4242' };

describe('privileged path options', { skip: !asRoot && 'needs root (chown)' }, () => {
  let dir: string;
  let hidden: string; // 0700: what a sudo caller cannot read
  let open: string; // 0755 with a 0644 config
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'afterpatch-priv-'));
    chmodSync(dir, 0o755);
    hidden = join(dir, 'hidden');
    mkdirSync(hidden, { mode: 0o700 });
    writeFileSync(
      join(hidden, 'secret.toml'),
      `${SECRET} = "x"\n[scan]\ninterpreted = "${SECRET}"\n`,
    );
    open = join(dir, 'open');
    mkdirSync(open, { mode: 0o755 });
    writeFileSync(join(open, 'ok.toml'), '[restart]\njobs = 4\n', { mode: 0o644 });
    writeFileSync(join(open, 'bad.toml'), `[scan]\ninterpreted = "${SECRET}"\n`, { mode: 0o644 });
    writeFileSync(join(open, 'theirs.toml'), '', { mode: 0o644 });
    chownSync(join(open, 'theirs.toml'), NOBODY, NOBODY);
    writeFileSync(join(open, 'writable.toml'), '', { mode: 0o644 });
    chmodSync(join(open, 'writable.toml'), 0o666);
    mkdirSync(join(dir, 'shared'), { mode: 0o777 });
    chmodSync(join(dir, 'shared'), 0o777);
    writeFileSync(join(dir, 'shared', 'planted.toml'), '', { mode: 0o644 });
    symlinkSync(join(open, 'theirs.toml'), join(open, 'link.toml'));
    mkdirSync(join(dir, 'theirs-dir'), { mode: 0o755 });
    chownSync(join(dir, 'theirs-dir'), NOBODY, NOBODY);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const ctx = (env: NodeJS.ProcessEnv = {}, euid = 0): PrivilegeContext => ({
    euid,
    env,
    lstat: (p) => lstatSync(p),
    realpath: (p) => realpathSync(p),
  });
  const refused = (value: string, env: NodeJS.ProcessEnv = {}) =>
    'refused' in checkPrivilegedPath('--config', value, ctx(env));

  it('accepts root-owned paths in root-owned directories, /tmp being sticky', () => {
    assert.deepEqual(checkPrivilegedPath('--config', join(open, 'ok.toml'), ctx()), {
      path: join(open, 'ok.toml'),
    });
    assert.equal(refused(hidden), false);
  });

  it('refuses a file owned by another user, one writable by others, one in a writable directory', () => {
    assert.equal(refused(join(open, 'theirs.toml')), true);
    assert.equal(refused(join(open, 'writable.toml')), true);
    assert.equal(refused(join(dir, 'shared', 'planted.toml')), true);
    assert.equal(refused(join(dir, 'theirs-dir')), true);
    assert.equal(refused(join(dir, 'theirs-dir', 'missing')), true);
  });

  it('checks where a symbolic link leads, and hands on that real path', () => {
    assert.equal(refused(join(open, 'link.toml')), true);
    symlinkSync(join(open, 'ok.toml'), join(dir, 'shared', 'to-ok.toml'));
    const r = checkPrivilegedPath('--config', join(dir, 'shared', 'to-ok.toml'), ctx());
    assert.deepEqual(r, { path: join(open, 'ok.toml') }, 'the link itself may change later');
  });

  it('lets a missing path through only when its directory is trusted', () => {
    assert.equal(refused(join(open, 'missing')), false);
    assert.equal(refused(join(dir, 'shared', 'missing')), true);
  });

  it('under sudo also refuses what the caller could not read, with one message for every reason', () => {
    const env = { SUDO_USER: 'nagios', SUDO_UID: '4242' };
    assert.equal(refused(join(open, 'ok.toml'), env), false);
    const messages = new Set(
      [join(hidden, 'secret.toml'), join(hidden, 'nope.toml'), join(open, 'theirs.toml')].map(
        (p) => {
          const r = checkPrivilegedPath('--config', p, ctx(env));
          assert.ok('refused' in r, p);
          return r.refused;
        },
      ),
    );
    assert.equal(messages.size, 1, [...messages].join('\n'));
  });

  it('checks nothing for a user other than root', () => {
    assert.equal(
      'path' in checkPrivilegedPath('--config', join(open, 'theirs.toml'), ctx({}, 1000)),
      true,
    );
  });

  it('knows sudo, doas and pkexec; not a sudo to root by root', () => {
    assert.equal(delegatingUser({ SUDO_USER: 'root', SUDO_UID: '0' }), null);
    assert.notEqual(delegatingUser({ DOAS_USER: 'alice' }), null);
    assert.notEqual(delegatingUser({ PKEXEC_UID: '1000' }), null);
    assert.equal(delegatingUser({}), null);
  });

  it('check --config of a root-only file under sudo: UNKNOWN, nothing of the file echoed', async () => {
    const r = await runCli(['check', '--config', join(hidden, 'secret.toml')], { env: SUDO });
    assert.equal(r.code, 3);
    assert.match(r.stdout, /^AFTERPATCH UNKNOWN - usage error: .*refused under sudo/);
    assert.ok(!(r.stdout + r.stderr).includes(SECRET), r.stdout + r.stderr);
  });

  it('under sudo a missing root-only file reads exactly like an existing one', async () => {
    const a = await runCli(['check', '--config', join(hidden, 'secret.toml')], { env: SUDO });
    const b = await runCli(['check', '--config', join(hidden, 'nope.toml')], { env: SUDO });
    assert.equal(a.stderr.replace('secret', 'nope'), b.stderr);
  });

  it('every command with path options refuses another user’s tree as root', async () => {
    const theirs = join(dir, 'theirs-dir');
    for (const args of [
      ['scan', '--proc-root', theirs],
      ['check', '--root', theirs],
      ['metrics', '--state-dir', theirs],
      ['serve', '--listen', '127.0.0.1:0', '--proc-root', theirs],
      ['restart', '--dry-run', '--state-dir', theirs],
      ['reboot-required', '--root', theirs],
      ['config', join(open, 'theirs.toml')],
      ['config', '--config', join(open, 'theirs.toml')],
    ]) {
      const r = await runCli(args);
      assert.notEqual(r.code, 0, args.join(' '));
      assert.match(r.stdout + r.stderr, /owned by uid 65534, not root/, args.join(' '));
    }
  });

  it('a wrong-type value in a trusted file is named by type, never echoed', async () => {
    const r = await runCli(['check', '--config', join(open, 'bad.toml')]);
    assert.equal(r.code, 3);
    assert.match(r.stdout, /scan\.interpreted: must be true or false/);
    assert.ok(!(r.stdout + r.stderr).includes(SECRET));
  });
});
