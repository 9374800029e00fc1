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
  /**
   * Present only for interpreted code (docs/interpreted.md): a source, bytecode or archive file
   * of a Python/Perl/Ruby/Node.js/Java program that changed after the process started. `kind` is
   * then `code`, and `inode`/`device` are those of the file on disk now (or of the file the
   * process holds open), not of a mapping.
   */
  interpreted?: InterpretedEvidence;
}

/**
 * For each entry key and path, the strongest interpreted evidence any of its processes has
 * (`loaded` beats `package`): what the entry-level outputs show, since groups list paths only.
 * A path some process of the entry maps (exact evidence, no `interpreted`) gets no mark.
 */
export function interpretedByEntry(
  processes: readonly StaleProcess[],
  keyOf: (p: StaleProcess) => string,
): Map<string, Map<string, InterpretedEvidence>> {
  const out = new Map<string, Map<string, InterpretedEvidence>>();
  // Indexed: once per stale process while the code is still cold (for…of costs ~3 times as much).
  for (let i = 0; i < processes.length; i++) {
    const p = processes[i] as StaleProcess;
    if (!p.files.some((f) => f.interpreted)) continue;
    const key = keyOf(p);
    for (const f of p.files) {
      if (!f.interpreted) continue;
      let paths = out.get(key);
      if (!paths) {
        paths = new Map();
        out.set(key, paths);
      }
      const prev = paths.get(f.path);
      if (!prev || (prev.confidence === 'package' && f.interpreted.confidence === 'loaded'))
        paths.set(f.path, f.interpreted);
    }
  }
  // Almost always nothing is interpreted: no second pass (10,000 stale processes made 20,000
  // keys here for nothing).
  if (out.size === 0) return out;
  for (const p of processes) {
    const paths = out.get(keyOf(p));
    if (paths) for (const f of p.files) if (!f.interpreted) paths.delete(f.path);
  }
  return out;
}

export type InterpreterName = 'python' | 'perl' | 'ruby' | 'node' | 'java';

export interface InterpretedEvidence {
  interpreter: InterpreterName;
  /**
   * `loaded`: the process certainly read this file (its script or jar, or a file it holds open)
   * and the file changed after the process started. `package`: a code file of a package the
   * program belongs to changed after the start; the process probably, not certainly, uses it.
   */
  confidence: 'loaded' | 'package';
  /** `script` (the program file named in argv), `open-file` (held open), `module` (`python -m`'s
   *  packaged file), `package-file` (another file of the program's package). */
  reason: 'script' | 'open-file' | 'module' | 'package-file';
  /** When the file changed (its ctime; for a deleted open file, the deletion), ISO 8601 UTC. */
  changedAt: string;
  /** When the process started (from /proc/PID/stat), ISO 8601 UTC. */
  startedAt: string;
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
  | { type: 'vm'; hypervisor: Hypervisor; name: string; cgroup: string | null }
  | { type: 'unmanaged'; cgroup: string | null };

export type OwnerType = Owner['type'];

/**
 * Who runs a virtual machine guest (a qemu process): `libvirt` (machined's scope
 * `machine-qemu-N-NAME.scope`), `machined` (another machine scope whose process is qemu), `qemu`
 * (a qemu process anywhere else). The guest's name is libvirt's domain name when qemu was given
 * `-name guest=NAME`.
 */
export type Hypervisor = 'libvirt' | 'machined' | 'qemu';

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
  /** Deleted mappings not examined (more distinct deleted files than kept per process). */
  omittedMappings?: number;
}
