// A `systemctl` program for CLI tests where no systemd runs: `show` describes every unit asked
// as loaded and active (no reload), `is-active` says active, anything else succeeds silently.
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const ANSWERING = `#!/bin/sh
case " $* " in
*" show "*)
  for a; do shift; [ "$a" = -- ] && break; done
  for u; do printf 'Id=%s\\nLoadState=loaded\\nActiveState=active\\nSubState=running\\nCanReload=no\\n\\n' "$u"; done ;;
*" is-active "*) echo active ;;
esac
exit 0
`;

/** The message systemctl prints when no systemd answers on the bus. */
export const NO_BUS = 'Failed to connect to bus: No such file or directory';
const FAILING = `#!/bin/sh\necho '${NO_BUS}' >&2\nexit 1\n`;

/** Writes `dir`/systemctl; with `failing`, every call fails as without a running systemd. */
export function writeFakeSystemctl(dir: string, failing = false): string {
  const f = join(dir, 'systemctl');
  writeFileSync(f, failing ? FAILING : ANSWERING);
  chmodSync(f, 0o755);
  return f;
}
