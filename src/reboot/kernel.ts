// Installed kernels and the version string inside an x86 bzImage (Linux boot protocol, header at 0x1f1).

import type { Buffer } from 'node:buffer';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { errnoCode } from '../errors.ts';
import { readBounded } from './read.ts';
import { compareDebVersions, compareRpmVersions } from './version.ts';

export type Packaging = 'deb' | 'rpm';

/** "HdrS" as the boot protocol stores it at 0x202. */
const HEADER_MAGIC = 'HdrS';
const MAGIC_OFFSET = 0x202;
const PROTOCOL_OFFSET = 0x206;
const KERNEL_VERSION_FIELD = 0x20e;
/** `kernel_version` is relative to the end of the boot sector. */
const KERNEL_VERSION_BASE = 0x200;
/** The string is one line of text; anything longer is not a version string. */
const MAX_VERSION_LENGTH = 512;
/** Enough of the file to hold the setup header and the version string (setup code is at most 32 KiB). */
export const IMAGE_HEADER_BYTES = 64 * 1024;

/**
 * The `kernel_version` string of an x86 bzImage: `<release> (<user>@<host>) <uname -v>`, e.g.
 * `6.1.0-26-amd64 (debian-kernel@lists.debian.org) #1 SMP PREEMPT_DYNAMIC Debian 6.1.112-1 (2024-09-30)`.
 * Null for anything else (an arm64 `Image`, an EFI zboot image, a truncated or corrupt file):
 * no magic, boot protocol older than 2.00, offset 0, string outside the buffer, not NUL-terminated
 * within 512 bytes, or not printable ASCII.
 */
export function kernelImageVersion(buf: Buffer): string | null {
  if (buf.length < KERNEL_VERSION_FIELD + 2) return null;
  if (buf.toString('latin1', MAGIC_OFFSET, MAGIC_OFFSET + 4) !== HEADER_MAGIC) return null;
  if (buf.readUInt16LE(PROTOCOL_OFFSET) < 0x0200) return null;
  const offset = buf.readUInt16LE(KERNEL_VERSION_FIELD);
  if (offset === 0) return null;
  const start = KERNEL_VERSION_BASE + offset;
  if (start >= buf.length) return null;
  const end = buf.indexOf(0, start);
  if (end === -1 || end - start > MAX_VERSION_LENGTH) return null;
  const text = buf.toString('latin1', start, end);
  if (!/^[\x20-\x7e]+$/.test(text)) return null;
  return text.trim() === '' ? null : text.trim();
}

export interface KernelVersionString {
  /** The release (`uname -r`). */
  release: string;
  /** `user@host` that built it, when present. */
  builder: string | null;
  /** The build's version (`uname -v`), e.g. `#1 SMP PREEMPT_DYNAMIC Debian 6.1.112-1 (2024-09-30)`. */
  version: string;
}

/** Splits a bzImage version string into release, builder and `uname -v` part. */
export function parseKernelVersionString(text: string): KernelVersionString {
  const space = text.indexOf(' ');
  if (space === -1) return { release: text, builder: null, version: '' };
  const release = text.slice(0, space);
  const rest = text.slice(space + 1);
  if (rest.startsWith('(')) {
    const close = rest.indexOf(') ');
    if (close !== -1) {
      return { release, builder: rest.slice(1, close), version: rest.slice(close + 2).trim() };
    }
  }
  return { release, builder: null, version: rest.trim() };
}

/** Reads the first bytes of a kernel image and returns its version string (null when not a bzImage). Throws on I/O errors. */
export function readKernelImageVersion(path: string): string | null {
  return kernelImageVersion(readBounded(path, IMAGE_HEADER_BYTES).data);
}

export interface InstalledKernel {
  release: string;
  /** The kernel image: `<root>/boot/vmlinuz-<release>` or, failing that, `<modules dir>/vmlinuz`. */
  image: string | null;
  /** `<root>/lib/modules/<release>` or `<root>/usr/lib/modules/<release>`, when that directory exists. */
  modules: string | null;
}

/** Image names in /boot: `vmlinuz-<release>` (compressed) and `vmlinux-<release>` (ppc64, some arm). */
const BOOT_IMAGE = /^vmlinu[xz]-(\d.*)$/;
/** dracut's rescue image `vmlinuz-0-rescue-<machine id>` is a copy of an old kernel, not a release. */
const RESCUE = /^0-rescue-/;

function listDir(path: string): string[] {
  try {
    return readdirSync(path);
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw err;
  }
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Every kernel release found under `<root>`, sorted by name: images in `/boot` and module
 * directories in `/lib/modules` and `/usr/lib/modules`. An entry may have an image but no modules
 * (a kernel with everything built in) or modules but no image. The second case is usually what a
 * removed kernel leaves behind (DKMS builds, files the package did not own), so callers should not
 * treat it as installed; see `bootableKernels`. Symlinks such as `/boot/vmlinuz` → the default
 * kernel are skipped (no release in the name), and so is dracut's `vmlinuz-0-rescue-*`.
 */
/**
 * The kernels installed under `root`. A directory that cannot be listed (other than missing)
 * throws, unless `unreadable` is given: it is then recorded there and the others still listed.
 */
export function installedKernels(
  root: string,
  unreadable?: { dir: string; code: string }[],
): InstalledKernel[] {
  const list = (dir: string): string[] => {
    if (unreadable === undefined) return listDir(dir);
    try {
      return listDir(dir);
    } catch (err) {
      unreadable.push({ dir, code: errnoCode(err) ?? String(err) });
      return [];
    }
  };
  const byRelease = new Map<string, InstalledKernel>();
  const entry = (release: string): InstalledKernel => {
    let k = byRelease.get(release);
    if (!k) {
      k = { release, image: null, modules: null };
      byRelease.set(release, k);
    }
    return k;
  };
  const boot = join(root, 'boot');
  for (const name of list(boot).sort()) {
    const release = BOOT_IMAGE.exec(name)?.[1];
    if (release === undefined || RESCUE.test(release)) continue;
    const path = join(boot, name);
    if (!isFile(path)) continue;
    const k = entry(release);
    // Prefer the compressed image when both exist: that is what boot loaders load.
    if (k.image === null || name.startsWith('vmlinuz-')) k.image = path;
  }
  for (const dir of [join(root, 'lib/modules'), join(root, 'usr/lib/modules')]) {
    for (const release of list(dir).sort()) {
      const path = join(dir, release);
      if (!isDir(path)) continue;
      const k = entry(release);
      k.modules ??= path;
      // Fedora, Arch and image-based systems ship the image inside the modules directory.
      if (k.image === null && isFile(join(path, 'vmlinuz'))) k.image = join(path, 'vmlinuz');
    }
  }
  return [...byRelease.values()].sort((a, b) =>
    a.release < b.release ? -1 : a.release > b.release ? 1 : 0,
  );
}

/** The kernels a reboot could start: those with an image. */
export function bootableKernels(kernels: readonly InstalledKernel[]): InstalledKernel[] {
  return kernels.filter((k) => k.image !== null);
}

/** Orders kernel releases the way the system's package manager orders its kernel packages. */
export function compareKernelReleases(a: string, b: string, packaging: Packaging): -1 | 0 | 1 {
  return packaging === 'deb' ? compareDebVersions(a, b) : compareRpmVersions(a, b);
}

/** The newest release (dpkg or rpm ordering), or null for an empty list. Ties keep the first. */
export function newestKernel(releases: readonly string[], packaging: Packaging): string | null {
  let best: string | null = null;
  for (const r of releases) {
    if (best === null || compareKernelReleases(r, best, packaging) > 0) best = r;
  }
  return best;
}

/**
 * The flavour of a kernel release, so that a host with several flavours installed compares like
 * with like: Debian/Ubuntu `6.1.0-26-amd64` → `amd64`, `6.1.0-26-rt-amd64` → `rt-amd64`,
 * `6.8.0-45-generic` → `generic`, `6.10.6+bpo-amd64` → `amd64` (the hyphen-separated parts from the
 * first one that starts with a letter). RPM: `…el9_4.x86_64+debug` → `+debug`, `…el7.x86_64.debug` →
 * `.debug`, SUSE `5.14.21-150500.55.39-default` → `default`, otherwise `` (the default flavour).
 */
export function kernelFlavour(release: string, packaging: Packaging): string {
  if (packaging === 'deb') {
    const parts = release.split('-');
    const at = parts.findIndex((p, i) => i > 0 && /^[A-Za-z]/.test(p));
    return at === -1 ? '' : parts.slice(at).join('-');
  }
  const plus = /\+[A-Za-z][A-Za-z0-9_]*$/.exec(release);
  if (plus) return plus[0];
  if (release.endsWith('.debug')) return '.debug';
  const suse = /-([A-Za-z][A-Za-z0-9_]*)$/.exec(release);
  return suse?.[1] ?? '';
}
