// A real consumer of `afterpatch check`: Debian's icinga2 daemon runs it as a CheckCommand against
// fake /proc trees, and the states it records (in its state file, dumped on shutdown) must be
// OK, WARNING, CRITICAL and UNKNOWN. Its own perfdata parser must accept every metric.
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
import { CLI } from '../helpers/cli.ts';
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

/** The state file is a sequence of netstrings (`length:json,`), one per object. */
function readServiceResults(file: string): Map<string, CheckResult> {
  const buf = readFileSync(file);
  const out = new Map<string, CheckResult>();
  let i = 0;
  while (i < buf.length) {
    const colon = buf.indexOf(':', i);
    const len = Number(buf.subarray(i, colon).toString());
    const obj = JSON.parse(buf.subarray(colon + 1, colon + 1 + len).toString('utf8'));
    i = colon + 1 + len + 1; // the payload, then ","
    const cr = obj.update?.last_check_result;
    if (obj.type === 'Service' && cr) out.set(String(obj.name).split('!')[1] ?? '', cr);
  }
  return out;
}

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
    for (const d of ['lib', 'log', 'cache', 'spool', 'run/icinga2', 'perfdata'])
      mkdirSync(join(v, d), { recursive: true });

    const q = (s: string) => JSON.stringify(s); // Icinga DSL strings escape like JSON
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
    const config = `// generated by test/check/icinga.test.ts
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
object PerfdataWriter "progress" {
  service_perfdata_path = ${q(join(v, 'perfdata/service'))}
  service_temp_path = ${q(join(v, 'perfdata/service.tmp'))}
  host_perfdata_path = ${q(join(v, 'perfdata/host'))}
  host_temp_path = ${q(join(v, 'perfdata/host.tmp'))}
  service_format_template = "$service.name$\\t$service.state_id$"
  rotation_interval = 1s
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

    // Wait until every service has a check result (the perfdata writer's files name them).
    const seen = new Set<string>();
    const deadline = Date.now() + 60_000;
    while (seen.size < Object.keys(SERVICES).length && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 500));
      for (const f of readdirSync(join(v, 'perfdata'))) {
        if (!f.startsWith('service')) continue;
        for (const line of readFileSync(join(v, 'perfdata', f), 'utf8').split('\n')) {
          const name = line.split('\t')[0];
          if (name) seen.add(name);
        }
      }
      if (daemon.exitCode !== null) break;
    }
    // SIGTERM: icinga2 dumps its state file (every object's last check result) and exits.
    // /usr/sbin/icinga2 is a shell wrapper: its exit says nothing about the daemon, so wait for
    // the state file itself, repeating the signal (once a SIGTERM right after start-up was never
    // acted on), for at most 60 s; then end every process of the tree, found while it was whole.
    const tree = daemon.pid === undefined ? [] : [daemon.pid, ...descendants(daemon.pid)];
    const statePath = join(v, 'lib/icinga2.state');
    await new Promise((r) => setTimeout(r, 2_000));
    for (let i = 0; i < 60 && !existsSync(statePath); i++) {
      if (i % 10 === 0) for (const pid of tree) signal(pid, 'SIGTERM');
      await new Promise((r) => setTimeout(r, 1_000));
    }
    await new Promise((r) => setTimeout(r, 500)); // let the writer finish the file
    for (const pid of tree) signal(pid, 'SIGKILL');
    killDaemon(daemon);
    assert.ok(existsSync(statePath), `icinga2 wrote no state file:\n${log}`);
    results = readServiceResults(join(v, 'lib/icinga2.state'));
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

  it('splits the output and perfdata like the plugin says (long output kept, six metrics)', () => {
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
      'sessions=0;;;0',
      'containers=0;;;0',
      'reboot=0;;;0;1',
      'unreadable=0;;;0',
    ]);
    // What afterpatch printed is what Icinga split: rebuild the first line and check its syntax.
    const rebuilt = `${(cr.output.split('\n')[0] ?? '').trimEnd()} | ${cr.performance_data.map((p) => p.replace(/^(\w+)=/, "'$1'=")).join(' ')}`;
    assert.match(rebuilt, FIRST_LINE);
  });

  it("icinga2's own perfdata parser accepts every metric", async () => {
    const all = [...results.values()].flatMap((r) => r.performance_data);
    assert.ok(all.length >= 6);
    const expr = `[${all.map((p) => `parse_performance_data(${JSON.stringify(p)})`).join(', ')}]`;
    const out = await run(ICINGA2, ['console', '-e', expr]);
    const parsed = JSON.parse(out.trim()) as { label: string; value: number; min: number | null }[];
    assert.equal(parsed.length, all.length, out);
    assert.deepEqual(
      parsed
        .slice(0, 6)
        .map((p) => p.label)
        .sort(),
      ['containers', 'processes', 'reboot', 'sessions', 'units', 'unreadable'],
    );
    for (const p of parsed) assert.equal(p.min, 0);
  });

  it('logged no warning or error while running the checks', () => {
    assert.doesNotMatch(log, /^\[[^\]]+\] (warning|critical)\//m, log);
  });
});

/** Our own icinga2 (the wrapper we spawned and what it forked) and its output pipes. */
function killDaemon(d: ChildProcess): void {
  if (d.pid !== undefined) for (const pid of [d.pid, ...descendants(d.pid)]) signal(pid, 'SIGKILL');
  // Open pipes of a daemon that did not die would keep the test process alive.
  d.stdout?.destroy();
  d.stderr?.destroy();
}

/** Signals a process of ours if it still runs icinga2 (a PID is not signalled after reuse). */
function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('icinga2')) return;
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
