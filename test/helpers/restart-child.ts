// A child process for restart tests that need their own process: signals and lock races.
//   lock DIR     prints "ready"; on "go" tries the lock of DIR and prints "acquired" or
//                "busy <message>"; on "release" releases it (if held) and prints "released";
//                on "exit" exits. Rounds repeat, so a race is tried many times per process.
//   apply DIR    applies a plan of two units (one batch each) with a fake systemd whose first
//                action prints "acting" and takes 500 ms; prints the report's essentials as JSON.
import { createInterface } from 'node:readline';
import { defaultConfig } from '../../src/config/load.ts';
import { acquireLock } from '../../src/restart/lock.ts';
import { silentLog } from '../../src/restart/log.ts';
import { applyRestart } from '../../src/restart/restart.ts';
import { FakeSystemd } from './fake-systemd.ts';
import { planEntry, scanStub } from './restart-plan.ts';

const [mode, dir = ''] = process.argv.slice(2);

if (mode === 'lock') {
  let release: (() => void) | null = null;
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (l) => {
    if (l === 'go') {
      try {
        release = acquireLock(dir);
        process.stdout.write('acquired\n');
      } catch (e) {
        process.stdout.write(`busy ${(e as Error).message}\n`);
      }
    } else if (l === 'release') {
      release?.();
      release = null;
      process.stdout.write('released\n');
    } else if (l === 'exit') {
      process.exit(0);
    }
  });
  process.stdout.write('ready\n');
} else if (mode === 'apply') {
  const client = new FakeSystemd().unit('a.service').unit('b.service');
  client.onAct = async () => {
    if (client.acts.length === 1) {
      process.stdout.write('acting\n');
      await new Promise((r) => setTimeout(r, 500));
    }
  };
  const plan = [planEntry('a.service'), planEntry('b.service')];
  const report = await applyRestart(
    { scan: scanStub(), plan },
    {
      config: defaultConfig(),
      client,
      log: silentLog(),
      jobs: 1,
      stateDir: dir,
      cgroupMount: null,
    },
  );
  process.stdout.write(
    `${JSON.stringify({
      acts: client.acts.length,
      results: report.results.map((r) => [r.unit, r.outcome]),
      interrupted: report.interrupted,
      stateError: report.stateError,
    })}\n`,
  );
}
