// Tests of the real-package / real-process fixtures themselves (test/helpers/fixtures.ts).
// Needs root (dpkg -i), gcc and dpkg-deb; skipped with a message otherwise.
// Run: node --import tsx --test test/helpers/fixtures.integration.test.ts
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import {
  buildNoiseHolders,
  buildTestDeb,
  dpkgInstall,
  dpkgPurge,
  isAlive,
  isInstalled,
  liveHolderPids,
  mappedPaths,
  pidsMapping,
  run,
  spawnHolders,
  stopProcesses,
  testPackagePaths,
} from '../../harness/fixtures.ts';
import { hasTool } from '../../harness/tools.ts';
import { noiseMatcher } from '../../src/scan/noise.ts';

const missing = ['gcc', 'dpkg-deb', 'dpkg'].filter((c) => !hasTool(c));
const skip =
  process.getuid?.() !== 0
    ? 'needs root: installs a test package with dpkg (run as root, e.g. in .ci/run)'
    : missing.length > 0
      ? `needs ${missing.join(', ')} (apt-get install gcc libc6-dev dpkg-dev)`
      : false;

const NAME = `afterpatch-fixture-selftest`;
const paths = testPackagePaths(NAME);

describe('test fixtures (real .deb packages, real processes)', { skip }, () => {
  const started: number[] = [];
  after(async () => {
    await stopProcesses(started);
    await dpkgPurge(NAME);
  });

  test('buildTestDeb builds a valid package and caches it', async () => {
    const v1 = await buildTestDeb({ name: NAME, version: '1.0-1', libValue: 1 });
    const v2 = await buildTestDeb({ name: NAME, version: '2.0-1', libValue: 2 });
    assert.notEqual(v1, v2);
    assert.equal(await buildTestDeb({ name: NAME, version: '1.0-1', libValue: 1 }), v1);
    assert.throws(() => buildTestDeb({ name: NAME, version: '1.0-1', libValue: 9 }), /libValue/);
    assert.throws(() => buildTestDeb({ name: 'Bad Name', version: '1', libValue: 1 }), /name/);

    const fields = await run('dpkg-deb', ['--field', v1, 'Package', 'Version', 'Architecture']);
    const arch = (await run('dpkg', ['--print-architecture'])).stdout.trim();
    assert.equal(fields.stdout, `Package: ${NAME}\nVersion: 1.0-1\nArchitecture: ${arch}\n`);
    const contents = (await run('dpkg-deb', ['--contents', v1])).stdout;
    assert.match(
      contents,
      /root\/root .* \.\/usr\/lib\/afterpatch-fixture-selftest\/libafterpatchtest\.so\.1\n/,
    );
    assert.match(
      contents,
      /\.\/usr\/libexec\/afterpatch-fixture-selftest\/afterpatch-test-holder\n/,
    );
  });

  test('an upgrade leaves exactly the holders mapping the deleted library', async () => {
    const v1 = await buildTestDeb({ name: NAME, version: '1.0-1', libValue: 1 });
    const v2 = await buildTestDeb({ name: NAME, version: '2.0-1', libValue: 2 });
    await dpkgPurge(NAME); // a leftover from an interrupted run
    await dpkgInstall(v1);
    assert.ok(existsSync(paths.lib) && existsSync(paths.holder));

    const pids = await spawnHolders(paths.holder, 3);
    started.push(...pids);
    assert.equal(pids.length, 3);
    for (const pid of pids) {
      const mapped = mappedPaths(pid);
      assert.ok(mapped.includes(paths.lib), `pid ${pid} maps ${paths.lib}`);
      assert.ok(!mapped.some((p) => p.endsWith(' (deleted)')), `pid ${pid}: nothing deleted yet`);
    }

    await dpkgInstall(v2);
    const deleted = `${paths.lib} (deleted)`;
    assert.deepEqual(
      pidsMapping(deleted),
      [...pids].sort((a, b) => a - b),
    );
    for (const pid of pids) {
      assert.ok(mappedPaths(pid).includes(`${paths.holder} (deleted)`), 'executable replaced too');
    }
    // A new holder started after the upgrade maps the new file.
    const [fresh] = await spawnHolders(paths.holder, 1);
    assert.ok(fresh !== undefined);
    started.push(fresh);
    assert.ok(mappedPaths(fresh).includes(paths.lib));
    assert.ok(!mappedPaths(fresh).includes(deleted));

    await dpkgPurge(NAME);
    await dpkgPurge(NAME); // safe twice
    assert.equal(await isInstalled(NAME), false);
    assert.ok(!existsSync(paths.lib));

    await stopProcesses([...pids, fresh]);
    for (const pid of [...pids, fresh]) assert.equal(isAlive(pid), false, `pid ${pid} stopped`);
    await stopProcesses(pids); // stopping twice is a no-op
    assert.deepEqual(liveHolderPids(), []);
  });

  test('noise holders map deleted memfd / /tmp code that the noise rules drop', async () => {
    const noise = await buildNoiseHolders();
    const [memfd] = await spawnHolders(noise.memfdHolder, 1);
    const [dl] = await spawnHolders(noise.dlopenHolder, 1, { args: [noise.library] });
    assert.ok(memfd !== undefined && dl !== undefined);
    started.push(memfd, dl);

    const isNoise = noiseMatcher();
    const strip = (p: string) => p.slice(0, -' (deleted)'.length);

    const memfdDeleted = mappedPaths(memfd).filter((p) => p.endsWith(' (deleted)'));
    assert.deepEqual(memfdDeleted, ['/memfd:afterpatch-test (deleted)']);
    assert.equal(isNoise(strip(memfdDeleted[0] ?? '')), 'memfd');

    const dlDeleted = [...new Set(mappedPaths(dl).filter((p) => p.endsWith(' (deleted)')))];
    assert.equal(dlDeleted.length, 1);
    assert.match(dlDeleted[0] ?? '', /^\/tmp\/afterpatch-dlopen-\w{6}\.so \(deleted\)$/);
    assert.equal(isNoise(strip(dlDeleted[0] ?? '')), 'tmp');
    assert.ok(!existsSync(strip(dlDeleted[0] ?? '')), 'the /tmp copy is already deleted');

    await stopProcesses([memfd, dl]);
    assert.equal(isAlive(memfd), false);
    assert.equal(isAlive(dl), false);
  });

  test('stopProcesses refuses PIDs it did not start', async () => {
    await assert.rejects(stopProcesses([process.pid]), /not started by spawnHolders/);
    await assert.rejects(stopProcesses([1]), /not started by spawnHolders/);
  });

  test('holders exit by themselves after their maximum lifetime', async () => {
    const noise = await buildNoiseHolders();
    const [pid] = await spawnHolders(noise.memfdHolder, 1, { maxLifetimeS: 1 });
    assert.ok(pid !== undefined);
    started.push(pid);
    const deadline = Date.now() + 5_000;
    while (isAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.equal(isAlive(pid), false);
  });
});
