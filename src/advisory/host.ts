// What the advisory assessment reads from the host, once per run and only for the advisories'
// packages: the distribution family, installed versions with source-package expansion, the
// package history, the running kernel's package version. Host I/O only; the logic is in
// assess.ts. Nothing here throws for file-system reasons: what cannot be read is null and
// becomes `unknown` downstream, never clean.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { findOnPath, findRpmDbDir } from '../packages/db.ts';
import { MAX_STATUS_BYTES, parseStatus, stanzasOf } from '../packages/dpkg.ts';
import { readFileBounded } from '../procfs/reader.ts';
import { errorCode } from '../reboot/read.ts';
import { type Advisory, familiesFromOsRelease } from './advisory.ts';
import { baseName, type HistoryEvent } from './history.ts';
import { dpkgHistory, rpmHistory } from './history-files.ts';
import { dpkgBinariesOf, rpmBinariesOf } from './source.ts';

export interface AdvisoryHost {
  manager: 'dpkg' | 'rpm' | null;
  /** os-release ID then ID_LIKE. */
  families: string[];
  /** For each advisory package name, the installed binary packages it covers; null when the
   *  package database could not be read. */
  binaries: Map<string, string[]> | null;
  /** Installed version per binary package (absent: not installed). */
  installed: Map<string, string>;
  /** History of the covered binary packages, in time order. */
  history: HistoryEvent[];
  /** The running kernel's package version; null when it cannot be told. */
  runningKernel: string | null;
  /** What could not be read, for the report's reasons. */
  problems: string[];
}

const RPM_QA_FORMAT = '%{NAME}\t%{SOURCERPM}\t%{EPOCHNUM}:%{VERSION}-%{RELEASE}\n';

/** Reads the host facts the advisories need; `root` "" or "/" is the host. */
export async function readAdvisoryHost(
  advisories: readonly Advisory[],
  manager: 'dpkg' | 'rpm' | null,
  root: string,
  procRoot: string,
): Promise<AdvisoryHost> {
  const r = root === '/' ? '' : root.replace(/\/+$/, '');
  const problems: string[] = [];
  const names = [...new Set(advisories.flatMap((a) => a.packages.map((p) => baseName(p.name))))];
  const host: AdvisoryHost = {
    manager,
    families: readFamilies(r),
    binaries: null,
    installed: new Map(),
    history: [],
    runningKernel: runningKernelPackage(procRoot, manager),
    problems,
  };
  if (manager === 'dpkg') {
    try {
      const text = readFileBounded(`${r}/var/lib/dpkg/status`, MAX_STATUS_BYTES).toString('utf8');
      host.binaries = dpkgBinariesOf(relevantStanzas(text, names), names);
      // Debian's advisories name the kernel by its source `linux`; the installed images are
      // built from `linux-signed-ARCH`: `linux` covers every linux-image-* package too.
      const linux = host.binaries.get('linux');
      if (linux) {
        const images = [...text.matchAll(/^Package: (linux-image-\S+)$/gm)].map(
          (m) => m[1] as string,
        );
        host.binaries.set('linux', [...new Set([...linux, ...images])].sort());
      }
      // Only the covered packages' stanzas are parsed (found by substring search), not all.
      const status = parseStatus(stanzasOf(text, [...host.binaries.values()].flat()));
      for (const bins of host.binaries.values())
        for (const b of bins) {
          const ref = status.resolve(b);
          if (ref) host.installed.set(b, ref.version);
        }
      // Not installed (removed, config-files only): covers nothing.
      for (const [k, bins] of host.binaries)
        host.binaries.set(
          k,
          bins.filter((b) => host.installed.has(b)),
        );
    } catch (e) {
      problems.push(`cannot read the dpkg status file (${errorCode(e)})`);
    }
  } else if (manager === 'rpm') {
    const out = await rpmQueryAll(r);
    if (out === null) problems.push('cannot query the rpm database');
    else {
      host.binaries = rpmBinariesOf(out, names);
      for (const line of out.split('\n')) {
        const [name, , evr] = line.split('\t');
        if (name && evr) host.installed.set(name, evr.replace(/^0:/, ''));
      }
    }
  } else problems.push('no package manager found: installed versions unknown');
  if (host.binaries !== null) {
    const wanted = new Set([...host.binaries.values()].flat());
    if (wanted.size > 0)
      host.history = manager === 'rpm' ? rpmHistory(r, wanted) : dpkgHistory(r, wanted);
  }
  return host;
}

/**
 * The stanzas that may concern these names — as the package (`Package: N`) or as its source
 * (`Source: N`, `Source: N (version)`) — found by substring search: a status file of thousands
 * of packages costs in proportion to the advisory's, not to its size.
 */
export function relevantStanzas(text: string, names: readonly string[]): string {
  const starts = new Set<number>();
  for (const n of new Set(names))
    for (const needle of [`Package: ${n}\n`, `Source: ${n}\n`, `Source: ${n} (`])
      for (let at = text.indexOf(needle); at !== -1; at = text.indexOf(needle, at + 1)) {
        if (at > 0 && text[at - 1] !== '\n') continue;
        const start = text.lastIndexOf('\n\n', at);
        starts.add(start === -1 ? 0 : start + 2);
      }
  return [...starts]
    .sort((a, b) => a - b)
    .map((start) => {
      const end = text.indexOf('\n\n', start);
      return text.slice(start, end === -1 ? text.length : end);
    })
    .join('\n\n');
}

function readFamilies(root: string): string[] {
  for (const f of ['/etc/os-release', '/usr/lib/os-release']) {
    try {
      return familiesFromOsRelease(readFileBounded(`${root}${f}`, 64 * 1024).toString('utf8'));
    } catch {}
  }
  return [];
}

/**
 * `rpm -qa` with name, source rpm and version (argv, never a shell); null when it fails. Under
 * another root, with that root's database directory: rpm's own default would be the local
 * rpm's macro (Debian's is ~/.rpmdb), an empty database that made every package "not
 * installed" — clean — and that rpm even created inside the root.
 */
async function rpmQueryAll(root: string): Promise<string | null> {
  const rpm = await findOnPath('rpm');
  if (rpm === null) return null;
  const args: string[] = [];
  if (root !== '') {
    const dbPath = await findRpmDbDir(root);
    if (dbPath === null) return null;
    args.push('--root', root, '--dbpath', dbPath);
  }
  args.push('-qa', '--queryformat', RPM_QA_FORMAT);
  return new Promise((resolve) => {
    execFile(
      rpm,
      args,
      { env: { ...process.env, LC_ALL: 'C' }, maxBuffer: 64 * 1024 * 1024, timeout: 60_000 },
      (error, stdout) => resolve(error ? null : stdout),
    );
  });
}

/**
 * The package version of the running kernel: Debian's `uname -v` carries it (`… Debian
 * 6.1.76-1 (2024-02-01)`), Ubuntu's /proc/version_signature (`Ubuntu 5.15.0-101.111-generic …`),
 * on rpm systems `uname -r` is VERSION-RELEASE.ARCH. Null when none applies.
 */
export function runningKernelPackage(
  procRoot: string,
  manager: 'dpkg' | 'rpm' | null,
): string | null {
  const read = (rel: string) => {
    try {
      return readFileSync(`${procRoot}/${rel}`, 'utf8').trim();
    } catch {
      return null;
    }
  };
  return kernelPackageVersion(
    read('sys/kernel/osrelease'),
    read('sys/kernel/version'),
    read('version_signature'),
    manager,
  );
}

/** The pure part of runningKernelPackage. */
export function kernelPackageVersion(
  release: string | null,
  version: string | null,
  signature: string | null,
  manager: 'dpkg' | 'rpm' | null,
): string | null {
  if (manager === 'rpm') {
    const m =
      release === null
        ? null
        : /^(.+)\.(x86_64|aarch64|ppc64le|s390x|i686|noarch)(?:\+\S+)?$/.exec(release);
    return m ? (m[1] as string) : null;
  }
  const deb = version === null ? null : /\bDebian (\d[A-Za-z0-9.+~:-]*)/.exec(version);
  if (deb) return deb[1] as string;
  const ubuntu = signature === null ? null : /^Ubuntu (\d+\.\d+\.\d+-\d+\.\d+)/.exec(signature);
  return ubuntu ? (ubuntu[1] as string) : null;
}
