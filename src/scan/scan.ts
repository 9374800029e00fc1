// `scan`: find every process still running deleted or replaced code, and say whose it is.
import { hostname } from 'node:os';
import type { Advisory } from '../advisory/advisory.ts';
import type { AdvisoryAssessment } from '../advisory/assess.ts';
import { attributeCgroup, rootPrefixFromInit } from '../cgroup/attribute.ts';
import { containerFromCgroup } from '../cgroup/container.ts';
import { parseCgroupFile } from '../cgroup/parse.ts';
import { guestOwner, isQemu, mayBeQemu } from '../cgroup/vm.ts';
import { EnvironmentError, errnoOf, UserError } from '../errors.ts';
import type { Group } from '../grouping/group.ts';
import { groupProcesses, ownerKey } from '../grouping/group.ts';
import { OWNER_KINDS, type SummaryCount } from '../grouping/owner.ts';
import { hostPathOf } from '../interp/detect.ts';
import type { InterpFinding } from '../interp/evidence.ts';
import { loadedFindings, ownerQueries, PackageFiles, packageFindings } from '../interp/evidence.ts';
import type { RawInterp } from '../interp/read.ts';
import { userRegExp } from '../match/regexp.ts';
import { normalizeRoot, openPackageDb, type PackageDb } from '../packages/db.ts';
import { isFailure, ProcReader } from '../procfs/reader.ts';
import { parseCmdline } from '../procfs/status.ts';
import { cgroupOf, cgroupsOf } from './cgroups.ts';
import {
  hostFilePaths,
  inForeignPidNs,
  MAX_FILES_PER_PROCESS,
  type RawFile,
  type RawProcess,
} from './collect.ts';
import { ownPtraceCapability } from './coverage.ts';
import { detailSelection, readDetails } from './details.ts';
import { applyFilters, type ScanFilters } from './filters.ts';
import type { Owner, PackageRef, StaleFile, StaleProcess } from './model.ts';
import type { NoiseConfig } from './noise.ts';
import { noiseMatcher } from './noise.ts';
import { collectAll, type ScanHelper } from './parallel.ts';

export interface ScanOptions {
  /** procfs to read; "/proc" by default (a fixture tree in tests). */
  procRoot?: string | undefined;
  /** Root of the file system whose package database owns the files; "/" by default. */
  hostRoot?: string | undefined;
  noise?: NoiseConfig | undefined;
  /** Regular expressions on command names (comm) of processes never reported. */
  ignoreProcesses?: readonly string[] | undefined;
  /** Also return processes whose deleted files were all filtered as noise. */
  includeIgnored?: boolean | undefined;
  filters?: ScanFilters | undefined;
  /** Look up the owning package of each stale file (default true). */
  packages?: boolean | undefined;
  /**
   * false: the stale files' packages are not looked up (left null) when nothing the caller
   * reports needs them — `restart` without --package, --fixed, --advisory or --rescan; the
   * interpreted-code detector still looks up what its `package` evidence needs. Reading every
   * dpkg file list was the largest part of a restart's scan (~50 ms of ~120 on 200 units).
   */
  fileOwners?: boolean | undefined;
  /** Threads reading /proc (default: the CPUs available, at most 4). */
  threads?: number | undefined;
  /** Look for outdated interpreted code (Python, Perl, Ruby, Node.js, Java; default true). */
  interpreted?: boolean | undefined;
  /** Advisories to assess (docs/advisories.md); none by default. */
  advisories?: readonly Advisory[] | undefined;
  /** Tests: the main thread reads only once every worker took work (src/scan/parallel.ts). */
  testWorkersFirst?: boolean | undefined;
}

export interface ScanSummary {
  /** Processes whose maps could be read. */
  scanned: number;
  /** Processes whose maps could not be read: access denied (not root, or no CAP_SYS_PTRACE),
   *  or `failed`. */
  unreadable: number;
  /** Of `unreadable`, those that failed to read for another reason than access (EMFILE,
   *  ELOOP, EIO, a file that is not a regular one): the scan is partial even as root. */
  failed?: number;
  processes: number;
  units: number;
  userUnits: number;
  sessions: number;
  containers: number;
  /** Virtual machine guests (qemu processes). */
  vms: number;
  /** Processes that only keep deleted data files (no stale code). */
  dataOnly: number;
}

export interface ScanReport {
  hostname: string;
  /** Whether the scan ran as root (without root, other users' processes are unreadable). */
  asRoot: boolean;
  /** Whether it had CAP_SYS_PTRACE, which root too needs for other users' processes
   *  (src/scan/coverage.ts); not in the JSON document. */
  ptrace: boolean;
  time: string;
  durationMs: number;
  /** The package manager consulted, or null when none was found or lookups were off. */
  packageManager: 'dpkg' | 'rpm' | null;
  summary: ScanSummary;
  groups: Group[];
  /** Every stale process, by PID; with includeIgnored also the ones with ignored files only. */
  processes: StaleProcess[];
  /** Problems that did not stop the scan (e.g. the package database could not be read). */
  warnings: string[];
  /** Why the summary's `failed` processes could not be read (distinct, at most 3), e.g.
   *  "EMFILE: too many open files"; empty when none failed. */
  readErrors?: string[];
  /**
   * Why the stale files' packages could not be looked up (every `package` is then null: not
   * "not packaged" but unknown); absent when the lookup worked or was not made.
   */
  packageLookupError?: string;
  /**
   * Every stale process before --lib, --unit and --package narrowed `processes` (which are
   * applied after the host was read, packages looked up): the scan reboot-required would make,
   * so `scan --reboot` with those filters needs no second scan. Absent when --pid narrowed what
   * was read or the stale files' packages were not looked up.
   */
  unfiltered?: StaleProcess[];
  /** The advisory assessment, present when advisories were given. */
  advisories?: AdvisoryAssessment;
}

export async function scan(options: ScanOptions = {}): Promise<ScanReport> {
  const t0 = performance.now();
  const procRoot = options.procRoot ?? '/proc';
  const hostRoot = options.hostRoot ?? '/';
  const reader = new ProcReader(procRoot);
  const wanted = options.filters?.pids ? new Set(options.filters.pids) : null;
  const all = listPids(reader);
  const pids = wanted ? all.filter((p) => wanted.has(p)) : all;
  // Nothing to read is never "nothing stale" (an empty --proc-root, a --pid of no process).
  if (wanted !== null && pids.length < wanted.size) {
    const missing = [...wanted].filter((p) => !pids.includes(p)).sort((a, b) => a - b);
    throw new UserError(
      `no process with PID ${missing.join(', ')} in ${reader.root}: it does not exist (or exited).`,
    );
  }
  if (pids.length === 0)
    throw new UserError(`no processes in ${reader.root}: is procfs mounted there?`);
  const wantPackages = options.packages !== false;
  // Which package manager there is is found out while the threads read /proc.
  const dbPromise = wantPackages ? openPackageDb({ root: hostRoot }) : Promise.resolve(null);
  dbPromise.catch(() => {});
  const ignoredNames = (options.ignoreProcesses ?? []).map(userRegExp);
  const ctx = referenceContext(reader);
  const wantAdvisories = options.advisories !== undefined && options.advisories.length > 0;
  const raw = await collectAll(
    procRoot,
    pids,
    {
      noise: options.noise ?? {},
      keepIgnored: options.includeIgnored === true,
      wantComm: ignoredNames.length > 0,
      interpreted: options.interpreted !== false,
      // Containers for the advisories: every process's PID namespace, read by the threads.
      hostPidNs: wantAdvisories ? (ctx.pidNs ?? undefined) : undefined,
      // The assessment stats each replaced inode through its mapping (rangesOf).
      ranges: wantAdvisories,
      // A worker searches dpkg's lists for its own stale files as soon as its reads are done.
      listsAhead:
        wantPackages && options.fileOwners !== false
          ? { infoDir: `${normalizeRoot(hostRoot)}/var/lib/dpkg/info`, hostPidNs: ctx.pidNs }
          : undefined,
    },
    options.threads,
    options.testWorkersFirst ? { mainAfterWorkers: true } : undefined,
  );
  // The worker kept for the package search ends with the scan, whatever happens.
  try {
    if (raw.scanned + raw.denied + raw.failed === 0) {
      // Every process listed was gone when its maps were read.
      throw new UserError(
        wanted === null
          ? `no process could be read in ${reader.root}: all ${pids.length} listed exited before their maps were read.`
          : `no process with PID ${pids.join(', ')} in ${reader.root}: it exited before its maps were read.`,
      );
    }
    const candidates = raw.processes.filter(
      (p) => p.comm === null || !ignoredNames.some((re) => re.test(p.comm ?? '')),
    );
    const isNoise = noiseMatcher(options.noise ?? {});
    const files = new PackageFiles(hostRoot === '/' ? '' : hostRoot.replace(/\/+$/, ''));
    const interp = raw.interpreted.map((p) => ({
      p,
      // `package` evidence only for the host's processes, and only when a package changed since.
      onHost: !inForeignPidNs(p, ctx.pidNs) && files.changedAfter(p.startMs),
      loaded: loadedFindings(p, isNoise),
    }));
    const warnings: string[] = [];
    let lookupError: string | null = null;
    const lookupFailed = (e: unknown) => {
      lookupError ??= (e as Error).message;
      warnings.push(`package lookup failed: ${(e as Error).message}`);
    };
    let db: PackageDb | null = null;
    try {
      db = await dbPromise;
    } catch (e) {
      lookupFailed(e);
    }
    const pidsToAttribute = candidates.map((p) => p.pid);
    // Started before the cgroups are read: its `.list` search runs on a scan thread meanwhile.
    const owners = lookupOwners(
      db,
      options.fileOwners === false ? [] : candidates,
      interp.flatMap((a) => ownerQueries(a.p, a.onHost, isNoise)),
      ctx,
      raw.helper,
    );
    owners.catch(() => {});
    // The walk the main thread made while the workers' results came (if it did).
    const cgroups = cgroupsOf(reader, pidsToAttribute, raw.cgroups);
    const ownerOf = ownersByCgroup(ctx.rootPrefix);
    const processes = candidates.map((p) =>
      toStaleProcess(reader, p, cgroups.get(p.pid) ?? null, ctx, ownerOf),
    );
    const manager = db?.manager ?? null;
    let found = new Map<string, PackageRef>();
    try {
      found = await owners;
    } catch (e) {
      lookupFailed(e);
    }
    if (options.fileOwners !== false) attachPackages(processes, found);
    if (interp.length > 0) {
      addInterpreted(reader, processes, interp, found, files, isNoise, ignoredNames, ctx, ownerOf);
    }
    const truncated = truncationWarning(processes);
    if (truncated !== null) warnings.push(truncated);
    // --package asks whose the stale code is: without the packages that cannot be answered, and
    // "none of it is this package's" would be a guess (fail closed: an error, never clean).
    if (
      lookupError !== null &&
      (options.filters?.packages?.length ?? 0) > 0 &&
      processes.length > 0
    )
      throw new EnvironmentError(
        `--package cannot be applied: package lookup failed: ${lookupError}`,
      );
    const kept = applyFilters(processes, options.filters ?? {});
    attachDetails(reader, kept);
    const groups = groupProcesses(kept);
    const advisories =
      options.advisories && wantAdvisories
        ? await (await import('../advisory/run.ts')).assessRun(options.advisories, kept, {
            manager,
            root: hostRoot,
            procRoot,
            // The PIDs already listed (--pid narrows them): containers are looked for among them,
            // as the threads found them (null: the host's namespace is unknown, none is found).
            pids,
            foreign: ctx.pidNs === null ? null : raw.foreign,
            rangeOf: rangesOf(raw.processes),
            // Every stale file's package is unknown: the processes are `unknown`, never clean.
            ownersUnknown: lookupError,
          })
        : undefined;
    return {
      hostname: hostname(),
      asRoot: process.geteuid?.() === 0,
      ptrace: ownPtraceCapability(),
      time: new Date().toISOString(),
      durationMs: Math.round(performance.now() - t0),
      packageManager: manager,
      summary: summarize(raw.scanned, raw.denied, raw.failed, kept, groups),
      groups,
      processes: kept,
      warnings,
      readErrors: raw.readErrors,
      ...(lookupError === null ? {} : { packageLookupError: lookupError }),
      ...(wanted === null && wantPackages && options.fileOwners !== false
        ? { unfiltered: processes }
        : {}),
      ...(advisories === undefined ? {} : { advisories }),
    };
  } finally {
    void raw.helper?.terminate();
  }
}

function listPids(reader: ProcReader): number[] {
  try {
    return reader.listPids();
  } catch (e) {
    throw new UserError(
      `cannot list processes in ${reader.root} (${errnoOf(e)}): is procfs mounted there?`,
    );
  }
}

interface ReferenceContext {
  rootPrefix: string;
  /** The host's PID namespace (PID 1's, else our own when PID 1's is not readable). */
  pidNs: string | null;
}

/** PID 1 is the reference for "the host": its cgroup root and its PID namespace. */
function referenceContext(reader: ProcReader): ReferenceContext {
  const cg = reader.read('1/cgroup');
  let ns = reader.readlink('1/ns/pid');
  if (isFailure(ns)) ns = reader.readlink('self/ns/pid');
  return {
    rootPrefix: rootPrefixFromInit(isFailure(cg) ? null : parseCgroupFile(cg)),
    pidNs: isFailure(ns) ? null : ns,
  };
}

/**
 * attributeCgroup, once per cgroup: a service's processes share theirs (10,000 processes, a few
 * hundred cgroups). The owners are shared too, and never changed.
 */
function ownersByCgroup(rootPrefix: string): (cgroup: string | null) => Owner {
  const known = new Map<string, Owner>();
  return (cgroup) => {
    if (cgroup === null) return attributeCgroup(null, rootPrefix);
    let owner = known.get(cgroup);
    if (owner === undefined) {
      owner = attributeCgroup(cgroup, rootPrefix);
      known.set(cgroup, owner);
    }
    return owner;
  };
}

function toStaleProcess(
  reader: ProcReader,
  p: RawProcess,
  cgroup: string | null,
  ctx: ReferenceContext,
  ownerOf: (cgroup: string | null) => Owner,
): StaleProcess {
  const foreignPidNs = inForeignPidNs(p, ctx.pidNs);
  let owner: Owner = ownerOf(cgroup);
  if (foreignPidNs && owner.type !== 'container') {
    // In another PID namespace but not in a cgroup we recognise: still not the host's service.
    const c = cgroup === null ? null : containerFromCgroup(cgroup);
    owner = {
      type: 'container',
      runtime: c?.runtime ?? 'unknown',
      id: c?.id ?? cgroup ?? `pid-${p.pid}`,
      cgroup,
    };
  }
  if (!foreignPidNs) owner = guestOf(reader, p, cgroup, owner);
  // Files of a container come from its image: the host's packages say nothing about them.
  // Virtual machines (machine.slice without their own PID namespace) run the host's binaries.
  const inContainer = foreignPidNs || (owner.type === 'container' && owner.runtime !== 'machine');
  // The kernel prints a mapped file's path as the reader (this scan, at the host's root) sees
  // it, not as the process does: a chrooted daemon's files are already host paths — the
  // libraries postfix's smtpd loaded before its chroot read /usr/lib/…, files it opened inside
  // /var/spool/postfix/… (docs/kernel-maps.md). Joining the root to them named no real file.
  const files: StaleFile[] = p.files.map((f) => ({
    path: f.path,
    hostPath: inContainer ? null : f.path,
    kind: f.kind,
    inode: f.inode,
    device: f.device,
    package: null,
  }));
  const sp: StaleProcess = {
    pid: p.pid,
    ppid: null,
    uid: null,
    name: p.comm,
    cmdline: null,
    root: p.root,
    foreignPidNs,
    cgroup,
    owner,
    files,
    ignored: p.ignored,
  };
  // Set apart, not spread in: an object spread is a slow path while the code is cold.
  if (p.omittedMappings !== undefined) sp.omittedMappings = p.omittedMappings;
  return sp;
}

/** A qemu process is a virtual machine guest, whatever unit or scope it runs in (src/cgroup/vm.ts). */
function guestOf(reader: ProcReader, p: RawProcess, cgroup: string | null, owner: Owner): Owner {
  // The executable's name rules qemu out without reading comm (one open and read less for each
  // of 10,000 stale processes); undefined: only the comm file can tell.
  const comm = p.comm ?? (p.exe !== null && !mayBeQemu(p.exe) ? null : undefined);
  // The common case, a host process not named like qemu, decided without guestOwner's look-ups.
  if (owner.type !== 'container' && comm !== undefined && !isQemu(comm)) return owner;
  const text = (file: string) => {
    const t = reader.read(`${p.pid}/${file}`);
    return isFailure(t) ? null : t;
  };
  const guest = guestOwner(owner, {
    pid: p.pid,
    cgroup,
    comm: () => (comm !== undefined ? comm : (text('comm')?.trimEnd() ?? null)),
    argv: () => {
      const t = text('cmdline');
      return t === null ? null : parseCmdline(t);
    },
  });
  return guest ?? owner;
}

/** Fills name, uid, parent and argv for all processes, or a sample per group when there are many. */
function attachDetails(reader: ProcReader, processes: StaleProcess[]): void {
  const byOwner = new Map<string, number[]>();
  for (let i = 0; i < processes.length; i++) {
    const p = processes[i] as StaleProcess;
    const key = ownerKey(p.owner);
    const list = byOwner.get(key);
    if (list) list.push(p.pid);
    else byOwner.set(key, [p.pid]);
  }
  const chosen = detailSelection([...byOwner.values()], processes.length);
  for (let i = 0; i < processes.length; i++) {
    const p = processes[i] as StaleProcess;
    if (!chosen.has(p.pid)) continue;
    const d = readDetails(reader, p.pid);
    if (!d) continue;
    p.name = d.name;
    p.uid = d.uid;
    p.ppid = d.ppid;
    p.cmdline = d.cmdline;
  }
}

/**
 * The owners of the stale files of `processes` and of `extra` paths (one database pass). Asked
 * before the owners are attributed, so for every file of the host's PID namespace: a superset of
 * the host paths (those of a container found by its cgroup alone are looked up for nothing).
 */
function lookupOwners(
  db: PackageDb | null,
  processes: readonly RawProcess[],
  extra: readonly string[],
  ctx: ReferenceContext,
  helper: ScanHelper | null,
): Promise<Map<string, PackageRef>> {
  const paths = hostFilePaths(processes, ctx.pidNs, new Set<string>(extra));
  if (db === null || paths.size === 0) return Promise.resolve(new Map());
  return db.lookup([...paths], { listSearch: helper?.scanLists });
}

/** Fills in the packages of stale files found on the host. */
function attachPackages(processes: StaleProcess[], owners: ReadonlyMap<string, PackageRef>): void {
  for (let i = 0; i < processes.length; i++) {
    const files = (processes[i] as StaleProcess).files;
    for (let j = 0; j < files.length; j++) {
      const f = files[j] as StaleFile;
      if (f.hostPath) f.package = owners.get(f.hostPath) ?? null;
    }
  }
}

/**
 * Adds the interpreted-code findings (docs/interpreted.md) as stale code files: to the process
 * when it is stale already, else as a new stale process (sorted back into PID order).
 */
function addInterpreted(
  reader: ProcReader,
  processes: StaleProcess[],
  interp: readonly { p: RawInterp; onHost: boolean; loaded: InterpFinding[] }[],
  owners: ReadonlyMap<string, PackageRef>,
  files: PackageFiles,
  isNoise: (path: string) => string | null,
  ignoredNames: readonly RegExp[],
  ctx: ReferenceContext,
  ownerOf: (cgroup: string | null) => Owner,
): void {
  const byPid = new Map(processes.map((p) => [p.pid, p]));
  let added = false;
  for (const { p, onHost, loaded } of interp) {
    const already = new Set(loaded.map((f) => f.path));
    const fromPackages =
      onHost && p.root === '/' ? packageFindings(p, owners, files, already, isNoise) : [];
    if (loaded.length === 0 && fromPackages.length === 0) continue;
    let sp = byPid.get(p.pid);
    if (!sp) {
      let comm: string | null = null;
      if (ignoredNames.length > 0) {
        const c = reader.read(`${p.pid}/comm`);
        if (isFailure(c)) continue;
        comm = c.trimEnd();
        if (ignoredNames.some((re) => re.test(comm ?? ''))) continue;
      }
      const rawProc: RawProcess = {
        pid: p.pid,
        pidNs: p.pidNs,
        root: p.root,
        comm,
        exe: null,
        files: [],
        ignored: [],
      };
      sp = toStaleProcess(reader, rawProc, cgroupOf(reader, p.pid), ctx, ownerOf);
      byPid.set(p.pid, sp);
      processes.push(sp);
      added = true;
    }
    const inContainer =
      sp.foreignPidNs || (sp.owner.type === 'container' && sp.owner.runtime !== 'machine');
    const toFile = (f: InterpFinding, pkg: PackageRef | null): StaleFile => {
      // A held-open file's path is the kernel's (an fd link: the host's view, like maps); a
      // program path comes from the command line, in the process's own root.
      const hostPath = inContainer
        ? null
        : f.evidence.reason === 'open-file'
          ? f.path
          : hostPathOf(f.path, p.root);
      return {
        path: f.path,
        hostPath,
        kind: 'code',
        inode: f.inode,
        device: f.device,
        package: pkg ?? (hostPath === null ? null : (owners.get(hostPath) ?? null)),
        interpreted: f.evidence,
      };
    };
    for (const f of loaded) sp.files.push(toFile(f, null));
    for (const { finding, pkg } of fromPackages) sp.files.push(toFile(finding, pkg));
  }
  if (added) processes.sort((a, b) => a.pid - b.pid);
}

/** The map_files name of each stale file's mapping, by PID, inode and path (for the advisories). */
function rangesOf(
  raw: readonly RawProcess[],
): (pid: number, file: { path: string; inode: number }) => string | null {
  // Made at the first question: the assessment asks once per replaced inode, not per process.
  let byPid: Map<number, RawFile[]> | null = null;
  return (pid, file) => {
    byPid ??= new Map(raw.map((p) => [p.pid, p.files]));
    return (
      byPid.get(pid)?.find((f) => f.inode === file.inode && f.path === file.path)?.range ?? null
    );
  };
}

/** One warning for every process whose deleted mappings were not all examined (bounded). */
function truncationWarning(processes: readonly StaleProcess[]): string | null {
  const cut = processes.filter((p) => p.omittedMappings !== undefined);
  if (cut.length === 0) return null;
  const mappings = cut.reduce((n, p) => n + (p.omittedMappings ?? 0), 0);
  const shown = cut
    .slice(0, 8)
    .map((p) => p.pid)
    .join(', ');
  const more = cut.length > 8 ? ` and ${cut.length - 8} more` : '';
  return `${cut.length} process${cut.length === 1 ? ' maps' : 'es map'} more than ${MAX_FILES_PER_PROCESS} distinct deleted files; ${mappings} deleted mapping${mappings === 1 ? ' was' : 's were'} not examined (PID ${shown}${more})`;
}

function summarize(
  scanned: number,
  denied: number,
  failed: number,
  processes: readonly StaleProcess[],
  groups: readonly Group[],
): ScanSummary {
  const counts: Record<SummaryCount, number> = {
    units: 0,
    userUnits: 0,
    sessions: 0,
    containers: 0,
    vms: 0,
  };
  for (const g of groups) {
    const c = OWNER_KINDS[g.owner.type].summary;
    if (c !== null) counts[c]++;
  }
  let stale = 0;
  let dataOnly = 0;
  for (let i = 0; i < processes.length; i++) {
    const files = (processes[i] as StaleProcess).files;
    if (files.length === 0) continue;
    stale++;
    if (files.every((f) => f.kind === 'data')) dataOnly++;
  }
  return { scanned, unreadable: denied + failed, failed, processes: stale, ...counts, dataOnly };
}

export { ownerKey };
