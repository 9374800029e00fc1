'use strict';
// bench/fleet's hyperfine --prepare: `node prepare-lib.cjs LIB NEW [CGROUP_PROCS MIN]` waits
// (when asked) until at least MIN processes of that cgroup map LIB, replaced or not (a restarted
// heavy unit is up again), then renames a copy of NEW over LIB, as dpkg does: every process
// mapping LIB maps it "(deleted)".
const fs = require('node:fs');
const [lib, next, procs, min] = process.argv.slice(2);
function upCount() {
  let n = 0;
  for (const pid of fs.readFileSync(procs, 'utf8').split('\n')) {
    if (pid === '') continue;
    try {
      const maps = fs.readFileSync(`/proc/${pid}/maps`, 'utf8');
      if (maps.includes(` ${lib}\n`) || maps.includes(` ${lib} (deleted)\n`)) n++;
    } catch {}
  }
  return n;
}
if (procs !== undefined) {
  const deadline = Date.now() + 180000;
  while (upCount() < Number(min)) {
    if (Date.now() > deadline) {
      console.error('prepare: the heavy unit did not come back in 180 s');
      process.exit(1);
    }
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
  }
}
fs.copyFileSync(next, `${lib}.bench-fleet-new`);
fs.renameSync(`${lib}.bench-fleet-new`, lib);
