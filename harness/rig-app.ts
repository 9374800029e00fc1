// The rig tests' application: a unit on every rig host whose process maps a test package's
// library (the holder built by harness/fixtures.ts), so that upgrading the package leaves it
// running outdated code. PID 1 of each host (systemd, its parent) is its lifeline.
import assert from 'node:assert/strict';
import { testPackagePaths } from './fixtures.ts';
import type { Rig } from './rig.ts';

/** Installs and starts UNIT on every host of the rig, running the holder of package PKG. */
export async function startAppOnEveryHost(
  rig: Pick<Rig, 'hosts'>,
  unit: string,
  pkg: string,
  description: string,
): Promise<void> {
  const { holder } = testPackagePaths(pkg);
  for (const h of rig.hosts) {
    await h.sandbox.installUnit(
      unit,
      `[Unit]\nDescription=${description}\n\n[Service]\nType=exec\nExecStart=${holder} 3600 1\n`,
    );
    const r = await h.sandbox.systemctl('start', unit);
    assert.equal(r.code, 0, `${h.name}: ${unit} did not start: ${r.stderr}`);
  }
}
