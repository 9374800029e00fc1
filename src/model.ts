// The data model shared by scanning, attribution, planning and every output format.

/** One mapping of a file that no longer matches what is on disk. */
export interface StaleFile {
  /** Path as the process sees it (relative to its own root), without the " (deleted)" suffix. */
  path: string;
  /** Path on the host's file system (differs for chrooted processes), or null when unknown. */
  hostPath: string | null;
  /** `code`: an executable mapping; `data`: a read-only/writable data mapping only. */
  kind: 'code' | 'data';
  /** Inode number of the mapped (old) file. */
  inode: number;
  /** Device as printed in maps, e.g. "fe:00". */
  device: string;
  /** Package that owns the path now, filled in after the scan. */
  package: PackageRef | null;
}

export interface PackageRef {
  name: string;
  version: string;
  manager: 'dpkg' | 'rpm';
}

/** A deleted mapping that a noise rule filtered out (shown with --all). */
export interface IgnoredFile {
  path: string;
  kind: 'code' | 'data';
  rule: string;
}

/** What a process belongs to, decided from its cgroup path by systemd's rules. */
export type Owner =
  | { type: 'system-unit'; unit: string }
  | { type: 'user-unit'; uid: number; unit: string; manager: string }
  | { type: 'user-manager'; uid: number; unit: string }
  | { type: 'session'; uid: number | null; session: string; unit: string }
  | { type: 'init' }
  | { type: 'container'; runtime: ContainerRuntime; id: string; cgroup: string | null }
  | { type: 'unmanaged'; cgroup: string | null };

export type OwnerType = Owner['type'];

export type ContainerRuntime =
  | 'docker'
  | 'podman'
  | 'containerd'
  | 'cri-o'
  | 'kubernetes'
  | 'lxc'
  | 'nspawn'
  | 'machine'
  | 'unknown';

export interface StaleProcess {
  pid: number;
  /** Parent PID, user ID, command name (`comm`, ≤ 15 characters) and argv: null when not read
   *  (details are read for every process up to a bound, then for a sample per group; docs/json.md). */
  ppid: number | null;
  uid: number | null;
  name: string | null;
  cmdline: string[] | null;
  /** The process's root directory as seen from the host, "/" unless chrooted. */
  root: string;
  /** True when the process lives in another PID namespace than the reference (PID 1). */
  foreignPidNs: boolean;
  cgroup: string | null;
  owner: Owner;
  files: StaleFile[];
  ignored: IgnoredFile[];
}
