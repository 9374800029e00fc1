// AFTERPATCH_TIMING=1: one stderr line per phase of `restart` (profiling aid for bench/restart;
// milliseconds since the process started, so Node's own start-up shows in the first line).
const on = process.env.AFTERPATCH_TIMING === '1';
let last = 0;

export function phase(name: string): void {
  if (!on) return;
  const now = performance.now();
  process.stderr.write(
    `afterpatch: timing: ${name} ${(now - last).toFixed(1)} ms (at ${now.toFixed(1)} ms)\n`,
  );
  last = now;
}

export function timingNote(text: string): void {
  if (on) process.stderr.write(`afterpatch: timing: ${text}\n`);
}
