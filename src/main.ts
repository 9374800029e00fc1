// The program's entry (dist/afterpatch.cjs, the single executable, `node --import tsx src/main.ts`):
// it runs whatever the file is called or however it is reached (a copy, a symlink, `node FILE`,
// the .deb's /usr/bin link). Only require() of the bundle (scripts/cli-model.mjs reads
// buildProgram from it) runs nothing; the library (src/index.ts) and src/cli.ts never run.
import { runAnsibleModule, wantsModuleInterpreter } from './cli/ansible-interpreter.ts';
import { isSea } from './cli/sea.ts';
import { main } from './cli.ts';
import { prepareForScan } from './scan/early.ts';

export { buildProgram, type CliIo, type CliOutput, runCli } from './cli.ts';

/** Loaded by another module's require() (CommonJS bundle only; in ES modules `module` is absent). */
function required(): boolean {
  return typeof module !== 'undefined' && typeof require !== 'undefined' && require.main !== module;
}

const sea = isSea();
if (sea && wantsModuleInterpreter(process.argv)) runAnsibleModule(process.argv, require);
else if (sea || !required()) {
  // `serve` re-runs this program to gather health out of its own process (src/serve/child.ts).
  if (process.env.AFTERPATCH_SERVE_GATHER === '1')
    void import('./serve/child.ts').then((m) => m.runGatherChild());
  else {
    prepareForScan(process.argv);
    void main(process.argv);
  }
}
