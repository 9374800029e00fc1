// Builds afterpatch_<version>_all.deb from the bundle (run `npm run build` first; `npm run
// package:deb` does both) with dpkg-deb, owned by root, without debhelper or a debian/ tree:
//
//   node scripts/package-deb.mjs [--out-dir dist] [--deb-version V] [--bundle dist/afterpatch.cjs]
//
// Layout (docs/running-unattended.md for the integrations):
//   /usr/bin/afterpatch -> ../lib/afterpatch/afterpatch.cjs   (bundle, "#!/usr/bin/node")
//   /usr/lib/afterpatch/apt-hook, /etc/apt/apt.conf.d/50afterpatch (conffile)
//   /usr/lib/systemd/system/afterpatch-{metrics.service,metrics.timer,restart.service}
//   /etc/afterpatch/afterpatch.toml (conffile: examples/afterpatch.toml)
//   /usr/share/man/man8/afterpatch.8.gz, bash and zsh completion, /usr/share/doc/afterpatch
//
// The Debian version is the npm version with "~" for a pre-release ("1.0.0-rc.1" sorts before
// "1.0.0" only as "1.0.0~rc.1") and Debian revision 1. Timestamps are SOURCE_DATE_EPOCH, else the
// last commit's, so two builds of one commit give the same package.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { loadProgram, programModel } from './cli-model.mjs';
import { loadNoiseRules, renderBash, renderZsh } from './completion.mjs';
import { renderManPage } from './manpage.mjs';

const ROOT = resolve(dirname(new URL(import.meta.url).pathname), '..');
const src = (p) => join(ROOT, p);

const MAINTAINER =
  process.env.AFTERPATCH_DEB_MAINTAINER ??
  'afterpatch maintainers <maintainers@afterpatch.invalid>';

export function debianVersion(npmVersion) {
  return `${npmVersion.replace('-', '~')}-1`;
}

function sourceEpoch() {
  const env = process.env.SOURCE_DATE_EPOCH;
  if (env && /^\d+$/.test(env)) return Number(env);
  try {
    const out = execFileSync('git', ['log', '-1', '--format=%ct'], {
      cwd: ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    if (/^\d+$/.test(out)) return Number(out);
  } catch {
    // not a git checkout
  }
  return Math.floor(Date.now() / 1000);
}

/** gzip -9n: maximum compression, no name or timestamp in the header (reproducible). */
const gz = (data) => {
  const out = gzipSync(data, { level: 9 });
  out.writeUInt32LE(0, 4); // MTIME
  out[9] = 3; // OS: Unix, as gzip(1) writes it
  return out;
};

const fill = (text, vars) => text.replace(/@([A-Z_]+)@/g, (m, k) => vars[k] ?? m);

export function buildDeb({
  outDir = src('dist'),
  version,
  bundle = src('dist/afterpatch.cjs'),
} = {}) {
  const pkg = JSON.parse(readFileSync(src('package.json'), 'utf8'));
  const debVersion = version ?? debianVersion(pkg.version);
  const epoch = sourceEpoch();
  const stage = mkdtempSync(join(outDir === src('dist') ? src('dist') : outDir, '.deb-stage-'));
  try {
    const put = (path, data, mode = 0o644) => {
      const file = join(stage, path);
      mkdirSync(dirname(file), { recursive: true, mode: 0o755 });
      writeFileSync(file, data);
      chmodSync(file, mode);
    };
    const copy = (from, path, mode = 0o644) => put(path, readFileSync(src(from)), mode);

    // The bundle: Debian policy 10.4 wants the interpreter by its path, not /usr/bin/env.
    const cli = readFileSync(bundle, 'utf8');
    if (!cli.startsWith('#!/usr/bin/env node\n')) throw new Error(`${bundle}: unexpected shebang`);
    put(
      'usr/lib/afterpatch/afterpatch.cjs',
      cli.replace('#!/usr/bin/env node\n', '#!/usr/bin/node\n'),
      0o755,
    );
    mkdirSync(join(stage, 'usr/bin'), { recursive: true });
    symlinkSync('../lib/afterpatch/afterpatch.cjs', join(stage, 'usr/bin/afterpatch'));

    copy('integrations/apt/afterpatch-apt-hook', 'usr/lib/afterpatch/apt-hook', 0o755);
    copy('integrations/apt/50afterpatch', 'etc/apt/apt.conf.d/50afterpatch');
    for (const unit of [
      'afterpatch-metrics.service',
      'afterpatch-metrics.timer',
      'afterpatch-restart.service',
    ]) {
      copy(`integrations/systemd/${unit}`, `usr/lib/systemd/system/${unit}`);
    }
    copy('examples/afterpatch.toml', 'etc/afterpatch/afterpatch.toml');

    // Man page and completion, generated from the program in this very bundle.
    const model = programModel(loadProgram(bundle));
    const date = new Date(epoch * 1000).toISOString().slice(0, 10);
    put('usr/share/man/man8/afterpatch.8.gz', gz(renderManPage(model, undefined, date)));
    const rules = loadNoiseRules(bundle);
    put('usr/share/bash-completion/completions/afterpatch', renderBash(model, rules));
    put('usr/share/zsh/vendor-completions/_afterpatch', renderZsh(model, rules));

    // Documentation.
    const doc = 'usr/share/doc/afterpatch';
    copy('packaging/debian/copyright', `${doc}/copyright`);
    const vars = {
      VERSION: debVersion,
      UPSTREAM_VERSION: pkg.version,
      MAINTAINER,
      DATE: new Date(epoch * 1000).toUTCString().replace('GMT', '+0000'),
    };
    put(
      `${doc}/changelog.Debian.gz`,
      gz(fill(readFileSync(src('packaging/debian/changelog.in'), 'utf8'), vars)),
    );
    put(`${doc}/changelog.gz`, gz(readFileSync(src('CHANGELOG.md'))));
    put(`${doc}/README.md.gz`, gz(readFileSync(src('README.md'))));
    for (const f of readdirSync(src('docs')).sort()) {
      if (f.endsWith('.md')) put(`${doc}/docs/${f}.gz`, gz(readFileSync(src(`docs/${f}`))));
    }
    copy('integrations/prometheus/afterpatch.rules.yml', `${doc}/examples/afterpatch.rules.yml`);
    put(
      `${doc}/examples/grafana-dashboard.json.gz`,
      gz(readFileSync(src('integrations/prometheus/grafana-dashboard.json'))),
    );
    copy('packaging/lintian/afterpatch', 'usr/share/lintian/overrides/afterpatch');

    // The Ansible module, role and playbooks, for a controller with the package installed
    // (docs/fleet.md); dot files (ansible-lint's configuration) stay in the repository, the
    // README too (documentation belongs in /usr/share/doc: docs/fleet.md is there).
    const ansible = 'integrations/ansible';
    for (const rel of walk(src(ansible)).filter(
      // __pycache__: what Ansible wrote next to the action plugin when it ran from the checkout.
      (p) =>
        !p.split('/').some((c) => c.startsWith('.') || c === '__pycache__') && !p.endsWith('.md'),
    )) {
      if (lstatSync(src(`${ansible}/${rel}`)).isDirectory()) continue;
      copy(
        `${ansible}/${rel}`,
        `usr/share/afterpatch/ansible/${rel}`,
        rel === 'library/afterpatch_node' ? 0o755 : 0o644,
      );
    }

    // Control area.
    const conffiles = readFileSync(src('packaging/debian/conffiles'), 'utf8');
    const conf = new Set(conffiles.split('\n').filter(Boolean));
    const files = walk(stage).filter((p) => !p.startsWith('DEBIAN'));
    let sizeKiB = 0;
    const sums = [];
    for (const p of files) {
      const st = lstatSync(join(stage, p));
      sizeKiB += st.isFile() ? Math.ceil(st.size / 1024) : 1;
      if (st.isFile() && !conf.has(`/${p}`)) {
        const md5 = createHash('md5')
          .update(readFileSync(join(stage, p)))
          .digest('hex');
        sums.push(`${md5}  ${p}\n`);
      }
    }
    for (const c of conf) {
      if (!files.includes(c.slice(1))) throw new Error(`conffile ${c} is not in the package`);
    }
    const control = fill(readFileSync(src('packaging/debian/control.in'), 'utf8'), {
      ...vars,
      INSTALLED_SIZE: String(sizeKiB),
    });
    put('DEBIAN/control', control);
    put('DEBIAN/conffiles', conffiles);
    put('DEBIAN/md5sums', sums.join(''));
    copy('packaging/debian/postinst', 'DEBIAN/postinst', 0o755);
    copy('packaging/debian/postrm', 'DEBIAN/postrm', 0o755);
    copy('packaging/debian/prerm', 'DEBIAN/prerm', 0o755);

    // Directories 0755 (whatever the umask), every timestamp the source's.
    for (const p of ['', ...walk(stage)]) {
      const file = join(stage, p);
      const st = lstatSync(file);
      if (st.isDirectory()) chmodSync(file, 0o755);
    }
    execFileSync('find', [stage, '-exec', 'touch', '-h', '-d', `@${epoch}`, '{}', '+']);

    mkdirSync(outDir, { recursive: true });
    const deb = join(outDir, `afterpatch_${debVersion}_all.deb`);
    execFileSync('dpkg-deb', ['--root-owner-group', '-Zxz', '--build', stage, deb], {
      env: { ...process.env, SOURCE_DATE_EPOCH: String(epoch) },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    return deb;
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

/** Every path below dir, relative, sorted (directories before their contents). */
function walk(dir) {
  return readdirSync(dir, { recursive: true })
    .map((p) => relative(dir, join(dir, String(p))))
    .sort();
}

const isMain = process.argv[1] && new URL(import.meta.url).pathname === process.argv[1];
if (isMain) {
  const { values } = parseArgs({
    options: {
      'out-dir': { type: 'string', default: 'dist' },
      'deb-version': { type: 'string' },
      bundle: { type: 'string', default: 'dist/afterpatch.cjs' },
    },
  });
  const deb = buildDeb({
    outDir: resolve(values['out-dir']),
    bundle: resolve(values.bundle),
    ...(values['deb-version'] ? { version: values['deb-version'] } : {}),
  });
  console.log(`wrote ${relative(process.cwd(), deb) || deb}`);
}
