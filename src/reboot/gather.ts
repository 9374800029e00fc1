// Collecting what the reboot decision (detect.ts) needs from a root file system and a procfs:
// the running and installed kernels, sentinel files, container evidence, microcode, live patches.
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { containerFromCgroup } from '../cgroup/container.ts';
import { parseCgroupLine } from '../cgroup/parse.ts';
import type {
  RebootInput,
  RebootPolicy,
  RebootSettings,
  RebootUnknown,
  StaleCode,
} from './detect.ts';
import {
  compareKernelReleases,
  type InstalledKernel,
  installedKernels,
  type Packaging,
  readKernelImageVersion,
} from './kernel.ts';
import { readLivepatches } from './livepatch.ts';
import { checkMicrocode } from './microcode.ts';
import { errorCode, isMissing, readSmallText } from './read.ts';

export interface GatherOptions {
  /** Root of the file system to inspect; "/" by default. */
  root?: string;
  /** procfs of the running system; "/proc" by default. */
  procRoot?: string;
  /** Overrides the package manager guessed from the root's databases. */
  packaging?: Packaging;
  stale?: readonly StaleCode[];
  policy?: RebootPolicy | undefined;
  settings?: Partial<RebootSettings> | undefined;
}

/** Every text file gathered here is small (sysfs/procfs values, package lists): 1 MiB is plenty. */
const MAX_TEXT_BYTES = 1024 * 1024;

/** A file's text, null when it does not exist; other errors become a note and null. */
function readText(path: string, notes: string[]): string | null {
  return readSmallText(path, MAX_TEXT_BYTES, notes);
}

/**
 * Whether a file exists: true, false when it does not (ENOENT, ENOTDIR), null when that cannot
 * be told (EACCES on its directory, …), with the reason in `unknown`. existsSync answers false
 * for every error, which made an unreadable /run read as "no sentinel".
 */
function exists(path: string, unknown: RebootUnknown[]): boolean | null {
  try {
    statSync(path);
    return true;
  } catch (err) {
    if (isMissing(err)) return false;
    unknown.push({ why: `cannot tell whether ${path} exists: ${errorCode(err)}` });
    return null;
  }
}

/** Package names listed one a line, blank lines dropped, duplicates removed, first-seen order. */
export function parsePackageList(text: string): string[] {
  const seen = new Set<string>();
  for (const line of text.split('\n')) {
    const name = line.trim();
    if (name !== '') seen.add(name);
  }
  return [...seen];
}

function guessPackaging(root: string): Packaging | null {
  if (existsSync(join(root, 'var/lib/dpkg/status'))) return 'deb';
  if (existsSync(join(root, 'usr/lib/sysimage/rpm')) || existsSync(join(root, 'var/lib/rpm'))) {
    return 'rpm';
  }
  return null;
}

/** The container runtime PID 1's environment names (`container=lxc`, set by most runtimes). */
function containerFromEnviron(text: string): string | null {
  for (const entry of text.split('\0')) {
    if (entry.startsWith('container=') && entry.length > 'container='.length) {
      return entry.slice('container='.length);
    }
  }
  return null;
}

/**
 * Evidence that this system is a container, checked in this order: `/run/systemd/container`
 * (written by systemd from the runtime's `container=` variable), `/.dockerenv` (docker),
 * `/run/.containerenv` (podman, buildah), PID 1's `container=` environment variable (lxc, nspawn;
 * readable by root only), PID 1's cgroup naming a container (docker/podman/kubernetes/lxc cgroups
 * seen without a cgroup namespace), OpenVZ's `/proc/vz` without `/proc/bc`.
 */
export function detectContainer(root: string, procRoot: string, notes: string[]): string | null {
  const marker = readText(join(root, 'run/systemd/container'), notes);
  if (marker !== null) return `/run/systemd/container: ${marker.trim() || 'present'}`;
  if (existsSync(join(root, '.dockerenv'))) return '/.dockerenv exists';
  if (existsSync(join(root, 'run/.containerenv'))) return '/run/.containerenv exists';
  const environ = readText(join(procRoot, '1/environ'), []);
  const fromEnv = environ === null ? null : containerFromEnviron(environ);
  if (fromEnv !== null) return `PID 1 environment: container=${fromEnv}`;
  const cgroup = readText(join(procRoot, '1/cgroup'), []);
  for (const line of cgroup?.split('\n') ?? []) {
    const parsed = parseCgroupLine(line);
    const found = parsed === null ? null : containerFromCgroup(parsed.path);
    if (found !== null) return `PID 1's cgroup ${parsed?.path}: ${found.runtime} container`;
  }
  if (existsSync(join(procRoot, 'vz')) && !existsSync(join(procRoot, 'bc'))) {
    return '/proc/vz without /proc/bc: OpenVZ container';
  }
  return null;
}

/**
 * Collects what `detectReboot` needs: `uname -r`/`uname -v` from procfs, installed kernels, the
 * running release's image header, sentinel files and container evidence. Missing files are normal
 * (absent facts); unreadable ones become notes. Never throws for file-system reasons.
 */
export function gatherRebootInput(opts: GatherOptions = {}): RebootInput {
  const root = opts.root ?? '/';
  const procRoot = opts.procRoot ?? '/proc';
  const notes: string[] = [];
  // What could not be read and could change the verdict: "no reboot" is then unknown.
  const unknown: RebootUnknown[] = [];

  const osrelease = join(procRoot, 'sys/kernel/osrelease');
  const releaseNotes: string[] = [];
  const release = readText(osrelease, releaseNotes)?.trim();
  const version = readText(join(procRoot, 'sys/kernel/version'), notes)?.trim();
  const running =
    release === undefined || release === ''
      ? null
      : { release, version: version === undefined ? '' : version };
  if (running === null) {
    // Missing, empty or unreadable (a directory, EACCES): `uname -r` is unknown.
    const why = releaseNotes[0] ?? `${osrelease} ${release === '' ? 'is empty' : 'is missing'}`;
    unknown.push({ why: `the running kernel release is unknown (${why})`, kernel: true });
  }

  // Each directory on its own: one that cannot be listed (an EFI partition mounted on /boot
  // with dmask=0077, read without root) does not hide what the others show.
  const unlisted: { dir: string; code: string }[] = [];
  const kernels: InstalledKernel[] = installedKernels(root, unlisted);

  let runningImageVersion: string | null = null;
  const image = kernels.find((k) => k.release === running?.release)?.image ?? null;
  if (image !== null) {
    try {
      runningImageVersion = readKernelImageVersion(image);
    } catch (err) {
      const code = errorCode(err);
      notes.push(
        `cannot read ${image}: ${code}${code === 'EACCES' ? ' (kernel images are often readable by root only)' : ''}`,
      );
    }
  }

  const sentinels: { file: string; packages: string[] }[] = [];
  const required = join(root, 'run/reboot-required');
  if (exists(required, unknown)) {
    const pkgs = readText(`${required}.pkgs`, notes);
    sentinels.push({ file: required, packages: pkgs === null ? [] : parsePackageList(pkgs) });
  }
  const needed = join(root, 'run/reboot-needed');
  if (exists(needed, unknown)) sentinels.push({ file: needed, packages: [] });

  let packaging = opts.packaging ?? guessPackaging(root);
  if (packaging === null) {
    notes.push('no dpkg or rpm database found: kernel releases compared dpkg-style');
    packaging = 'deb';
  }

  judgeUnlisted(unlisted, join(root, 'boot'), kernels, running, packaging, notes, unknown);

  const container = detectContainer(root, procRoot, notes);
  return {
    packaging,
    running,
    kernels,
    runningImageVersion,
    sentinels,
    container,
    stale: opts.stale ?? [],
    policy: opts.policy,
    settings: opts.settings,
    notes,
    unknown,
    microcode: checkMicrocode({ root, procRoot, container }),
    livepatches: container === null ? readLivepatches(root, notes) : [],
  };
}

/**
 * What a kernel directory that could not be listed leaves unknown. /boot alone: unknown only when
 * the modules directories show a release newer than the running one without an image (its image
 * may be in /boot), otherwise a note. A modules directory: newer kernels may be there, unknown.
 */
function judgeUnlisted(
  unlisted: readonly { dir: string; code: string }[],
  boot: string,
  kernels: readonly InstalledKernel[],
  running: { release: string } | null,
  packaging: Packaging,
  notes: string[],
  unknown: RebootUnknown[],
): void {
  for (const u of unlisted) {
    if (u.dir === boot && running !== null) {
      const hidden = kernels
        .filter((k) => k.image === null)
        .filter((k) => compareKernelReleases(k.release, running.release, packaging) > 0)
        .map((k) => k.release);
      if (hidden.length === 0) {
        notes.push(
          `cannot list ${u.dir}: ${u.code} (the modules directories show no newer kernel)`,
        );
        continue;
      }
      unknown.push({
        why: `cannot list ${u.dir}: ${u.code}: whether ${hidden.join(', ')} can be booted cannot be told`,
        kernel: true,
      });
    } else
      unknown.push({ why: `cannot list installed kernels in ${u.dir}: ${u.code}`, kernel: true });
  }
}
