// The exit status of `scan --fixed` agrees with the advisory verdict it prints (src/exit.ts):
// never 0 unless the host is clean for every advisory.
import assert from 'node:assert/strict';

export function assertScanExitMatchesVerdict(r: {
  code: number | null;
  stderr: string;
  stdout: string;
}): void {
  assert.ok(r.code === 0 || r.code === 1 || r.code === 3, r.stderr);
  const verdict = (JSON.parse(r.stdout) as { advisoryVerdict?: string }).advisoryVerdict;
  if (verdict === 'unknown') assert.notEqual(r.code, 0, 'an unknown verdict is never exit 0');
  else if (verdict !== 'clean') assert.equal(r.code, 1, `verdict ${verdict}`);
}
