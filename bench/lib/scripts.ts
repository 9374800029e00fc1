// bench/lib/scripts.ts - the scripts benches write for hyperfine (fixed text; the only values
// written into them are checked against SAFE_PATH or are numbers and fixed names).
import { chmodSync, readlinkSync, writeFileSync } from 'node:fs';
import { die, PATH_ENV, scriptName } from './bench.ts';

export function writeScript(path: string, text: string): void {
  writeFileSync(path, text, { mode: 0o755 });
  chmodSync(path, 0o755);
}

/**
 * Writes the script `path`: it runs "$@" inside a systemd sandbox (`what`: "sandbox NAME", "rig
 * host h1") with the same namespaces (and network namespace with `net`) and environment as the
 * harness's Sandbox.exec() - only while host PID `pid1` is still that sandbox's PID 1: the same
 * PID namespace as now, at bench time.
 */
export function writeInSandboxScript(path: string, what: string, pid1: number, net = false): void {
  const p = pid1;
  if (!Number.isSafeInteger(p) || p <= 1) die(`bad sandbox PID 1: ${p}`);
  const pidNs = readlinkSync(`/proc/${p}/ns/pid`);
  if (!/^pid:\[[0-9]+\]$/.test(pidNs)) die(`bad PID namespace link ${JSON.stringify(pidNs)}`);
  const text = `#!/bin/sh
# ${scriptName()}: run "$@" inside ${what} (host PID ${p}) - only while PID ${p} is still
# that sandbox's PID 1 (same PID namespace as at bench time).
[ "$(readlink /proc/${p}/ns/pid 2>/dev/null)" = '${pidNs}' ] || {
  echo "${scriptName()}: ${what} (PID ${p}) is gone" >&2
  exit 99
}
exec env -i PATH=${PATH_ENV} LANG=C.UTF-8 SYSTEMD_PAGER= SYSTEMD_COLORS=0 \\
  nsenter --target ${p} --mount --uts --ipc --pid --cgroup${net ? ' --net' : ''} -- "$@"
`;
  writeScript(path, text);
}
