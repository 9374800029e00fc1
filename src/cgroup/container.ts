// Recognising the cgroups container runtimes create, at any depth of a cgroup path.
// The outermost container wins: from the host, that is the thing to restart.
import type { ContainerRuntime } from '../scan/model.ts';

export interface ContainerMatch {
  runtime: ContainerRuntime;
  id: string;
}

/** Runtimes name their cgroups after the container id: lowercase hex, 64 digits (12 when abbreviated). */
const HEX_ID = /^[0-9a-f]{12,64}$/;
const FULL_HEX_ID = /^[0-9a-f]{64}$/;

/** `<prefix><id>.scope` units created through systemd's cgroup driver. */
const SCOPE_PREFIXES: readonly (readonly [string, ContainerRuntime])[] = [
  ['docker-', 'docker'],
  ['libpod-conmon-', 'podman'],
  ['libpod-', 'podman'],
  ['cri-containerd-', 'containerd'],
  ['crio-conmon-', 'cri-o'],
  ['crio-', 'cri-o'],
];

/** Decodes systemd's `\xNN` unit-name escapes, for machine names that are shown to people. */
export function unescapeUnitText(text: string): string {
  return text.replace(/\\x([0-9a-fA-F]{2})/g, (_, hex: string) =>
    String.fromCharCode(Number.parseInt(hex, 16)),
  );
}

function between(text: string, prefix: string, suffix: string): string | null {
  if (!text.startsWith(prefix) || !text.endsWith(suffix)) return null;
  const inner = text.slice(prefix.length, text.length - suffix.length);
  return inner === '' ? null : inner;
}

/** `docker-<id>.scope`, `libpod-<id>.scope`, …; podman's cgroupfs manager drops the `.scope`. */
function runtimeScope(component: string): ContainerMatch | null {
  for (const [prefix, runtime] of SCOPE_PREFIXES) {
    const id =
      between(component, prefix, '.scope') ??
      (runtime === 'podman' ? between(component, prefix, '') : null);
    if (id !== null && HEX_ID.test(id)) return { runtime, id };
  }
  return null;
}

/** The container part of a kubepods path: `cri-containerd-<id>.scope`, `crio-<id>.scope`, or a bare id. */
function podContainerId(component: string): string {
  const scoped = runtimeScope(component);
  return scoped === null ? component : scoped.id;
}

function isKubepods(component: string): boolean {
  // kubelet's cgroupfs driver uses "kubepods", its systemd driver "kubepods.slice" (kind: "kubelet-kubepods.slice").
  return component === 'kubepods' || /^(?:.+-)?kubepods\.slice$/.test(component);
}

/** The pod uid: `pod<uid>` (cgroupfs) or `…-pod<uid with _ for ->.slice` (systemd driver, where "-" means nesting). */
function podUid(component: string): string | null {
  const plain = /^pod([0-9a-f][0-9a-f-]*)$/.exec(component);
  if (plain?.[1] !== undefined) return plain[1];
  const sliced = /^(?:.+-)?pod([0-9a-f][0-9a-f_]*)\.slice$/.exec(component);
  return sliced?.[1] === undefined ? null : sliced[1].replaceAll('_', '-');
}

/** `/kubepods[.slice]/<qos…>/<pod>/<container>` → id `<pod uid>/<container id>` (or the pod uid alone). */
function kubepods(parts: readonly string[], at: number): ContainerMatch | null {
  if (!isKubepods(parts[at] ?? '')) return null;
  for (let i = at + 1; i < parts.length; i++) {
    const uid = podUid(parts[i] ?? '');
    if (uid === null) continue;
    const container = parts[i + 1];
    return {
      runtime: 'kubernetes',
      id: container === undefined ? uid : `${uid}/${podContainerId(container)}`,
    };
  }
  return null;
}

/** machined's `machine-<name>.scope` (nspawn or a VM: machined does not say which) and `systemd-nspawn@<name>.service`. */
function machine(component: string): ContainerMatch | null {
  const nspawn = between(component, 'systemd-nspawn@', '.service');
  if (nspawn !== null) return { runtime: 'nspawn', id: unescapeUnitText(nspawn) };
  const name = between(component, 'machine-', '.scope');
  return name === null ? null : { runtime: 'machine', id: unescapeUnitText(name) };
}

/** lxc ≥ 4 and LXD: `lxc.payload.<name>` / `lxc.monitor.<name>`; lxc 3: `lxc.payload/<name>`; older: `lxc/<name>`. */
function lxc(parts: readonly string[], at: number): ContainerMatch | null {
  const component = parts[at] ?? '';
  const name = between(component, 'lxc.payload.', '') ?? between(component, 'lxc.monitor.', '');
  if (name !== null) return { runtime: 'lxc', id: name };
  const next = parts[at + 1];
  if ((component === 'lxc' || component === 'lxc.payload') && next !== undefined) {
    return { runtime: 'lxc', id: next };
  }
  return null;
}

/** docker's cgroupfs driver: `/docker/<id>`. */
function dockerCgroupfs(parts: readonly string[], at: number): ContainerMatch | null {
  const next = parts[at + 1];
  return parts[at] === 'docker' && next !== undefined && HEX_ID.test(next)
    ? { runtime: 'docker', id: next }
    : null;
}

const UNIT_SUFFIX =
  /\.(?:service|scope|slice|socket|mount|swap|device|target|timer|path|automount)$/;
const CONTAINERD_NAMESPACE = /^[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*$/;

/** containerd without systemd: `/<namespace>/<64-hex id>`, only at the top, where nothing else could explain it. */
function containerdNamespace(parts: readonly string[]): ContainerMatch | null {
  const [ns, id] = parts;
  if (ns === undefined || id === undefined) return null;
  if (UNIT_SUFFIX.test(ns) || !CONTAINERD_NAMESPACE.test(ns) || !FULL_HEX_ID.test(id)) return null;
  return { runtime: 'containerd', id: `${ns}/${id}` };
}

function matchAt(parts: readonly string[], at: number): ContainerMatch | null {
  const component = parts[at] ?? '';
  return (
    kubepods(parts, at) ??
    runtimeScope(component) ??
    machine(component) ??
    lxc(parts, at) ??
    dockerCgroupfs(parts, at) ??
    (at === 0 ? containerdNamespace(parts) : null)
  );
}

export function containerFromCgroup(path: string): ContainerMatch | null {
  const parts = path.split('/').filter((p) => p !== '');
  for (let at = 0; at < parts.length; at++) {
    const found = matchAt(parts, at);
    if (found !== null) return found;
  }
  return null;
}
