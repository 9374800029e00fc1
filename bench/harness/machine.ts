// bench/harness/machine.ts - what the benches share with the tests: the built CLI, the systemd
// sandbox, the fleet rig and the test packages. They live in test/helpers/, where the tests
// import them; this file is the only place a bench reaches into test/helpers/.
export { CLI } from '../../test/helpers/cli.ts';
export {
  buildTestDeb,
  C_SOURCES,
  compileLibrary,
  dpkgInstall,
  dpkgPurge,
  isInstalled,
  testPackagePaths,
} from '../../test/helpers/fixtures.ts';
export {
  bootRig,
  canBootRig,
  inotifyInstances,
  MAX_RIG_HOSTS,
  type Rig,
  type RigHost,
  rigFootprint,
} from '../../test/helpers/rig.ts';
export { bootSandbox, canBootSandbox, type Sandbox } from '../../test/helpers/sandbox.ts';
export {
  FIXTURES_C,
  installByRename,
  LIB_NAME,
  mappingsOf,
  svcLibGccArgs,
} from '../../test/helpers/stale-lib.ts';
