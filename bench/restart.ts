// bench/restart.ts [N] - how long does `afterpatch restart --yes --json` take to restart N
// (default 200) stale services, next to the floor: one `systemctl restart` of the same N units?
// Run it through the wrapper `bench/restart` (root, lock, NODE_EXTRA_CA_CERTS unset); details and
// how to read the results: bench/README.md.
//
//   1. compiles test/fixtures/c/svc-daemon.c (a Type=notify daemon) against libsvc.so.1
//      (test/fixtures/c/svc-lib.c) into a fresh directory bench/out/restart-lib-XXXXXX/ (not
//      /tmp, /var/tmp or /run: afterpatch filters deleted files there as noise);
//   2. boots one systemd sandbox (harness/sandbox.ts), installs bench-svc-001.service …
//      bench-svc-NNN.service running that daemon, starts them all and checks they are active;
//   3. writes two fixed scripts into that directory: `prepare` (rename()s a new copy of the
//      library over the old path, so every service maps it "(deleted)" again, and empties the
//      state directory) and `in-sandbox` (nsenter into the sandbox, PID 1 fixed at bench time and
//      checked against its PID namespace before every use);
//   4. checks once that afterpatch's JSON says N units `verified` (and nothing else), and that
//      the floor command works, so a broken run cannot look fast;
//   5. one hyperfine run (--prepare = the prepare script) over afterpatch and the floor (plus any
//      VARIANTS), exported to bench/out/restart-N<N>.{json,md};
//   6. checks afterpatch once more, prints the ratio afterpatch/floor (target: 1.3x) and the load
//      average before and after the hyperfine run; when
//      dist/afterpatch.cjs was rebuilt meanwhile (its hash changed), steps 4-6 run again (3 tries);
//   7. always (finally, exit, SIGINT/SIGTERM/SIGHUP): stops hyperfine (our child, by PID), stops
//      the sandbox through the harness, removes bench/out/restart-lib-XXXXXX/.
//
// Environment: RUNS (5), WARMUP (1), ROUNDS (1: with more, RUNS runs of each leg per round, the
// legs' order rotated every round, results pooled — a load that changes during the measurement
// then hits every leg alike), VARIANTS (space-separated extra afterpatch legs in the same
// hyperfine run: `jobs=<n>` adds `--jobs <n>`, `dry-run` adds a `--dry-run` leg (scan + plan
// only)), BASELINE (path of another build of afterpatch, e.g. main's dist/afterpatch.cjs copied
// aside: adds its `restart` as a leg of the same run, checked like ours, so old and new code are
// compared under the same load), KEEP_CHECK_JSON (=1 keeps the checked afterpatch reports in bench/out), HOLD_SECONDS
// (profiling aid: after the checks, keep the sandbox up this long instead of timing).
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI } from '../harness/cli.ts';
import { bootSandbox, canBootSandbox, type Sandbox } from '../harness/sandbox.ts';
import {
  FIXTURES_C,
  installByRename,
  LIB_NAME,
  mappingsOf,
  svcLibGccArgs,
} from '../harness/stale-lib.ts';
import {
  childEnv,
  cleanupStep,
  die,
  intEnv,
  log,
  makeWorkDir,
  mustRun,
  OUT,
  removeWorkOnExit,
  requireSafePaths,
  requireTools,
  runBench,
  runHost,
  sleep,
  waitForDist,
} from './lib/bench.ts';
import { cmdline, type HyperfineResult, hyperfine, readHyperfine } from './lib/hyperfine.ts';
import { writeInSandboxScript, writeScript } from './lib/scripts.ts';

// The work directory goes last on exit; again once the sandbox is up (after the harness's).
removeWorkOnExit();

// ---------------------------------------------------------------------------------------------
// Parameters

interface Variant {
  name: string;
  args: string[];
}

function parseVariants(text: string): Variant[] {
  const out: Variant[] = [];
  for (const tok of text.split(/\s+/).filter((t) => t !== '')) {
    const jobs = /^jobs=([1-9][0-9]{0,3})$/.exec(tok);
    if (jobs?.[1] !== undefined) out.push({ name: `--jobs ${jobs[1]}`, args: ['--jobs', jobs[1]] });
    else if (tok === 'dry-run') out.push({ name: '--dry-run', args: ['--dry-run'] });
    else die(`VARIANTS: unknown entry ${JSON.stringify(tok)} (use jobs=<n> or dry-run)`);
  }
  return out;
}

const nArg = process.argv[2] ?? '200';
if (!/^[1-9][0-9]{0,2}$/.test(nArg)) {
  process.stderr.write('usage: bench/restart [N]  (N: number of services, 1-999, default 200)\n');
  process.exit(2);
}
const N = Number(nArg);
const UNITS = Array.from(
  { length: N },
  (_, i) => `bench-svc-${String(i + 1).padStart(3, '0')}.service`,
);

function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** /proc/loadavg's 1, 5 and 15 minute figures, around the hyperfine run. */
function loadAverage(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}
let loadBefore = '';
let loadAfter = '';

/** The sandbox, stopped (through the harness) whatever happens. */
let sandbox: Sandbox | undefined;

// ---------------------------------------------------------------------------------------------
// Scripts (fixed text; the only values written into them are checked against SAFE_PATH or are
// numbers)

// `prepare` finds everything relative to its own directory: no data in the script.
const PREPARE = `#!/bin/sh
# bench/restart --prepare: make lib/${LIB_NAME} stale again the way dpkg does (write a new copy
# beside it, rename() it over the old path), and give afterpatch a fresh, empty state directory.
set -eu
cd "$(dirname "$0")"
cp build/libsvc-next.so lib/${LIB_NAME}.afterpatch-new
mv -f lib/${LIB_NAME}.afterpatch-new lib/${LIB_NAME}
rm -rf state
mkdir state
`;

// ---------------------------------------------------------------------------------------------
// The afterpatch report, as far as the check reads it (docs/restart.md)

interface RestartJson {
  format?: string;
  plan?: { unit: string | null; action: string; reason: string }[];
  results?: { unit: string | null; outcome: string; durationMs: number }[];
  summary?: Record<string, number>;
}

interface Check {
  wallMs: number;
  durations: number[];
}

/** prepare, then one `afterpatch restart` exactly as hyperfine runs it; N units verified? */
async function checkAfterpatch(
  inSandbox: string,
  prepare: string,
  afterpatchArgs: readonly string[],
  label: string,
): Promise<Check> {
  await mustRun(prepare, []);
  const stale = staleCount();
  if (stale < N) die(`${label}: only ${stale} of ${N} services map ${LIB_NAME} "(deleted)"`);
  const t0 = performance.now();
  const r = await runHost(inSandbox, afterpatchArgs, { timeoutMs: 300_000 });
  const wallMs = performance.now() - t0;
  const text = `exit ${r.code}\n--- stdout (start) ---\n${r.stdout.slice(0, 4000)}\n--- stderr ---\n${r.stderr.slice(-4000)}`;
  if (process.env.KEEP_CHECK_JSON === '1') {
    writeFileSync(join(OUT, `restart-N${N}-${label}.json`), r.stdout);
  }
  let doc: RestartJson;
  try {
    doc = JSON.parse(r.stdout) as RestartJson;
  } catch {
    return die(`${label}: afterpatch printed no JSON:\n${text}`);
  }
  const results = doc.results ?? [];
  const verified = results.filter((x) => x.outcome === 'verified' && UNITS.includes(x.unit ?? ''));
  const others = (doc.plan ?? []).filter((e) => !UNITS.includes(e.unit ?? ''));
  if (
    r.code !== 0 ||
    doc.format !== 'afterpatch-restart' ||
    doc.summary?.verified !== N ||
    verified.length !== N ||
    new Set(verified.map((x) => x.unit)).size !== N ||
    results.length !== N ||
    others.length > 0
  ) {
    const bad = results.filter((x) => x.outcome !== 'verified').slice(0, 5);
    die(
      `${label}: expected exit 0 and ${N} bench-svc units verified, got exit ${r.code}, ` +
        `summary ${JSON.stringify(doc.summary)}, ${results.length} results` +
        `${bad.length ? `, e.g. ${JSON.stringify(bad)}` : ''}` +
        `${others.length ? `, other plan entries ${JSON.stringify(others.slice(0, 5))}` : ''}\n${text}`,
    );
  }
  return { wallMs, durations: results.map((x) => x.durationMs) };
}

// ---------------------------------------------------------------------------------------------
// The sandbox side

/** `systemctl show` of all units in one call: one property map per unit, in order. */
async function showAll(sb: Sandbox, props: string): Promise<Record<string, string>[]> {
  const r = await sb.exec(['systemctl', 'show', `--property=${props}`, '--', ...UNITS], {
    timeoutMs: 60_000,
  });
  if (r.code !== 0) die(`systemctl show failed (${r.code}): ${r.stderr}`);
  const blocks: Record<string, string>[] = [];
  for (const chunk of r.stdout.split('\n\n')) {
    if (chunk.trim() === '') continue;
    const b: Record<string, string> = {};
    for (const line of chunk.split('\n')) {
      const eq = line.indexOf('=');
      if (eq > 0) b[line.slice(0, eq)] = line.slice(eq + 1);
    }
    blocks.push(b);
  }
  if (blocks.length !== N) die(`systemctl show returned ${blocks.length} blocks for ${N} units`);
  return blocks;
}

let cgroups: string[] = [];
let libPath = '';

/** Services (host PIDs read from their cgroups) mapping the library "(deleted)". */
function staleCount(): number {
  let n = 0;
  for (const cg of cgroups) {
    let pids: number[] = [];
    try {
      pids = readFileSync(join(cg, 'cgroup.procs'), 'utf8')
        .split('\n')
        .filter((l) => l !== '')
        .map(Number);
    } catch {}
    if (pids.some((pid) => mappingsOf(pid, libPath).some((m) => m.deleted))) n++;
  }
  return n;
}

// ---------------------------------------------------------------------------------------------

/** Every round's runs of each leg, as one result (times, mean, standard deviation). */
function pooled(
  legs: readonly [string, string[]][],
  rounds: number,
  roundBase: (r: number) => string,
): HyperfineResult[] {
  const byRound = Array.from({ length: rounds }, (_, r) => readHyperfine(roundBase(r)));
  return legs.map(([name]) => {
    const all = byRound.map((rs) => rs.find((x) => x.command === name));
    const times = all.flatMap((x) => x?.times ?? []);
    if (times.length === 0) die(`no times for ${name} in ${roundBase(0)}.json …`);
    const mean = times.reduce((a, b) => a + b, 0) / times.length;
    const sd = Math.sqrt(times.reduce((a, b) => a + (b - mean) ** 2, 0) / (times.length - 1));
    const sorted = [...times].sort((a, b) => a - b);
    const avg = (k: 'user' | 'system') =>
      all.reduce((a, x) => a + (x?.[k] ?? 0), 0) / all.filter((x) => x).length;
    return {
      command: name,
      mean,
      stddev: sd,
      median: sorted[Math.floor(sorted.length / 2)] as number,
      user: avg('user'),
      system: avg('system'),
      min: sorted[0] as number,
      max: sorted[sorted.length - 1] as number,
      times,
    };
  });
}

function pooledTable(results: readonly HyperfineResult[]): string {
  const f = (x: number) => x.toFixed(3);
  const lines = ['| Command | Mean [s] | Min [s] | Max [s] | Runs |', '|:---|---:|---:|---:|---:|'];
  for (const r of results) {
    lines.push(
      `| \`${r.command}\` | ${f(r.mean)} ± ${f(r.stddev ?? 0)} | ${f(r.min)} | ${f(r.max)} | ${r.times?.length ?? 0} |`,
    );
  }
  return `${lines.join('\n')}\n`;
}

async function main(): Promise<void> {
  const runs = intEnv('RUNS', 5, 2);
  const rounds = intEnv('ROUNDS', 1, 1);
  const warmup = intEnv('WARMUP', 1, 0);
  const variants = parseVariants(process.env.VARIANTS ?? '');
  const baseline = process.env.BASELINE ?? '';
  if (baseline !== '' && !existsSync(baseline)) die(`BASELINE ${baseline}: no such file`);

  // --- preconditions -------------------------------------------------------------------------
  if (process.getuid?.() !== 0)
    die('must run as root (boots systemd as PID 1 of fresh namespaces)');
  const can = canBootSandbox();
  if (!can.ok) die(`cannot boot a systemd sandbox: ${can.reason}`);
  await requireTools(['hyperfine', 'gcc'], 'apt-get install hyperfine gcc libc6-dev');
  await waitForDist();
  requireSafePaths(baseline === '' ? [] : [baseline]);

  // --- build ---------------------------------------------------------------------------------
  const dir = makeWorkDir();
  log(`building the service and its library in ${dir}`);
  for (const d of ['build', 'lib', 'bin', 'state']) mkdirSync(join(dir, d));
  const lib = join(dir, 'lib', LIB_NAME);
  libPath = lib;
  const so = (v: number, out: string) => mustRun('gcc', svcLibGccArgs(v, out));
  await Promise.all([
    so(1, join(dir, 'build', 'libsvc-v1.so')),
    so(2, join(dir, 'build', 'libsvc-next.so')),
  ]);
  installByRename(join(dir, 'build', 'libsvc-v1.so'), lib);
  const daemon = join(dir, 'bin', 'svc-daemon');
  await mustRun('gcc', [
    '-O1',
    '-Wall',
    '-o',
    daemon,
    join(FIXTURES_C, 'svc-daemon.c'),
    lib,
    '-Wl,-rpath,$ORIGIN/../lib',
  ]);
  const prepare = join(dir, 'prepare');
  writeScript(prepare, PREPARE);
  const state = join(dir, 'state');

  // --- sandbox and services ------------------------------------------------------------------
  log('booting the systemd sandbox');
  const sb = await bootSandbox({ timeoutMs: 30_000 });
  sandbox = sb;
  // Our 'exit' listener after the harness's: the sandbox goes first, then the directory.
  removeWorkOnExit();
  log(`sandbox ${sb.name} up, PID 1 = host PID ${sb.pid1}`);
  const inSandbox = join(dir, 'in-sandbox');
  writeInSandboxScript(inSandbox, `sandbox ${sb.name}`, sb.pid1);

  log(`installing and starting ${N} units bench-svc-NNN.service`);
  // StartLimitIntervalSec=0: every timed run restarts every unit; systemd's default start limit
  // (5 starts in 10 s) would otherwise fail them after a few quick runs.
  for (const [i, u] of UNITS.entries()) {
    writeFileSync(
      join(sb.unitDir, u),
      `[Unit]\nDescription=afterpatch restart benchmark service ${i + 1}\nStartLimitIntervalSec=0\n\n` +
        `[Service]\nType=notify\nExecStart=${daemon} notify\n`,
      { mode: 0o644 },
    );
  }
  const reload = await sb.systemctl('daemon-reload');
  if (reload.code !== 0) die(`daemon-reload failed: ${reload.stderr}`);
  const start = await sb.exec(['systemctl', 'start', '--', ...UNITS], { timeoutMs: 180_000 });
  if (start.code !== 0) die(`systemctl start failed (${start.code}): ${start.stderr}`);
  const shown = await showAll(sb, 'ActiveState,ControlGroup');
  const inactive = UNITS.filter((_, i) => shown[i]?.ActiveState !== 'active');
  if (inactive.length > 0) die(`not active: ${inactive.slice(0, 10).join(' ')}`);
  cgroups = shown.map((b) => {
    const cg = b.ControlGroup ?? '';
    if (!/^\/[A-Za-z0-9_.@/-]+$/.test(cg) || cg.includes('..')) die(`bad ControlGroup ${cg}`);
    return join(sb.cgroupDir, cg);
  });
  log(`${N} units active`);

  // --- the timed commands, checked once ----------------------------------------------------------
  const afterpatch = [process.execPath, CLI, 'restart', '--yes', '--json', '--state-dir', state];
  const before = baseline === '' ? null : [process.execPath, baseline, ...afterpatch.slice(2)];
  const floor = ['systemctl', 'restart', '--', ...UNITS];
  const checkBoth = async (label: string) => {
    log(`checking afterpatch once (untimed, ${label})`);
    if (before) {
      log('checking the baseline once (untimed)');
      await checkAfterpatch(inSandbox, prepare, before, `${label}-baseline`);
    }
    const c = await checkAfterpatch(inSandbox, prepare, afterpatch, label);
    const d = [...c.durations].sort((x, y) => x - y);
    log(
      `afterpatch: ${N} units verified in ${(c.wallMs / 1000).toFixed(2)} s; durationMs per unit ` +
        `(its batch: restart + show + verify) median ${d[Math.floor(N / 2)]}, max ${d[N - 1]}`,
    );
    log('checking the floor once (untimed)');
    await mustRun(prepare, []);
    const fr = await runHost(inSandbox, floor, { timeoutMs: 300_000 });
    if (fr.code !== 0) die(`floor: systemctl restart exited ${fr.code}: ${fr.stderr}`);
    if (staleCount() !== 0) die('floor: services still map the old library after the restart');
  };

  const hold = intEnv('HOLD_SECONDS', 0, 0);
  if (hold > 0) {
    await checkBoth('check');
    // Profiling aid: keep the sandbox up for another shell, then clean up as usual.
    log(`holding for ${hold} s (HOLD_SECONDS); Ctrl-C ends early. In another shell:`);
    log(`  ${prepare}                       # make the library stale again`);
    log(`  ${inSandbox} systemctl status bench-svc-001.service   # run anything inside`);
    log('(svc-daemon exits by itself 600 s after its last start: restart the units meanwhile)');
    await sleep(hold * 1000);
    return;
  }

  // --- hyperfine -------------------------------------------------------------------------------
  const base = join(OUT, `restart-N${N}`);
  const floorName = `systemctl restart (${N} units, 1 call)`;
  const legs: [string, string[]][] = [
    ['afterpatch restart', afterpatch],
    [floorName, floor],
    ...variants.map((v): [string, string[]] => [
      `afterpatch restart ${v.name}`,
      [...afterpatch, ...v.args],
    ]),
    ...(before ? [['baseline restart', before] as [string, string[]]] : []),
  ];
  // Round r runs the legs starting with leg r (hyperfine runs one leg's runs back to back: a
  // load that changes during the run would otherwise always hit the same legs).
  const hfArgsOf = (r: number) => {
    const args = ['--prepare', prepare];
    for (const [name, argv] of [...legs.slice(r % legs.length), ...legs.slice(0, r % legs.length)])
      args.push('-n', name, cmdline([inSandbox, ...argv]));
    return args;
  };
  const roundBase = (r: number) => (rounds === 1 ? base : `${base}-r${r + 1}`);
  const distNow = () => (existsSync(CLI) ? sha256(CLI) : 'missing');
  // dist/afterpatch.cjs may be rebuilt by someone else mid-run: then measure again.
  for (let attempt = 1; ; attempt++) {
    await waitForDist();
    const distSum = sha256(CLI);
    await checkBoth(attempt === 1 ? 'check' : `check-${attempt}`);
    log(`hyperfine: ${legs.length} commands, warmup ${warmup}, ${runs} runs, ${rounds} round(s)`);
    loadBefore = loadAverage();
    let code = 0;
    for (let r = 0; r < rounds && code === 0; r++) {
      const w = r === 0 ? warmup : 0;
      code = await hyperfine(roundBase(r), { warmup: w, runs, args: hfArgsOf(r), env: childEnv() });
    }
    loadAfter = loadAverage();
    if (distNow() === distSum) {
      if (code !== 0) die(`hyperfine exited ${code}`);
      await checkAfterpatch(inSandbox, prepare, afterpatch, 'recheck');
      if (distNow() === distSum) break;
    }
    if (attempt >= 3) die(`${CLI} was rebuilt during each of ${attempt} attempts: run it again`);
    log(`${CLI} was rebuilt during the measurement: measuring again`);
  }

  // --- report ----------------------------------------------------------------------------------
  const results = rounds === 1 ? readHyperfine(base) : pooled(legs, rounds, roundBase);
  if (rounds > 1) writeFileSync(`${base}.md`, pooledTable(results));
  const byName = (n: string) => results.find((r) => r.command === n);
  const fl = byName(floorName);
  const ap = byName('afterpatch restart');
  if (fl === undefined || ap === undefined) die(`unexpected hyperfine JSON in ${base}.json`);
  const f3 = (x: number) => x.toFixed(3);
  const ms = (r: HyperfineResult) => `${f3(r.mean)} s ± ${f3(r.stddev ?? 0)}`;
  const ratio = ap.mean / fl.mean;
  const parts = [
    `afterpatch ${ms(ap)} = ${ratio.toFixed(2)}x floor (target 1.30x${ratio <= 1.3 ? ', met' : ', NOT met'})`,
    `floor ${ms(fl)}`,
    ...variants.map((v) => {
      const r = byName(`afterpatch restart ${v.name}`);
      return r ? `${v.name} ${ms(r)} = ${(r.mean / fl.mean).toFixed(2)}x floor` : '';
    }),
    ...(before
      ? [byName('baseline restart')].map((r) =>
          r ? `baseline ${ms(r)} = ${(r.mean / fl.mean).toFixed(2)}x floor` : '',
        )
      : []),
  ];
  // Other work on the machine slows both legs, not always alike: the ratio is only as good as it.
  const summary = `N=${N}: ${parts.join(', ')}; load average (1, 5, 15 min) ${loadBefore} before, ${loadAfter} after`;
  process.stdout.write(`\n${readFileSync(`${base}.md`, 'utf8')}\n${summary}\n`);
  writeFileSync(join(OUT, `restart-summary-N${N}.txt`), `${summary}\n`);
  log(`results in ${OUT}/restart-N${N}.{json,md}, restart-summary-N${N}.txt`);
}

// Quick commands (gcc, prepare) get 2 minutes; the checked runs pass their own timeout.
const settings = { name: 'bench/restart', workPrefix: 'restart-lib-', timeoutMs: 120_000 };
await runBench(settings, main, async () => {
  const sb = sandbox;
  if (sb === undefined) return;
  log(`stopping sandbox ${sb.name}`);
  await cleanupStep('stopping the sandbox', () => sb.stop());
});
