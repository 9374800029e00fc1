// Outdated interpreted code with real interpreters: Debian's python3 and perl, the machine's node.
// Each program lives in a throw-away .deb; a process started from version 1 must not be reported
// until version 2 is installed under it, then it must be, with the right confidence and package.
// Hostile names and a poisoned PYTHONPATH in a target's environment must never be executed.
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CLI, runCli } from '../../harness/cli.ts';
import { dpkgInstall, dpkgPurge, spawnHolders, stopProcesses } from '../../harness/fixtures.ts';
import { validateScanJson } from '../helpers/schema.ts';
import { buildFilesDeb } from './debs.ts';

const isRoot = process.geteuid?.() === 0;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
/** Longer than the detector's tolerance (2 s) plus btime's rounding (< 1 s). */
const SETTLE_MS = 3500;

interface FileJson {
  path: string;
  kind: string;
  package: { name: string; version: string } | null;
  interpreted?: { interpreter: string; confidence: string; reason: string };
}
interface ScanJson {
  entries: { files: FileJson[] }[];
  processes: { pid: number; files: FileJson[] }[];
}

async function scanPids(pids: readonly number[], extra: readonly string[] = []): Promise<ScanJson> {
  const r = await runCli([
    'scan',
    '--json',
    ...extra,
    ...pids.flatMap((p) => ['--pid', String(p)]),
  ]);
  assert.ok(r.code === 0 || r.code === 1, r.stderr);
  const doc = JSON.parse(r.stdout) as ScanJson;
  validateScanJson(doc);
  return doc;
}

interface Case {
  pkg: string;
  interpreter: string;
  script: string;
  module: string;
  files: (v: string) => Record<string, readonly [string, number]>;
}

const CASES: Case[] = [
  {
    pkg: 'afterpatch-pytest',
    interpreter: 'python',
    script: '/usr/bin/afterpatch-pytest-svc',
    module: '/usr/lib/python3/dist-packages/afterpatch_pytest/__init__.py',
    files: (v) => ({
      '/usr/lib/python3/dist-packages/afterpatch_pytest/__init__.py': [`VERSION = "${v}"\n`, 0o644],
      '/usr/bin/afterpatch-pytest-svc': [
        '#!/usr/bin/python3\nimport sys, time\nimport afterpatch_pytest\nprint("ready", flush=True)\ntime.sleep(int(sys.argv[1]))\n',
        0o755,
      ],
    }),
  },
  {
    pkg: 'afterpatch-perltest',
    interpreter: 'perl',
    script: '/usr/bin/afterpatch-perltest-svc',
    module: '/usr/share/perl5/AfterpatchPerlTest.pm',
    files: (v) => ({
      '/usr/share/perl5/AfterpatchPerlTest.pm': [
        `package AfterpatchPerlTest;\nour $VERSION = "${v}";\n1;\n`,
        0o644,
      ],
      '/usr/bin/afterpatch-perltest-svc': [
        '#!/usr/bin/perl -w\nuse AfterpatchPerlTest;\n$| = 1;\nprint "ready\\n";\nsleep($ARGV[0]);\n',
        0o755,
      ],
    }),
  },
  {
    pkg: 'afterpatch-nodetest',
    interpreter: 'node',
    script: '/usr/bin/afterpatch-nodetest-svc',
    module: '/usr/share/nodejs/afterpatch-nodetest/index.js',
    files: (v) => ({
      '/usr/share/nodejs/afterpatch-nodetest/index.js': [`exports.version = "${v}";\n`, 0o644],
      // The machine's node (never Debian's nodejs package installed for the test).
      '/usr/bin/afterpatch-nodetest-svc': [
        `#!${process.execPath}\nrequire('/usr/share/nodejs/afterpatch-nodetest/index.js');\nconsole.log('ready');\nsetTimeout(() => {}, Number(process.argv[2]) * 1000);\n`,
        0o755,
      ],
    }),
  },
];

describe('interpreted programs whose package is upgraded', {
  skip: isRoot ? false : 'needs root (dpkg -i)',
}, () => {
  const pids = new Map<string, number>();
  const debs = new Map<string, [string, string]>();

  before(async () => {
    for (const c of CASES) {
      debs.set(c.pkg, [
        await buildFilesDeb(c.pkg, '1.0', c.files('1')),
        await buildFilesDeb(c.pkg, '2.0', c.files('2')),
      ]);
      await dpkgPurge(c.pkg);
      await dpkgInstall((debs.get(c.pkg) as [string, string])[0]);
    }
    for (const c of CASES) {
      const [pid] = await spawnHolders(c.script, 1, { maxLifetimeS: 120 });
      pids.set(c.pkg, pid as number);
    }
    await sleep(SETTLE_MS);
  });
  after(async () => {
    await stopProcesses([...pids.values()]);
    for (const c of CASES) await dpkgPurge(c.pkg);
  });

  it('reports nothing before the upgrade', async () => {
    const doc = await scanPids([...pids.values()]);
    assert.deepEqual(doc.processes, []);
  });

  it('reports the script (loaded) and the module (package) after the upgrade', async () => {
    for (const c of CASES) await dpkgInstall((debs.get(c.pkg) as [string, string])[1]);
    const doc = await scanPids([...pids.values()]);
    for (const c of CASES) {
      const p = doc.processes.find((x) => x.pid === pids.get(c.pkg));
      assert.ok(p, `${c.pkg}: process not reported`);
      const script = p.files.find((f) => f.path === c.script);
      assert.ok(script?.interpreted, `${c.pkg}: script not reported: ${JSON.stringify(p.files)}`);
      assert.equal(script.interpreted.interpreter, c.interpreter);
      assert.equal(script.interpreted.confidence, 'loaded');
      assert.ok(['script', 'open-file'].includes(script.interpreted.reason));
      assert.deepEqual(script.package, { name: c.pkg, version: '2.0', manager: 'dpkg' });
      const mod = p.files.find((f) => f.path === c.module);
      assert.ok(mod?.interpreted, `${c.pkg}: module not reported: ${JSON.stringify(p.files)}`);
      assert.equal(mod.interpreted.confidence, 'package');
      assert.equal(mod.interpreted.reason, 'package-file');
      assert.deepEqual(mod.package, { name: c.pkg, version: '2.0', manager: 'dpkg' });
      assert.equal(mod.kind, 'code');
    }
    const entryFiles = doc.entries.flatMap((e) => e.files);
    assert.ok(
      entryFiles.some((f) => f.path === CASES[0]?.script && f.interpreted?.confidence === 'loaded'),
    );
    // The text table marks them; --package narrows to them; --no-interpreted turns it off.
    const text = await runCli(['scan', '--pid', String(pids.get(CASES[0]?.pkg ?? ''))]);
    assert.equal(text.code, 1);
    assert.match(text.stdout, /afterpatch-pytest-svc \(python, loaded\)/);
    assert.match(text.stdout, /__init__\.py \(python, package\)/);
    const byPkg = await runCli(['scan', '-q', '--package', 'afterpatch-perltest']);
    assert.equal(byPkg.code, 1);
    const off = await scanPids([...pids.values()], ['--no-interpreted']);
    assert.deepEqual(off.processes, []);
  });
});

describe('a Python process that maps a library of its package (exact evidence wins)', {
  skip: isRoot ? false : 'needs root (dpkg -i)',
}, () => {
  const pkg = 'afterpatch-pyso';
  const so = '/usr/lib/python3/dist-packages/afterpatch_pyso/_native.so';
  const script = '/usr/bin/afterpatch-pyso-svc';
  const debs: string[] = [];
  const pids: number[] = [];
  // Loads the library at start (`now`) or only on SIGUSR1 (`later`), then waits.
  const program = [
    '#!/usr/bin/python3',
    'import ctypes, signal, sys, time',
    `SO = ${JSON.stringify(so)}`,
    'held = []',
    'signal.signal(signal.SIGUSR1, lambda *a: held.append(ctypes.CDLL(SO)))',
    "if sys.argv[3] == 'now': held.append(ctypes.CDLL(SO))",
    'print("ready", flush=True)',
    'end = time.time() + int(sys.argv[1])',
    'while time.time() < end: time.sleep(0.1)',
    '',
  ].join('\n');

  before(async () => {
    const dir = mkdtempSync('/var/lib/afterpatch-pyso-');
    try {
      for (const v of ['1', '2']) {
        const out = join(dir, `native${v}.so`);
        const src = join(dir, `native${v}.c`);
        writeFileSync(src, `int afterpatch_native(void) { return ${v}; }\n`);
        await new Promise<void>((resolve, reject) =>
          execFile('gcc', ['-shared', '-fPIC', '-o', out, src], (e) => (e ? reject(e) : resolve())),
        );
        debs.push(
          await buildFilesDeb(pkg, `${v}.0`, {
            [so]: [readFileSync(out), 0o644],
            [script]: [program, 0o755],
          }),
        );
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    await dpkgPurge(pkg);
    await dpkgInstall(debs[0] as string);
    pids.push(...(await spawnHolders(script, 1, { maxLifetimeS: 120, args: ['now'] })));
    pids.push(...(await spawnHolders(script, 1, { maxLifetimeS: 120, args: ['later'] })));
    await sleep(SETTLE_MS);
  });
  after(async () => {
    await stopProcesses(pids);
    await dpkgPurge(pkg);
  });

  it('shows a mapped deleted library as the mapping says, a current one not at all', async () => {
    await dpkgInstall(debs[1] as string);
    const [now, later] = pids as [number, number];
    // The second process maps the library only now: the new file, current.
    process.kill(later, 'SIGUSR1');
    await sleep(500);
    const doc = await scanPids(pids);
    const first = doc.processes.find((p) => p.pid === now);
    const lib = first?.files.filter((f) => f.path === so) ?? [];
    assert.equal(lib.length, 1, JSON.stringify(first?.files));
    assert.equal(lib[0]?.interpreted, undefined, 'a mapping is not a heuristic finding');
    assert.deepEqual(lib[0]?.package, { name: pkg, version: '2.0', manager: 'dpkg' });
    for (const f of doc.entries.flatMap((e) => e.files).filter((x) => x.path === so)) {
      assert.equal(f.interpreted, undefined);
    }
    const second = doc.processes.find((p) => p.pid === later);
    assert.ok(second, 'the upgraded script is still reported');
    assert.ok(!second.files.some((f) => f.path === so), JSON.stringify(second.files));
    const text = await runCli(['scan', '--pid', String(now)]);
    assert.equal(text.code, 1);
    assert.match(text.stdout, /_native\.so(?! \(python)/);
    assert.doesNotMatch(text.stdout, /_native\.so \(python/);
  });
});

/** PIDs now in /proc. */
function allPids(): Set<number> {
  return new Set(
    readdirSync('/proc')
      .filter((n) => /^\d+$/.test(n))
      .map(Number),
  );
}

describe('hostile targets are never executed or trusted', {
  skip: isRoot ? false : 'needs root (to read other processes like a real scan)',
}, () => {
  // Not under /tmp (its files are noise and would not be reported at all).
  let dir = '';
  let evil = '';
  let marker = '';
  let child: ChildProcess | null = null;

  before(async () => {
    dir = mkdtempSync('/usr/local/lib/afterpatch-hostile-');
    marker = join(dir, 'EXECUTED');
    const poison = join(dir, 'poison');
    // Files that create the marker when anything imports them with this PYTHONPATH/PERL5LIB.
    const payload = `open(${JSON.stringify(marker)}, "w").write("x")\n`;
    for (const f of ['sitecustomize.py', 'usercustomize.py', 'os.py', 'site.py', 'encodings.py']) {
      writeFileSync(join(dir, f === 'os.py' ? f : f), payload);
    }
    writeFileSync(poison, '');
    writeFileSync(join(dir, 'strict.pm'), `open(my $f, ">", ${JSON.stringify(marker)}); 1;\n`);
    evil = join(dir, 'svc "quoted\' $(touch x)\nnewline.py');
    writeFileSync(evil, 'import sys, time\nprint("ready", flush=True)\ntime.sleep(120)\n');
    // -I: the target itself ignores PYTHONPATH; a scanner that honoured it would run the payload.
    child = spawn('/usr/bin/python3', ['-I', evil], {
      cwd: dir,
      env: {
        PATH: '/usr/bin:/bin',
        PYTHONPATH: dir,
        PERL5LIB: dir,
        PERL5OPT: '-Mstrict',
        NODE_OPTIONS: `--require ${join(dir, 'os.py')}`,
      },
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    await new Promise<void>((resolve, reject) => {
      child?.stdout?.once('data', () => resolve());
      child?.once('exit', () => reject(new Error('hostile target exited early')));
    });
    child.stdout?.destroy();
    await sleep(SETTLE_MS);
    utimesSync(evil, new Date(), new Date()); // the script changed after the start
    assert.equal(existsSync(marker), false, 'the target itself ran the payload');
  });
  after(async () => {
    if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await new Promise((r) => child?.once('exit', r));
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('reports the script by its exact name, runs nothing, spawns nothing', async () => {
    const pid = child?.pid as number;
    const before = allPids();
    const doc = await scanPids([pid]);
    const p = doc.processes.find((x) => x.pid === pid);
    assert.ok(p, 'hostile script not reported');
    assert.deepEqual(
      p.files.map((f) => [f.path, f.interpreted?.confidence]),
      [[evil, 'loaded']],
    );
    assert.equal(existsSync(marker), false, 'a payload was executed');
    assert.equal(existsSync(join(dir, 'x')), false, 'a shell ran the name');
    // Nothing lingers that the scan could have started (its own PID came and went).
    const after = [...allPids()].filter((x) => !before.has(x));
    for (const x of after) {
      let cmd = '';
      try {
        cmd = readFileSync(`/proc/${x}/cmdline`, 'utf8');
      } catch {}
      assert.ok(!cmd.includes(dir), `a process about the target appeared: ${cmd}`);
    }
  });

  it('under strace: the scan executes no program but itself', {
    skip: existsSync('/usr/bin/strace') ? false : 'strace is not installed',
  }, async () => {
    const log = join(dir, 'strace.log');
    await new Promise<void>((resolve, reject) => {
      execFile(
        '/usr/bin/strace',
        [
          '-f',
          '-qq',
          '-e',
          'trace=execve,execveat',
          '-o',
          log,
          process.execPath,
          CLI,
          'scan',
          '--json',
        ],
        { env: { PATH: '/usr/bin:/bin' }, maxBuffer: 64 * 1024 * 1024 },
        (err) => (err && typeof err.code !== 'number' ? reject(err) : resolve()),
      );
    });
    const execs = readFileSync(log, 'utf8')
      .split('\n')
      .filter((l) => /exec(ve|veat)\(/.test(l));
    assert.equal(execs.length, 1, execs.join('\n'));
    assert.equal(existsSync(marker), false);
  });
});
