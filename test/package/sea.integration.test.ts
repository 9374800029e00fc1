// The standalone binary (scripts/package-sea.mjs): built from dist/afterpatch.cjs into a temporary
// directory, then run with a PATH that holds every system command except node, as on a server
// without Node. Skips when the build machine cannot make one (no postject, no strip, a node
// without the SEA fuse: the script exits 3 and says why) or dist/ is not built.
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CLI } from '../../harness/cli.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
const SYSTEM_PATH = ['/usr/sbin', '/usr/bin', '/sbin', '/bin'];
/** Above the 2,500 processes from which a scan starts worker threads by default. */
const MANY = 2600;

function hasPostject(): boolean {
  try {
    createRequire(join(ROOT, 'package.json')).resolve('postject');
    return true;
  } catch {
    return false;
  }
}

const skip =
  process.platform !== 'linux'
    ? 'Linux only'
    : !existsSync(CLI)
      ? 'run npm run build first'
      : !hasPostject()
        ? 'postject is not installed (npm ci)'
        : false;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(file: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      { env, maxBuffer: 64 * 1024 * 1024, timeout: 120_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 127) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/**
 * A directory of links to every command in the system directories except node under any name
 * (node, nodejs, or any link or hard link to the node running the tests): /usr/bin holds node
 * on some machines, so leaving directories out of PATH is not enough.
 */
function pathWithoutNode(dir: string): void {
  const self = statSync(process.execPath);
  const seen = new Set<string>();
  for (const d of SYSTEM_PATH) {
    let names: string[];
    try {
      names = readdirSync(d);
    } catch {
      continue;
    }
    for (const name of names) {
      if (seen.has(name) || /^(node|nodejs|npm|npx|corepack)$/.test(name)) continue;
      const target = join(d, name);
      try {
        const st = statSync(target);
        if (st.dev === self.dev && st.ino === self.ino) continue;
      } catch {
        continue; // dangling link
      }
      seen.add(name);
      symlinkSync(target, join(dir, name));
    }
  }
}

describe('standalone binary (npm run package:sea)', { skip }, () => {
  let work = '';
  let bin = '';
  let env: NodeJS.ProcessEnv = {};
  let built: Run = { code: -1, stdout: '', stderr: '' };

  before(() => {
    work = mkdtempSync(join(tmpdir(), 'afterpatch-sea-test-'));
    bin = join(work, `afterpatch-linux-${process.arch}`);
    const r = spawnSync(
      process.execPath,
      [join(ROOT, 'scripts/package-sea.mjs'), '--bundle', CLI, '--out', bin],
      { cwd: ROOT, encoding: 'utf8', timeout: 300_000 },
    );
    built = { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
    const noNode = join(work, 'bin');
    mkdirSync(noNode);
    pathWithoutNode(noNode);
    env = { PATH: noNode, LANG: 'C.UTF-8' };
  });
  after(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const ready = (t: { skip: (msg: string) => void }): boolean => {
    // Exit 3: the build machine cannot make a SEA (the message says why); anything else fails.
    if (built.code === 3) {
      t.skip(built.stderr.trim());
      return false;
    }
    assert.equal(built.code, 0, `package-sea failed:\n${built.stderr}`);
    return true;
  };

  it('builds a stripped binary that starts', (t) => {
    if (!ready(t)) return;
    assert.match(built.stdout, /^wrote .*\(\d+\.\d MiB\)$/m);
    assert.ok(statSync(bin).size < statSync(process.execPath).size + 2 ** 20, 'not stripped?');
    const sections = spawnSync('readelf', ['-S', '-W', bin], { encoding: 'utf8' });
    if (sections.status === 0) {
      assert.doesNotMatch(sections.stdout, /\.symtab/, 'the symbol table is still there');
    }
  });

  it('runs with no node on PATH', async (t) => {
    if (!ready(t)) return;
    const which = await run('sh', ['-c', 'command -v node nodejs || true'], env);
    assert.equal(which.stdout.trim(), '', `node is still on PATH: ${which.stdout}`);
    const v = await run(bin, ['--version'], env);
    assert.deepEqual([v.code, v.stdout.trim()], [0, pkg.version], v.stderr);
    // Started by a name on PATH (argv[1] is then that name) and by any name at all.
    symlinkSync(bin, join(String(env.PATH), 'ap-standalone'));
    const byName = await run('sh', ['-c', 'ap-standalone -V'], env);
    assert.deepEqual([byName.code, byName.stdout.trim()], [0, pkg.version], byName.stderr);
    const help = await run(bin, ['--help'], env);
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /^Usage: afterpatch /);
  });

  it('scan --json, check and restart --dry-run --json', async (t) => {
    if (!ready(t)) return;
    const scan = await run(bin, ['scan', '--json'], env);
    assert.ok(scan.code === 0 || scan.code === 1, `scan exited ${scan.code}: ${scan.stderr}`);
    const report = JSON.parse(scan.stdout) as { format: string; summary: { scanned: number } };
    assert.equal(report.format, 'afterpatch-scan');
    assert.ok(report.summary.scanned > 0);

    const check = await run(bin, ['check'], env);
    assert.ok([0, 1, 2, 3].includes(check.code), check.stderr);
    assert.match(check.stdout.split('\n')[0] ?? '', /^AFTERPATCH (OK|WARNING|CRITICAL|UNKNOWN) - /);

    // The lazily loaded command modules (inlined by esbuild) and systemctl from PATH. Nothing
    // stale: an empty plan without asking systemd. Stale units on a host without a running
    // systemd: exit 3 with one line saying so.
    const restart = await run(bin, ['restart', '--dry-run', '--json'], env);
    if (restart.code === 3) {
      assert.match(restart.stderr, /^afterpatch: [^\n]+\n$/);
      t.diagnostic(`restart --dry-run: ${restart.stderr.trim()}`);
    } else {
      assert.ok(restart.code === 0 || restart.code === 1, restart.stderr);
      const plan = JSON.parse(restart.stdout) as { format: string; dryRun: boolean };
      assert.equal(plan.format, 'afterpatch-restart');
      assert.equal(plan.dryRun, true);
    }
  });

  it('runs the Ansible module as its interpreter (ansible_env_interpreter) with no node on PATH', async (t) => {
    if (!ready(t)) return;
    // What Ansible runs for `#!/usr/bin/env node` with ansible_env_interpreter=<this binary>.
    const module = join(work, 'AnsiballZ_afterpatch');
    copyFileSync(join(ROOT, 'integrations/ansible/library/afterpatch_node'), module);
    const args = join(work, 'args');
    writeFileSync(args, JSON.stringify({ state: 'scanned', _ansible_check_mode: false }));
    const r = await run(bin, ['node', module, args], env);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 1, `one JSON object on stdout:\n${r.stdout}\n${r.stderr}`);
    const result = JSON.parse(lines[0] ?? '') as Record<string, unknown>;
    assert.equal(result.failed, false, String(result.msg));
    assert.equal(result.afterpatch_version, pkg.version);
    assert.equal((result.scan as { format: string }).format, 'afterpatch-scan');

    // Nothing but that module: any other script is refused.
    const other = join(work, 'other.js');
    writeFileSync(other, "require('node:fs').writeFileSync('/dev/stdout', 'ran');\n");
    const refused = await run(bin, ['node', other, args], env);
    assert.equal(refused.code, 2);
    assert.equal(refused.stdout, '');
    assert.match(refused.stderr, /^afterpatch: .*not afterpatch's Ansible module.*\n$/);
  });

  it(`scans ${MANY}+ processes with worker threads`, async (t) => {
    if (!ready(t)) return;
    const children: ChildProcess[] = [];
    try {
      for (let i = 0; i < MANY; i++) {
        const c = spawn('sleep', ['60'], { stdio: 'ignore' });
        c.on('error', () => {});
        children.push(c);
      }
      await new Promise((r) => setTimeout(r, 200));
      // The default starts workers above 2,500 processes (when the machine has several CPUs);
      // --threads 2 always does.
      for (const args of [
        ['scan', '--json'],
        ['scan', '--json', '--threads', '2'],
      ]) {
        const r = await run(bin, args, env);
        assert.ok(r.code === 0 || r.code === 1, `${args.join(' ')} exited ${r.code}: ${r.stderr}`);
        const report = JSON.parse(r.stdout) as { summary: { scanned: number } };
        assert.ok(
          report.summary.scanned >= MANY,
          `${args.join(' ')} scanned ${report.summary.scanned}`,
        );
      }
    } finally {
      for (const c of children) {
        if (c.pid !== undefined && c.exitCode === null) {
          try {
            process.kill(c.pid, 'SIGKILL');
          } catch {
            // already gone
          }
        }
      }
    }
  });
});
