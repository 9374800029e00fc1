// What an ansible-playbook run says at its end: the PLAY RECAP counters per host, for the rig
// tests (test/fleet/rig*.integration.test.ts).
import assert from 'node:assert/strict';

/** PLAY RECAP counters per host (ok, changed, failed, skipped, …). */
export function playRecap(stdout: string): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  const at = stdout.lastIndexOf('PLAY RECAP');
  assert.ok(at >= 0, `no PLAY RECAP in:\n${stdout.slice(-3000)}`);
  for (const line of stdout.slice(at).split('\n').slice(1)) {
    const m = /^(\S+)\s+:\s+(.*)$/.exec(line.trim());
    if (!m?.[1] || !m[2]) continue;
    out[m[1]] = Object.fromEntries(
      [...m[2].matchAll(/(\w+)=(\d+)/g)].map((x) => [x[1] ?? '', Number(x[2])]),
    );
  }
  return out;
}

/** The end of a run's output, for assertion messages. */
export function showRun(r: { stdout: string; stderr: string }): string {
  return `${r.stdout.slice(-6000)}\n--- stderr ---\n${r.stderr.slice(-2000)}`;
}
