// bench/fleet - what does a fleet run cost, and what does that make of 500 hosts? Run it through
// the wrapper `bench/fleet` (root, lock, NODE_EXTRA_CA_CERTS unset); how to read the results:
// bench/README.md; the model built on the numbers: docs/fleet.md, "Scale".
//
//   bench/fleet [N]               per-host costs on N rig hosts (default 3; per-host.ts): ad hoc
//                                 module round trips, rolling-restart.yml batches, a heavy host
//                                 with HEAVY stale processes, the save and report at FLEET hosts
//   bench/fleet scale [SIZES…]    whole runs over 3, 10 and 50 hosts of one rig (scale.ts):
//                                 rolling-restart.yml against the bare playbook and ping
//
// Both: build the test package and install it on the machine (the rig's hosts share /usr), boot
// the rig, install afterpatch with the role, start fleet-app.service on every host (context.ts);
// always clean up (the rig, the package, bench/out/fleet-XXXXXX/).
//
// Environment: RUNS (3; in-host legs run twice as often), WARMUP (1), PLAY_RUNS (2), HEAVY (5000);
// scale: SCALE_RUNS (2 runs up to 10 hosts), SCALE_RUNS_LARGE (1 run above), NODE_MAX (10: the
// largest size the Node.js module is timed at), LEGACY (1: also the playbook as it was, at the
// largest size), BASELINE (another checkout, built: its playbook, module and CLI timed leg by
// leg with these at every size); the model's knobs: FLEET (500), FORKS (50), CORES (2, the
// controller's), WINDOW_H (12), HEALTH_S (60), MARGIN (0.33).
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isInstalled } from '../../harness/fixtures.ts';
import { canBootRig, MAX_RIG_HOSTS } from '../../harness/rig.ts';
import {
  die,
  intEnv,
  log,
  numEnv,
  OUT,
  requireSafePaths,
  requireTools,
  runBench,
  waitForDist,
} from '../lib/bench.ts';
import { type Ctx, LIBRARY, PKG, rolling, setup, teardown } from './context.ts';
import type { Knobs } from './model.ts';
import { perHostLegs } from './per-host.ts';
import { removeControllerCgroup, scaleLegs } from './scale.ts';

const usage =
  'usage: bench/fleet [N]  (N: rig hosts, 2-20, default 3)\n       bench/fleet scale [SIZES…]  (host counts, default 3 10 50, at most 63)\n';
const args = process.argv.slice(2);
const scale = args[0] === 'scale';
const sizes = scale ? (args.length > 1 ? args.slice(1) : ['3', '10', '50']) : [args[0] ?? '3'];
if (
  sizes.some((s) => !/^[0-9]{1,2}$/.test(s)) ||
  (!scale && (args.length > 1 || Number(sizes[0]) < 2 || Number(sizes[0]) > 20)) ||
  (scale && sizes.some((s) => Number(s) < 2 || Number(s) > MAX_RIG_HOSTS))
) {
  process.stderr.write(usage);
  process.exit(2);
}
const counts = sizes.map(Number).sort((a, b) => a - b);

async function main(): Promise<void> {
  const knobs: Knobs = {
    cores: intEnv('CORES', 2, 1, 1024),
    fleet: intEnv('FLEET', 500, 1, 100_000),
    forks: intEnv('FORKS', 50, 1, 1000),
    windowH: numEnv('WINDOW_H', 12, 1, 168),
    healthS: numEnv('HEALTH_S', 60, 0, 3600),
    margin: numEnv('MARGIN', 0.33, 0, 0.9),
  };
  const runs = intEnv('RUNS', 3, 2, 100);
  const warmup = intEnv('WARMUP', 1, 0, 100);
  const playRuns = intEnv('PLAY_RUNS', 2, 2, 100);
  const heavyN = intEnv('HEAVY', 5000, 100, 20_000);

  if (process.getuid?.() !== 0) die('must run as root (boots systemd sandboxes, installs a .deb)');
  const can = canBootRig();
  if (!can.ok) die(`cannot boot the rig: ${can.reason}`);
  await requireTools(
    ['hyperfine', 'gcc', 'dpkg-deb', 'ansible', 'nsenter'],
    'apt-get install hyperfine gcc dpkg-dev ansible-core',
  );
  await waitForDist();
  requireSafePaths([LIBRARY]);
  if (await isInstalled(PKG))
    die(`${PKG} is installed (left by an interrupted run?): dpkg --purge ${PKG}`);
  if (!scale) {
    const procs = readdirSync('/proc').filter((n) => /^[0-9]+$/.test(n)).length;
    const need = heavyN + procs + 1000;
    const pidMax = Number(readFileSync('/proc/sys/kernel/pid_max', 'utf8'));
    const threadsMax = Number(readFileSync('/proc/sys/kernel/threads-max', 'utf8'));
    if (need > pidMax) die(`kernel.pid_max is ${pidMax}, need ${need} for HEAVY=${heavyN}`);
    if (need > threadsMax) die(`kernel.threads-max is ${threadsMax}, need ${need}`);
  }

  const max = Math.max(...counts);
  const label = scale ? `scale-${counts.join('-')}` : `N${max}`;
  const ctx = await setup(max, label);
  const hold = intEnv('HOLD_SECONDS', 0, 0, 86_400);
  if (hold > 0) return holdRig(ctx, hold);
  const lines = scale
    ? await scaleLegs(ctx, {
        sizes: counts,
        runsSmall: intEnv('SCALE_RUNS', 2, 1, 100),
        runsLarge: intEnv('SCALE_RUNS_LARGE', 1, 1, 100),
        nodeMax: intEnv('NODE_MAX', 10, 0, MAX_RIG_HOSTS),
        legacy: intEnv('LEGACY', 1, 0, 1) === 1,
        baseline: baselineCheckout(),
        knobs,
      })
    : await perHostLegs(ctx, { runs, warmup, playRuns, heavyN, knobs });
  const text = `${lines.join('\n')}\n`;
  process.stdout.write(`\n${text}`);
  const file = join(OUT, `fleet-summary-${label}.txt`);
  writeFileSync(file, text);
  log(`results in ${OUT}/fleet-${label}-*.{json,md} and ${file}`);
}

/**
 * BASELINE=<checkout> (scale mode): another checkout's rolling-restart.yml, module and CLI
 * (its dist/afterpatch.cjs, built) timed in the same run, leg after leg with this one's: an A/B
 * that load cannot tilt.
 */
function baselineCheckout(): string | undefined {
  const dir = process.env.BASELINE;
  if (dir === undefined || dir === '') return undefined;
  if (!SAFE_DIR.test(dir)) die(`BASELINE: ${JSON.stringify(dir)} is no plain absolute path`);
  for (const f of ['integrations/ansible/rolling-restart.yml', 'dist/afterpatch.cjs'])
    if (!existsSync(join(dir, f))) die(`BASELINE: no ${f} in ${dir} (a checkout, built)`);
  return dir;
}
const SAFE_DIR = /^\/[A-Za-z0-9_./-]+$/;

/**
 * HOLD_SECONDS (profiling aid): the rig as the legs see it, held up that long instead of timing;
 * an `env.sh` to source for Ansible (rolling-restart.yml's variables in `vars-hold.json`) and a
 * script per host that runs its arguments inside it. Ctrl-C ends it early; the cleanup is the same.
 */
async function holdRig(ctx: Ctx, seconds: number): Promise<void> {
  const env = ctx.ansibleEnv({ BENCH_FLEET_EVENTS: join(ctx.events, 'hold.jsonl') });
  const keep = Object.entries(env).filter(([k]) => /^(ANSIBLE_|BENCH_|HOME$|PATH$|LANG$)/.test(k));
  const envFile = join(ctx.dir, 'env.sh');
  writeFileSync(envFile, keep.map(([k, v]) => `export ${k}='${String(v)}'\n`).join(''));
  const { argv } = rolling(ctx, 'hold');
  log(
    `holding the rig for ${seconds} s: . ${envFile}; cd ${ctx.rig.dir}; ${argv.slice(2).join(' ')}`,
  );
  log(`the prepare (library replaced again): ${ctx.prepareLight}`);
  for (const h of ctx.hosts) log(`in ${h.name}: ${ctx.inHost(h)} COMMAND…`);
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
}

await runBench({ name: 'bench/fleet', workPrefix: 'fleet-', timestamps: true }, main, async () => {
  removeControllerCgroup();
  await teardown();
});
