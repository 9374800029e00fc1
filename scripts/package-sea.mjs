// Builds dist/afterpatch-linux-<arch>, a Node single executable application (SEA): the node
// binary running this script, stripped, with the bundle injected, so that the host needs no Node.
// Run `npm run build` first (`npm run package:sea` does both):
//
//   node scripts/package-sea.mjs [--bundle dist/afterpatch.cjs] [--node PATH] [--out FILE]
//                                [--no-strip] [--no-code-cache]
//
// Steps (https://nodejs.org/docs/latest-v20.x/api/single-executable-applications.html):
// sea-config.json -> `node --experimental-sea-config` writes the preparation blob; copy node;
// `strip` it (binutils; ~12 MiB of symbols on Node 20); remove the signature (only macOS and
// Windows binaries have one: nothing to do on Linux); `postject` the blob as NODE_SEA_BLOB behind
// the SEA fuse; run the result once with `--version` to prove it works.
//
// The blob carries V8's code cache for the bundle (sea-config `useCodeCache`):
// ~4 ms (13%) less start-up, 57 KiB more blob (BENCHMARKS.md); --no-code-cache leaves it out.
// Code cache breaks `import()` in the main script: the bundle has none (esbuild inlines the
// lazy command modules). `useSnapshot` would need the bundle to set up a snapshot entry point
// (v8.startupSnapshot) and is not used. Two builds of one bundle with the same node are
// byte-identical without the code cache; V8's code cache differs in a few bytes each time.
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const ROOT = resolve(dirname(new URL(import.meta.url).pathname), '..');
export const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

/** A failure of the build machine (no strip, no postject, a node without SEA), not of the code. */
export class EnvironmentError extends Error {}

export function defaultOutput() {
  return join(ROOT, 'dist', `afterpatch-linux-${process.arch}`);
}

export function buildSea({
  bundle = join(ROOT, 'dist/afterpatch.cjs'),
  node = process.execPath,
  out = defaultOutput(),
  strip = true,
  codeCache = true,
  log = (s) => console.error(s),
} = {}) {
  if (process.platform !== 'linux') throw new EnvironmentError('afterpatch is built for Linux');
  if (!existsSync(bundle)) throw new Error(`${bundle} is missing: run npm run build first`);
  const version = execFileSync(node, ['--version'], { encoding: 'utf8' }).trim();
  const [major = 0, minor = 0] = version.slice(1).split('.').map(Number);
  // The CLI knows it is the program from node:sea's isSea() (Node 20.12), not from its name.
  if (major < 20 || (major === 20 && minor < 12)) {
    throw new EnvironmentError(`${node} is Node ${version}; the binary needs Node >= 20.12`);
  }
  if (!readFileSync(node).includes(SEA_FUSE)) {
    throw new EnvironmentError(`${node} (${version}) has no SEA fuse: not an official build?`);
  }
  const postject = postjectCli();

  const work = mkdtempSync(join(tmpdir(), 'afterpatch-sea-'));
  try {
    // 1. The preparation blob. `main` is read as CommonJS (its "#!" line is fine) and its path
    // as given is what stack traces show: a relative name, not this checkout's path.
    copyFileSync(bundle, join(work, 'afterpatch.cjs'));
    const blob = join(work, 'afterpatch.blob');
    const config = {
      main: 'afterpatch.cjs',
      output: 'afterpatch.blob',
      disableExperimentalSEAWarning: true,
      ...(codeCache ? { useCodeCache: true } : {}),
    };
    writeFileSync(join(work, 'sea-config.json'), `${JSON.stringify(config, null, 2)}\n`);
    quiet(node, ['--experimental-sea-config', 'sea-config.json'], 'the SEA blob', work);

    // 2. A copy of node, stripped before the injection. Its name is one the CLI's argv check
    // does not know: step 5 proves that it starts because it is a SEA.
    const exe = join(work, 'a.out');
    copyFileSync(node, exe);
    chmodSync(exe, 0o755);
    const unstripped = statSync(exe).size;
    if (strip) {
      try {
        quiet('strip', ['--strip-all', exe], 'strip');
      } catch (e) {
        if (e.code !== 'ENOENT') throw e;
        throw new EnvironmentError('strip not found: install binutils, or pass --no-strip');
      }
    }
    const stripped = statSync(exe).size;

    // 3. No signature to remove on Linux (ELF binaries are not signed).

    // 4. Inject the blob behind the fuse.
    quiet(
      process.execPath,
      [postject, exe, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', SEA_FUSE],
      'postject',
    );

    // 5. It must start: a stripped node that lost what SEA needs fails here, not on a server.
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    const said = execFileSync(exe, ['--version'], {
      encoding: 'utf8',
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
    }).trim();
    if (said !== pkg.version) {
      throw new Error(`the built binary says ${JSON.stringify(said)}, expected ${pkg.version}`);
    }

    renameOrCopy(exe, out);
    const size = statSync(out).size;
    const blobSize = statSync(blob).size;
    log(
      `node ${version}: ${mib(unstripped)} MiB, ${strip ? `stripped ${mib(stripped)} MiB` : 'not stripped'}; ` +
        `blob ${Math.round(blobSize / 1024)} KiB${codeCache ? ' (with code cache)' : ''}`,
    );
    return { out, size, unstripped, stripped, blob: blobSize, node: version };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

const mib = (n) => (n / 2 ** 20).toFixed(1);

/** postject's CLI, run in a child: its ELF parser warns about node's 256 .note sections. */
function postjectCli() {
  try {
    const require = createRequire(join(ROOT, 'package.json'));
    return join(dirname(require.resolve('postject/package.json')), 'dist/cli.js');
  } catch {
    throw new EnvironmentError('postject is not installed: npm ci (it is a devDependency)');
  }
}

/** Runs a command quietly; its output is shown only when it fails. */
function quiet(file, args, what, cwd = undefined) {
  try {
    execFileSync(file, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd });
  } catch (e) {
    if (e.code === 'ENOENT') throw e;
    const out = `${e.stdout ?? ''}${e.stderr ?? ''}`.trim();
    throw new Error(`${what} failed: ${out || e.message}`);
  }
}

function renameOrCopy(from, to) {
  rmSync(to, { force: true });
  try {
    renameSync(from, to);
  } catch {
    copyFileSync(from, to); // another file system (tmpfs /tmp)
  }
  chmodSync(to, 0o755);
}

const isMain = process.argv[1] && new URL(import.meta.url).pathname === process.argv[1];
if (isMain) {
  const { values } = parseArgs({
    options: {
      bundle: { type: 'string', default: 'dist/afterpatch.cjs' },
      node: { type: 'string', default: process.execPath },
      out: { type: 'string' },
      'no-strip': { type: 'boolean', default: false },
      'no-code-cache': { type: 'boolean', default: false },
    },
  });
  try {
    const { out, size } = buildSea({
      bundle: resolve(values.bundle),
      node: resolve(values.node),
      out: values.out ? resolve(values.out) : defaultOutput(),
      strip: !values['no-strip'],
      codeCache: !values['no-code-cache'],
    });
    console.log(`wrote ${relative(process.cwd(), out) || out} (${mib(size)} MiB)`);
  } catch (e) {
    console.error(`package-sea: ${e.message}`);
    process.exitCode = e instanceof EnvironmentError ? 3 : 1;
  }
}
