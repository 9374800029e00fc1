// Does this machine need a reboot? `assessReboot`/`detectReboot` decide from collected facts
// (pure); gather.ts's `gatherRebootInput` collects them from a root file system and a procfs.
// docs/reboot.md.

import { globToRegExp } from '../match/glob.ts';
import { BUS_UNITS } from '../systemd/bus.ts';
import {
  bootableKernels,
  compareKernelReleases,
  type InstalledKernel,
  kernelFlavour,
  newestKernel,
  type Packaging,
  parseKernelVersionString,
} from './kernel.ts';
import { activeLivepatches, type Livepatch } from './livepatch.ts';
import type { MicrocodeCheck } from './microcode.ts';

export type RebootReason =
  /** A newer kernel release is installed than the one running (`livepatches`: active on the running one). */
  | { type: 'kernel-newer'; running: string; newest: string; livepatches?: string[] }
  /** The running release's image was replaced by a different build (its `uname -v` differs). */
  | {
      type: 'kernel-rebuilt';
      release: string;
      running: string;
      installed: string;
      livepatches?: string[];
    }
  /** A newer CPU microcode revision is installed than the CPUs run (loaded at the next boot). */
  | {
      type: 'microcode';
      cpu: string;
      running: string;
      available: string;
      file: string;
      date: string;
      mixed?: string[];
    }
  /** `/run/reboot-required` (with the packages from `.pkgs`) or SUSE's `/run/reboot-needed`. */
  | { type: 'sentinel'; file: string; packages: string[] }
  /** Stale code from a package that only a reboot can replace in these processes. */
  | { type: 'stale-package'; package: string; files: string[]; pids: number[] };

/** Evidence that could not be read and could have been a reason: "no reboot" is then unknown. */
export interface RebootUnknown {
  why: string;
  /** Only the kernel checks needed it (they do not apply in a container). */
  kernel?: boolean;
}

export interface RebootResult {
  required: boolean;
  /** False inside a container: the kernel belongs to the host, so kernel checks do not apply. */
  applicable: boolean;
  reasons: RebootReason[];
  notes: string[];
  /**
   * What could not be read that could have been a reason (an unreadable /proc/sys/kernel/osrelease,
   * /boot, /run, …). With no reason found the verdict is unknown, never "no reboot"
   * (reboot-required exits 3). Optional only for hand-made results; assessReboot sets it.
   */
  unknown?: string[];
  // Optional only so that hand-made results (tests, older callers) stay valid; assessReboot sets them.
  /** The microcode check's finding, also when it is no reason (docs/reboot.md#cpu-microcode). */
  microcode?: MicrocodeCheck;
  /** Live patches loaded into the running kernel (empty in a container). */
  livepatches?: Livepatch[];
  /** Reasons the configuration says not to count (`by` names the key), kept as evidence. */
  waived?: { reason: RebootReason; by: string }[];
}

/** The `[reboot]` configuration keys (docs/configuration.md). */
export interface RebootSettings {
  /** A pending microcode update is a reboot reason (true) or only shown as waived (false). */
  microcode: boolean;
  /** Active live patches make kernel reasons waived instead of required. */
  trustLivepatch: boolean;
}

/** The stale-package reason's name for files no package owns (or when lookups failed). */
export const NO_PACKAGE = '(no package)';

export const DEFAULT_REBOOT_SETTINGS: RebootSettings = { microcode: true, trustLivepatch: false };

/** The configuration's `[reboot]` table as settings. */
export function rebootSettingsFromConfig(c: {
  microcode: boolean;
  trust_livepatch: boolean;
}): RebootSettings {
  return { microcode: c.microcode, trustLivepatch: c.trust_livepatch };
}

/** One stale file held by one process, as the scan found it. */
export interface StaleCode {
  /** Package owning the path now, or null when unowned or unknown. */
  package: string | null;
  path: string;
  pid: number;
  pidIsInit: boolean;
  /** The process's systemd system unit; null when it has none; omitted when the caller does not know. */
  unit?: string | null;
}

/** Which stale code only a reboot fixes. Every entry is a shell-style glob. */
export interface RebootPolicy {
  /** Stale code from these packages needs a reboot in any process except PID 1. */
  packages: readonly string[];
  /** Processes of these system units must never be restarted: any stale code in them needs a reboot. */
  pinnedUnits: readonly string[];
  /**
   * For processes whose unit the caller does not know: a process holding stale code from one of
   * these packages is taken to be a pinned unit's process (the message bus daemon's own binary).
   */
  pinnedPackages: readonly string[];
}

/** The kernel image and its modules (RPM and Debian names). */
const KERNEL_IMAGE_PACKAGES: readonly string[] = [
  'kernel',
  'kernel-core',
  'kernel-modules*',
  'kernel-rt*',
  'kernel-default*',
  'kernel-azure*',
  'linux-image-*',
  'linux-modules-*',
];

/**
 * Packages whose code runs in the kernel or the CPU, never in a process that could be restarted.
 * Processes do not map their files, so in practice they only matter when a caller feeds such files.
 */
export const KERNEL_PACKAGES: readonly string[] = [
  ...KERNEL_IMAGE_PACKAGES,
  'linux-firmware*',
  'firmware-*',
  'microcode_ctl',
  'intel-microcode',
  'amd64-microcode',
  'ucode-*',
];

/**
 * Packages whose update a live patch stands in for: the kernel image and its modules (Ubuntu's
 * kernel hooks also list linux-base in /run/reboot-required.pkgs). Not firmware or microcode.
 */
export const LIVEPATCHABLE_PACKAGES: readonly string[] = [...KERNEL_IMAGE_PACKAGES, 'linux-base'];

export { BUS_UNITS };

/** Packages shipping the bus daemon's own executable (Debian, Fedora/RHEL, SUSE, Arch). */
export const BUS_PACKAGES: readonly string[] = ['dbus', 'dbus-daemon', 'dbus-broker', 'dbus-1'];

export const DEFAULT_REBOOT_POLICY: RebootPolicy = {
  packages: KERNEL_PACKAGES,
  pinnedUnits: BUS_UNITS,
  pinnedPackages: BUS_PACKAGES,
};

/**
 * The coarse lists distributions use when they cannot see which process holds what (dnf's
 * needs-restarting -r, Debian postinst scripts): for callers who prefer "reboot whenever one of
 * these is stale anywhere but PID 1" over restarting processes one by one.
 */
export const DISTRIBUTION_REBOOT_PACKAGES: readonly string[] = [
  ...KERNEL_PACKAGES,
  'glibc',
  'libc6',
  'systemd',
  'udev',
  'dbus',
  'dbus-broker',
  'dbus-daemon',
  'openssl-libs',
  'libssl3',
  'gnutls',
  'libgnutls30*',
];

export interface RebootInput {
  /** How the package manager orders kernel releases. */
  packaging: Packaging;
  /** `uname -r` and `uname -v`; null when unknown. */
  running: { release: string; version: string } | null;
  kernels: readonly InstalledKernel[];
  /** Version string in the header of the running release's image (null: no image, not a bzImage, unreadable). */
  runningImageVersion: string | null;
  sentinels: readonly { file: string; packages: readonly string[] }[];
  /** Why we think we run in a container (e.g. `/run/systemd/container: docker`), or null on a host. */
  container: string | null;
  stale: readonly StaleCode[];
  /** Default: DEFAULT_REBOOT_POLICY. */
  policy?: RebootPolicy | undefined;
  /** Observations made while gathering (unreadable files, …), passed through to the result. */
  notes?: readonly string[];
  /** Evidence that could not be read and could have been a reason (RebootResult.unknown). */
  unknown?: readonly RebootUnknown[];
  /** Default: not checked. */
  microcode?: MicrocodeCheck;
  /** Default: none. */
  livepatches?: readonly Livepatch[];
  /** Default: DEFAULT_REBOOT_SETTINGS. */
  settings?: Partial<RebootSettings> | undefined;
}

/** Compiles its globs at the first name asked about: one matcher is made as the module loads,
 *  and loading must set no V8 flag (globToRegExp sets the linear-time fallback). */
function matcher(globs: readonly string[]): (name: string) => boolean {
  let res: RegExp[] | null = null;
  return (name) => {
    res ??= globs.map(globToRegExp);
    return res.some((re) => re.test(name));
  };
}

type KernelReason = Extract<RebootReason, { type: 'kernel-newer' | 'kernel-rebuilt' }>;

function kernelReasons(input: RebootInput, notes: string[], unknown: string[]): KernelReason[] {
  const { running } = input;
  if (running === null) {
    // Said by the gathering, with the reason, when it gathered; a hand-made input says it here.
    if (!(input.unknown ?? []).some((u) => u.kernel && u.why.startsWith('the running kernel')))
      unknown.push('the running kernel release is unknown (/proc/sys/kernel/osrelease unreadable)');
    return [];
  }
  const reasons: KernelReason[] = [];
  const bootable = bootableKernels(input.kernels);
  for (const k of input.kernels) {
    if (k.image === null) {
      notes.push(
        `${k.modules ?? k.release}: modules without a kernel image (left over from a removed kernel?): ignored`,
      );
    }
  }
  if (bootable.length === 0) {
    notes.push('no kernel image found under /boot or /lib/modules/*/: newer kernels not checked');
  } else {
    // Compare like with like: a host with generic and lowlatency (or rt) kernels boots its flavour.
    const flavour = kernelFlavour(running.release, input.packaging);
    const same = bootable.filter((k) => kernelFlavour(k.release, input.packaging) === flavour);
    const candidates = (same.length > 0 ? same : bootable).map((k) => k.release);
    const newest = newestKernel(candidates, input.packaging);
    if (newest !== null && compareKernelReleases(newest, running.release, input.packaging) > 0) {
      reasons.push({ type: 'kernel-newer', running: running.release, newest });
    } else if (newest !== null && !candidates.includes(running.release)) {
      notes.push(
        `the running kernel ${running.release} is not installed (newest installed: ${newest})`,
      );
    }
  }
  const own = input.kernels.find((k) => k.release === running.release && k.image !== null);
  if (own === undefined) return reasons;
  if (input.runningImageVersion === null) {
    notes.push(`no version string read from ${own.image}: rebuilt kernels not checked`);
    return reasons;
  }
  if (running.version.trim() === '') {
    notes.push(
      'the running kernel build (/proc/sys/kernel/version) is unknown: rebuilt kernels not checked',
    );
    return reasons;
  }
  const header = parseKernelVersionString(input.runningImageVersion);
  if (header.release !== running.release || header.version !== running.version.trim()) {
    reasons.push({
      type: 'kernel-rebuilt',
      release: running.release,
      running: running.version.trim(),
      installed: header.release === running.release ? header.version : input.runningImageVersion,
    });
  }
  return reasons;
}

function stalePackageReasons(input: RebootInput, notes: string[]): RebootReason[] {
  const policy = input.policy ?? DEFAULT_REBOOT_POLICY;
  const needsReboot = matcher(policy.packages);
  const pinnedUnit = matcher(policy.pinnedUnits);
  const pinnedPackage = matcher(policy.pinnedPackages);

  // Processes that cannot be restarted: by their unit when known, else by the binary they run.
  const pinned = new Set<number>();
  for (const s of input.stale) {
    if (s.pidIsInit) continue;
    if (s.unit === undefined) {
      if (s.package !== null && pinnedPackage(s.package)) pinned.add(s.pid);
    } else if (s.unit !== null && pinnedUnit(s.unit)) pinned.add(s.pid);
  }

  const byPackage = new Map<string, { files: Set<string>; pids: Set<number> }>();
  let initStale = false;
  for (const s of input.stale) {
    if (s.pidIsInit) {
      initStale = true;
      continue;
    }
    const name = s.package ?? NO_PACKAGE;
    if (!pinned.has(s.pid) && !(s.package !== null && needsReboot(s.package))) continue;
    let e = byPackage.get(name);
    if (!e) {
      e = { files: new Set(), pids: new Set() };
      byPackage.set(name, e);
    }
    e.files.add(s.path);
    e.pids.add(s.pid);
  }
  if (initStale) {
    notes.push('PID 1 runs stale code: `systemctl daemon-reexec` replaces it, no reboot needed');
  }
  return [...byPackage.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([pkg, e]) => ({
      type: 'stale-package',
      package: pkg,
      files: [...e.files].sort(),
      pids: [...e.pids].sort((a, b) => a - b),
    }));
}

function microcodeReason(check: MicrocodeCheck): RebootReason | null {
  if (check.status !== 'pending' || check.available === null) return null;
  return {
    type: 'microcode',
    cpu: check.cpu,
    running: check.running,
    available: check.available.revision,
    file: check.available.file,
    date: check.available.date,
    ...(check.mixed === null ? {} : { mixed: check.mixed }),
  };
}

/** A reason a live patch stands in for: the kernel's own, or a sentinel only kernel packages set. */
function livepatchable(r: RebootReason): boolean {
  if (r.type === 'kernel-newer' || r.type === 'kernel-rebuilt') return true;
  return r.type === 'sentinel' && r.packages.length > 0 && r.packages.every(livepatchablePackage);
}

const livepatchablePackage = matcher(LIVEPATCHABLE_PACKAGES);

/** Everything `detectReboot` decides, with the notes explaining what was not checked and why. */
export function assessReboot(input: RebootInput): RebootResult {
  const notes = [...(input.notes ?? [])];
  const settings = { ...DEFAULT_REBOOT_SETTINGS, ...input.settings };
  const applicable = input.container === null;
  const livepatches = applicable ? [...(input.livepatches ?? [])] : [];
  const active = activeLivepatches(livepatches).map((p) => p.name);
  const reasons: RebootReason[] = [];
  // The kernel's evidence does not count in a container, where the kernel checks do not apply.
  const unknown = (input.unknown ?? []).filter((u) => applicable || !u.kernel).map((u) => u.why);
  if (applicable) {
    for (const r of kernelReasons(input, notes, unknown)) {
      reasons.push(active.length > 0 ? { ...r, livepatches: active } : r);
    }
  } else {
    notes.push(
      `running in a container (${input.container}): the kernel is the host's, kernel checks do not apply`,
    );
  }
  for (const s of input.sentinels) {
    reasons.push({ type: 'sentinel', file: s.file, packages: [...s.packages] });
  }
  reasons.push(...stalePackageReasons(input, notes));
  const microcode: MicrocodeCheck = input.microcode ?? {
    status: 'not-applicable',
    why: 'not checked',
  };
  if (microcode.status === 'unknown') notes.push(`microcode not checked: ${microcode.why}`);
  else if (microcode.status === 'current' && microcode.mixed !== null) {
    notes.push(`CPUs run different microcode revisions: ${microcode.mixed.join(', ')}`);
  }
  const mc = microcodeReason(microcode);

  const waived: { reason: RebootReason; by: string }[] = [];
  if (mc !== null) {
    if (settings.microcode) reasons.push(mc);
    else waived.push({ reason: mc, by: 'reboot.microcode = false' });
  }
  let counted = reasons;
  if (settings.trustLivepatch && active.length > 0) {
    counted = reasons.filter((r) => !livepatchable(r));
    for (const r of reasons) {
      if (livepatchable(r)) waived.push({ reason: r, by: 'reboot.trust_livepatch = true' });
    }
  } else if (settings.trustLivepatch && livepatches.length > 0) {
    notes.push(
      `reboot.trust_livepatch: no live patch is enabled and complete (${livepatches.map((p) => p.name).join(', ')}): kernel reasons still count`,
    );
  }
  return {
    required: counted.length > 0,
    applicable,
    reasons: counted,
    notes,
    unknown,
    microcode,
    livepatches,
    waived,
  };
}

/** The reasons this machine (or container) needs a reboot; empty when it does not. Pure. */
export function detectReboot(input: RebootInput): RebootReason[] {
  return assessReboot(input).reasons;
}
