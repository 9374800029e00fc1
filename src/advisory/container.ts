// Containers for an advisory: a container's packages come from its own image, read through
// /proc/PID/root without executing anything (dpkg's var/lib/dpkg/status, Alpine's
// lib/apk/db/installed; an rpm database needs rpm's library, so an rpm-based image is `unknown`,
// said so). Verdict per container: `image-vulnerable` (its image ships a version below the fix:
// rebuild and redeploy) or clean — never attributed to the host.
import { readdirSync, readlinkSync } from 'node:fs';
import { containerFromCgroup } from '../cgroup/container.ts';
import { parseCgroupFile } from '../cgroup/parse.ts';
import { parseStatus } from '../packages/dpkg.ts';
import { readFileBounded } from '../procfs/reader.ts';
import { compareDebVersions } from '../reboot/version.ts';
import type { ForeignProcess } from '../scan/collect.ts';
import { type Advisory, familiesFromOsRelease, fixedVersionFor } from './advisory.ts';
import type { ContainerVersion } from './assess.ts';
import { baseName } from './history.ts';
import { relevantStanzas } from './host.ts';
import { readInRoot } from './in-root.ts';
import { dpkgBinariesOf } from './source.ts';

const MAX_DB_BYTES = 64 * 1024 * 1024;
/** At most this many containers are examined per run (each costs a database read). */
export const MAX_CONTAINERS = 512;

export interface ContainerRef {
  runtime: string;
  id: string;
  /** A process of the container: its /proc/PID/root is the container's root. */
  pid: number;
}

/**
 * One process per container: processes in another PID namespace than PID 1, one per mount
 * namespace (readlinks only). Named by runtime and id from the cgroup when it says, else by the
 * mount namespace.
 */
export function findContainers(
  procRoot: string,
  /** The PIDs to look at (the scan's list, or --pid's); all of procRoot when undefined. */
  onlyPids: readonly number[] | undefined = undefined,
): ContainerRef[] {
  const link = (rel: string) => {
    try {
      return readlinkSync(`${procRoot}/${rel}`);
    } catch {
      return null;
    }
  };
  // PID 1's namespace is the host's; ours when PID 1's cannot be read (as the scan does).
  const hostPidNs = link('1/ns/pid') ?? link('self/ns/pid');
  if (hostPidNs === null) return [];
  // The PIDs the scan listed (no second readdir of /proc), or --pid's, which narrow it.
  let names: string[];
  try {
    names = onlyPids === undefined ? readdirSync(procRoot) : onlyPids.map(String);
  } catch {
    return [];
  }
  const foreign: ForeignProcess[] = [];
  for (const n of names) {
    if (!/^[1-9]\d*$/.test(n)) continue;
    const ns = link(`${n}/ns/pid`);
    if (ns === null || ns === hostPidNs) continue;
    const mnt = link(`${n}/ns/mnt`);
    if (mnt !== null) foreign.push({ pid: Number(n), mntNs: mnt });
  }
  return containersAmong(procRoot, foreign);
}

/**
 * One process per mount namespace among processes in another PID namespace than the host's
 * (in PID order; the scan's threads read their namespaces), named by runtime and id from the
 * cgroup when it says, else by the mount namespace. At most MAX_CONTAINERS.
 */
export function containersAmong(
  procRoot: string,
  foreign: readonly ForeignProcess[],
): ContainerRef[] {
  const byMnt = new Map<string, number>();
  for (const { pid, mntNs } of foreign) {
    if (byMnt.has(mntNs)) continue;
    byMnt.set(mntNs, pid);
    if (byMnt.size >= MAX_CONTAINERS) break;
  }
  return [...byMnt].map(([mnt, pid]) => {
    let c: { runtime: string; id: string } | null = null;
    try {
      const cg = parseCgroupFile(
        readFileBounded(`${procRoot}/${pid}/cgroup`, 64 * 1024).toString(),
      );
      c = cg === null ? null : containerFromCgroup(cg);
    } catch {}
    return { runtime: c?.runtime ?? 'unknown', id: c?.id ?? mnt, pid };
  });
}

/** What a container's package database says: binary → version, and source expansion. */
interface ContainerDb {
  kind: 'dpkg' | 'apk';
  families: string[];
  installed: Map<string, string>;
  binariesOf(names: readonly string[]): Map<string, string[]>;
}

/** A shared database file is decoded once (the cache of readInRoot returns the same Buffer). */
const texts = new WeakMap<Buffer, string>();
function decoded(b: Buffer): string {
  let t = texts.get(b);
  if (t === undefined) {
    t = b.toString('utf8');
    texts.set(b, t);
  }
  return t;
}

export function readContainerDb(
  rootDir: string,
  cache: Map<string, Buffer> = new Map(),
): ContainerDb | null {
  const osr =
    readInRoot(rootDir, '/etc/os-release', 64 * 1024, cache) ??
    readInRoot(rootDir, '/usr/lib/os-release', 64 * 1024, cache);
  const families = osr === null ? [] : familiesFromOsRelease(osr.toString('utf8'));
  const dpkg = readInRoot(rootDir, '/var/lib/dpkg/status', MAX_DB_BYTES, cache);
  if (dpkg !== null) {
    const text = decoded(dpkg);
    const installed = new Map<string, string>();
    return {
      kind: 'dpkg',
      families,
      installed,
      binariesOf(names) {
        // Only the stanzas that may concern the names are parsed (as on the host).
        const relevant = relevantStanzas(text, names);
        const status = parseStatus(relevant);
        const m = dpkgBinariesOf(relevant, names);
        for (const [k, bins] of m) {
          const present = bins.filter((b) => {
            const v = status.resolve(b)?.version;
            if (v !== undefined) installed.set(b, v);
            return v !== undefined;
          });
          m.set(k, present);
        }
        return m;
      },
    };
  }
  const apk = readInRoot(rootDir, '/lib/apk/db/installed', MAX_DB_BYTES, cache);
  if (apk !== null) {
    const { installed, origin } = parseApkInstalled(apk.toString('utf8'));
    return {
      kind: 'apk',
      families,
      installed,
      binariesOf(names) {
        const wanted = new Set(names);
        const m = new Map<string, string[]>(names.map((n) => [n, []]));
        for (const [pkg] of installed) {
          if (wanted.has(pkg)) m.get(pkg)?.push(pkg);
          const o = origin.get(pkg);
          if (o !== undefined && o !== pkg && wanted.has(o)) m.get(o)?.push(pkg);
        }
        return m;
      },
    };
  }
  return null;
}

/** Alpine's installed database: `P:` name, `V:` version, `o:` origin (source) per stanza. */
export function parseApkInstalled(text: string): {
  installed: Map<string, string>;
  origin: Map<string, string>;
} {
  const installed = new Map<string, string>();
  const origin = new Map<string, string>();
  let p: string | null = null;
  let ver: string | null = null;
  let o: string | null = null;
  const flush = () => {
    if (p !== null && ver !== null) {
      installed.set(p, ver);
      if (o !== null) origin.set(p, o);
    }
    p = ver = o = null;
  };
  for (const line of text.split('\n')) {
    if (line === '') flush();
    else if (line.startsWith('P:')) p = line.slice(2);
    else if (line.startsWith('V:')) ver = line.slice(2);
    else if (line.startsWith('o:')) o = line.slice(2);
  }
  flush();
  return { installed, origin };
}

/**
 * Per container and advisory package, the version its image ships and whether it is below the
 * fix. A container whose database cannot be read is one `unknown` entry per advisory. apk
 * versions are compared with dpkg's rules (the same ordering for Alpine's `1.2.3-r4` forms).
 */
export function containerVersions(
  advisories: readonly Advisory[],
  containers: readonly ContainerRef[],
  procRoot: string,
): ContainerVersion[] {
  const out: ContainerVersion[] = [];
  // Containers of one image share their database file: read and parsed once.
  const cache = new Map<string, Buffer>();
  for (const c of containers) {
    const db = readContainerDb(`${procRoot}/${c.pid}/root`, cache);
    for (const a of advisories) {
      if (db === null) {
        out.push({
          advisory: a.id,
          runtime: c.runtime,
          id: c.id,
          package: '*',
          version: null,
          fixed: null,
          vulnerable: 'unknown',
          note: 'no dpkg or apk database readable in the container (an rpm database needs rpm itself)',
        });
        continue;
      }
      const names = a.packages.map((p) => baseName(p.name));
      const bins = db.binariesOf(names);
      for (const pkg of a.packages) {
        const fixed = fixedVersionFor(pkg, db.families);
        for (const b of bins.get(baseName(pkg.name)) ?? []) {
          const version = db.installed.get(b) ?? null;
          const vulnerable =
            fixed === null || version === null ? 'unknown' : compareDebVersions(version, fixed) < 0;
          out.push({
            advisory: a.id,
            runtime: c.runtime,
            id: c.id,
            package: b,
            version,
            fixed,
            vulnerable,
            note: `${db.kind} database of the container${fixed === null ? ': no fixed version for its distribution' : ''}`,
          });
        }
      }
    }
  }
  return out;
}
