// A real consumer of `afterpatch check`: Debian's icinga2 daemon runs it as a CheckCommand against
// fake /proc trees, and the states it records (read while it runs, from a report its own DSL
// writes every second) must be OK, WARNING, CRITICAL and UNKNOWN. Its own perfdata parser must
// accept every metric.
// Runs only as root with the icinga2 package installed (.ci/run installs it); icinga2 runs as our
// own child process, in its own process group, with every path in a temporary directory and no
// network listener.
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CLI } from '../../harness/cli.ts';
import { FAKE_INIT, FAKE_STALE_SSHD, makeProcTree } from '../helpers/fakeproc.ts';
import { FIRST_LINE } from '../helpers/nagios.ts';

const ICINGA2 = '/usr/sbin/icinga2';
const skip =
  process.geteuid?.() !== 0
    ? 'needs root (icinga2 runs its checks as the user it starts as; the CI runs as root)'
    : !existsSync(ICINGA2)
      ? `${ICINGA2} is missing: apt-get install icinga2-bin (see .ci/run)`
      : !existsSync(CLI)
        ? `${CLI} is missing: run "npm run build" first`
        : false;

/** Service name → extra arguments (Icinga custom vars) and the state Icinga must record. */
const SERVICES: Record<
  string,
  {
    vars: Record<string, string>;
    fixture: 'clean' | 'stale' | 'none';
    reboot?: true;
    state: number;
  }
> = {
  ok: { vars: {}, fixture: 'clean', state: 0 },
  warning: { vars: {}, fixture: 'stale', state: 1 },
  critical: { vars: { afterpatch_critical: '0' }, fixture: 'stale', state: 2 },
  'reboot-critical': {
    vars: { afterpatch_reboot_state: 'critical' },
    fixture: 'clean',
    reboot: true,
    state: 2,
  },
  'unknown-proc': { vars: {}, fixture: 'none', state: 3 },
  'unknown-range': { vars: { afterpatch_warning: '5:2' }, fixture: 'stale', state: 3 },
};

interface CheckResult {
  state: number;
  exit_status: number;
  output: string;
  performance_data: string[];
}

/** The report the "report" service writes: service name → its last check result. */
function readReport(file: string): Map<string, CheckResult> {
  if (!existsSync(file)) return new Map();
  return new Map(
    Object.entries(JSON.parse(readFileSync(file, 'utf8')) as Record<string, CheckResult>),
  );
}

/** Run by `node -e` for the "report" service: writes argv[1] to the file argv[2] atomically. */
const WRITE_REPORT = [
  "const fs = require('node:fs');",
  'const [, json, file] = process.argv;',
  "fs.writeFileSync(file + '.tmp', json);",
  "fs.renameSync(file + '.tmp', file);",
  "console.log('reported');",
].join(' ');

function run(file: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) =>
      err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout),
    );
  });
}

describe('icinga2 runs afterpatch check', { skip }, () => {
  let dir: string;
  let clean: ReturnType<typeof makeProcTree>;
  let stale: ReturnType<typeof makeProcTree>;
  let daemon: ChildProcess | undefined;
  let log = '';
  let results: Map<string, CheckResult>;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'afterpatch-icinga-'));
    clean = makeProcTree({
      1: FAKE_INIT,
    });
    stale = makeProcTree({
      1: FAKE_INIT,
      10: FAKE_STALE_SSHD,
    });
    const fsroot = join(dir, 'fsroot');
    mkdirSync(join(fsroot, 'run'), { recursive: true });
    // A second root whose /run/reboot-required says a reboot is needed (Debian policy 9.12).
    const rebootRoot = join(dir, 'fsroot-reboot');
    mkdirSync(join(rebootRoot, 'run'), { recursive: true });
    writeFileSync(join(rebootRoot, 'run/reboot-required'), '*** System restart required ***\n');
    writeFileSync(join(rebootRoot, 'run/reboot-required.pkgs'), 'libc6\n');
    const state = join(dir, 'afterpatch-state');
    mkdirSync(state);
    const v = join(dir, 'var');
    for (const d of ['lib', 'log', 'cache', 'spool', 'run/icinga2'])
      mkdirSync(join(v, d), { recursive: true });

    const q = (s: string) => JSON.stringify(s); // Icinga DSL strings escape like JSON
    const reportFile = join(dir, 'report.json');
    const services = Object.entries(SERVICES).map(([name, s]) => {
      const procRoot =
        s.fixture === 'clean'
          ? clean.root
          : s.fixture === 'stale'
            ? stale.root
            : join(dir, 'no-proc');
      const vars = {
        afterpatch_proc_root: procRoot,
        afterpatch_root: s.reboot ? rebootRoot : fsroot,
        afterpatch_state_dir: state,
        ...s.vars,
      };
      return `object Service ${q(name)} {
  host_name = "fixture"
  check_command = "afterpatch"
  check_interval = 1s
  retry_interval = 1s
  max_check_attempts = 1
${Object.entries(vars)
  .map(([k, val]) => `  vars.${k} = ${q(val)}`)
  .join('\n')}
}`;
    });
    const config = `// generated by test/check/icinga.integration.test.ts
object CheckerComponent "checker" { }
object CheckCommand "host-alive" { command = [ "/bin/true" ] }
object Host "fixture" { check_command = "host-alive"; enable_active_checks = false }
object CheckCommand "afterpatch" {
  command = [ ${q(process.execPath)}, ${q(CLI)}, "check" ]
  arguments = {
    "--proc-root" = "$afterpatch_proc_root$"
    "--root" = "$afterpatch_root$"
    "--state-dir" = "$afterpatch_state_dir$"
    "--warning" = "$afterpatch_warning$"
    "--critical" = "$afterpatch_critical$"
    "--metric" = "$afterpatch_metric$"
    "--reboot-state" = "$afterpatch_reboot_state$"
  }
}
// Reports what icinga2 recorded while it runs (its state file is only written at shutdown, and
// icinga2 2.13.6 sometimes never writes it): every second this check's command, a function
// evaluated by the daemon, reads each service's last_check_result (the object the state file
// would hold) and passes it as JSON to node, which writes it to the report file atomically.
object CheckCommand "report" {
  command = {{
    var results = {}
    for (s in get_objects(Service)) {
      var cr = s.last_check_result
      if (s.name != "report" && cr) {
        results[s.name] = {
          state = cr.state
          exit_status = cr.exit_status
          output = cr.output
          performance_data = cr.performance_data
        }
      }
    }
    // What the function returns is not searched for macros: the JSON may hold any "$".
    return [ ${q(process.execPath)}, "-e", ${q(WRITE_REPORT)}, Json.encode(results), ${q(reportFile)} ]
  }}
}
object Service "report" {
  host_name = "fixture"
  check_command = "report"
  check_interval = 1s
  retry_interval = 1s
  max_check_attempts = 1
}
${services.join('\n')}
`;
    const confFile = join(dir, 'icinga2.conf');
    writeFileSync(confFile, config);

    const defines = {
      'Configuration.RunAsUser': 'root',
      'Configuration.RunAsGroup': 'root',
      'Configuration.ConfigDir': dir,
      'Configuration.DataDir': join(v, 'lib'),
      'Configuration.LogDir': join(v, 'log'),
      'Configuration.CacheDir': join(v, 'cache'),
      'Configuration.SpoolDir': join(v, 'spool'),
      'Configuration.InitRunDir': join(v, 'run'),
      'Configuration.PidPath': join(v, 'run/icinga2.pid'),
      'Configuration.StatePath': join(v, 'lib/icinga2.state'),
      'Configuration.ObjectsPath': join(v, 'cache/icinga2.debug'),
      'Configuration.VarsPath': join(v, 'cache/icinga2.vars'),
      'Configuration.ModAttrPath': join(v, 'lib/modified-attributes.conf'),
    };
    const args = [
      'daemon',
      '-c',
      confFile,
      ...Object.entries(defines).flatMap(([k, val]) => ['-D', `${k}=${val}`]),
    ];
    await run(ICINGA2, [...args.slice(0, 3), '-C', ...args.slice(3)]); // validate first: clear error
    daemon = spawn(ICINGA2, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    daemon.stdout?.on('data', (b: Buffer) => {
      log += b.toString();
    });
    daemon.stderr?.on('data', (b: Buffer) => {
      log += b.toString();
    });

    // Poll the report until it holds a check result of every service, for at most 60 s.
    const names = Object.keys(SERVICES);
    const deadline = Date.now() + 60_000;
    results = new Map();
    for (;;) {
      results = readReport(reportFile);
      if (names.every((n) => results.has(n))) break;
      if (daemon.exitCode !== null || daemon.signalCode !== null || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    const exited = daemon.exitCode ?? daemon.signalCode;
    killDaemon(daemon);
    const missing = names.filter((n) => !results.has(n));
    assert.ok(
      missing.length === 0,
      `${exited === null ? 'after 60 s' : `icinga2 exited (${exited})`}, no check result for ${missing.join(', ')}; report: ${JSON.stringify([...results.keys()])}; icinga2's log ends:\n${log.split('\n').slice(-40).join('\n')}`,
    );
    // AFTERPATCH_ICINGA_RECORD=FILE keeps what Icinga recorded, for a human to read.
    const record = process.env.AFTERPATCH_ICINGA_RECORD;
    if (record) {
      const text = [...results]
        .map(
          ([n, cr]) =>
            `--- ${n}: state ${cr.state}\n${cr.output}\nperfdata: ${cr.performance_data.join(' ')}\n`,
        )
        .join('');
      writeFileSync(record, text);
    }
  });

  after(() => {
    if (daemon) killDaemon(daemon);
    clean?.cleanup();
    stale?.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  for (const [name, s] of Object.entries(SERVICES)) {
    it(`records state ${s.state} for service "${name}"`, () => {
      const cr = results.get(name);
      assert.ok(cr, `no check result for ${name}`);
      assert.equal(cr.state, s.state, cr.output);
      assert.equal(cr.exit_status, s.state);
      const first = cr.output.split('\n')[0] ?? '';
      const label = ['OK', 'WARNING', 'CRITICAL', 'UNKNOWN'][s.state];
      assert.ok(first.startsWith(`AFTERPATCH ${label} - `), first);
    });
  }

  it('splits the output and perfdata like the plugin says (long output kept, eight metrics)', () => {
    const cr = results.get('warning');
    assert.ok(cr);
    assert.match(
      cr.output,
      /^AFTERPATCH WARNING - outdated code in 1 process: 1 unit \(ssh\.service\); no reboot required\s*\n/,
    );
    assert.match(
      cr.output,
      /\nssh\.service \(unit\): PID 10 sshd: \/usr\/lib\/libcrypto\.so\.3 \(not packaged\); action: systemctl restart ssh\.service/,
    );
    assert.deepEqual(cr.performance_data, [
      'processes=1;;;0',
      'units=1;0;;0',
      'sessions=0;0;;0',
      'containers=0;0;;0',
      'vms=0;0;;0',
      'unmanaged=0;0;;0',
      'reboot=0;;;0;1',
      'unreadable=0;;;0',
    ]);
    // What afterpatch printed is what Icinga split: rebuild the first line and check its syntax.
    const rebuilt = `${(cr.output.split('\n')[0] ?? '').trimEnd()} | ${cr.performance_data.map((p) => p.replace(/^(\w+)=/, "'$1'=")).join(' ')}`;
    assert.match(rebuilt, FIRST_LINE);
  });

  it("icinga2's own perfdata parser accepts every metric", async () => {
    const all = [...results.values()].flatMap((r) => r.performance_data);
    assert.ok(all.length >= 8);
    const expr = `[${all.map((p) => `parse_performance_data(${JSON.stringify(p)})`).join(', ')}]`;
    const out = await run(ICINGA2, ['console', '-e', expr]);
    const parsed = JSON.parse(out.trim()) as { label: string; value: number; min: number | null }[];
    assert.equal(parsed.length, all.length, out);
    assert.deepEqual(
      parsed
        .slice(0, 8)
        .map((p) => p.label)
        .sort(),
      ['containers', 'processes', 'reboot', 'sessions', 'units', 'unmanaged', 'unreadable', 'vms'],
    );
    for (const p of parsed) assert.equal(p.min, 0);
  });

  it('logged no warning or error while running the checks', () => {
    assert.doesNotMatch(log, /^\[[^\]]+\] (warning|critical)\//m, log);
  });
});

/**
 * Ends our own icinga2 (the wrapper we spawned, exec'd into the daemon) and everything it forked,
 * check plugins included: it stops the whole tree first (a stopped process forks no more), walking
 * it again until no new process appears, then kills it. It needs nothing from a graceful shutdown.
 * Only descendants of the child we spawned are signalled, each checked by its start time.
 */
function killDaemon(d: ChildProcess): void {
  const root = d.pid;
  // Once Node has reaped the child its PID may be reused; its orphans finish on their own.
  if (root !== undefined && d.exitCode === null && d.signalCode === null) {
    const tree = new Map<number, string>();
    for (let grew = true; grew; ) {
      grew = false;
      for (const pid of [root, ...descendants(root)]) {
        const start = startTime(pid);
        if (start === undefined || tree.has(pid)) continue;
        tree.set(pid, start);
        signal(pid, start, 'SIGSTOP');
        grew = true;
      }
    }
    for (const [pid, start] of tree) signal(pid, start, 'SIGKILL');
  }
  // Open pipes of a daemon that did not die would keep the test process alive.
  d.stdout?.destroy();
  d.stderr?.destroy();
}

/** The start time of a process (field 22 of /proc/PID/stat), or undefined once it is gone. */
function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** Signals a process of ours if it is still the one that started at `start` (not a reused PID). */
function signal(pid: number, start: string, sig: NodeJS.Signals): void {
  if (startTime(pid) !== start) return;
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(name)]);
    } catch {
      // exited meanwhile
    }
  }
  const out: number[] = [];
  const walk = (pid: number) => {
    for (const c of children.get(pid) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(root);
  return out;
}
