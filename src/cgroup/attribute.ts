// From a cgroup path to the systemd unit (or session, user manager, container) that owns the process,
// following the rules systemd itself applies; see docs/cgroup-attribution.md.
import type { Owner } from '../scan/model.ts';
import { containerFromCgroup } from './container.ts';

const INIT_SCOPE = 'init.scope';
/** systemd's limit is 256 bytes including the terminating NUL. */
const UNIT_NAME_MAX = 255;
const UNIT_TYPES = new Set([
  'service',
  'socket',
  'target',
  'device',
  'mount',
  'automount',
  'swap',
  'timer',
  'path',
  'slice',
  'scope',
]);
/** Characters allowed in a unit name before its type suffix; "@" separates template and instance. */
const UNIT_CHARS = /^[A-Za-z0-9:_.\\@-]+$/;
const SESSION_SCOPE = /^session-([A-Za-z0-9]+)\.scope$/;
const USER_MANAGER = /^user@([0-9]+)\.service$/;
const USER_SLICE = /^user-([0-9]+)\.slice$/;

export function rootPrefixFromInit(pid1Path: string | null): string {
  const suffix = `/${INIT_SCOPE}`;
  if (pid1Path === null || !pid1Path.endsWith(suffix)) return '';
  return pid1Path.slice(0, -suffix.length);
}

export function unescapeCgroupComponent(component: string): string {
  // systemd prefixes "_" to any name that starts with "_" or "." or could clash with a kernel file
  // (cgroup.*, <controller>.*), so every name it wrote that starts with "_" carries exactly one added "_".
  return component.startsWith('_') ? component.slice(1) : component;
}

/** A plain (`foo.service`) or instance (`foo@bar.service`) unit name; templates (`foo@.service`) are not. */
export function isValidUnitName(name: string): boolean {
  if (name.length === 0 || name.length > UNIT_NAME_MAX) return false;
  const dot = name.lastIndexOf('.');
  if (dot <= 0 || !UNIT_TYPES.has(name.slice(dot + 1))) return false;
  const stem = name.slice(0, dot);
  if (!UNIT_CHARS.test(stem)) return false;
  const at = stem.indexOf('@');
  // "@" may not start the name, and an instance must not be empty.
  return at === -1 || (at > 0 && at < stem.length - 1);
}

/** A slice in the leading run: a valid plain unit name ending in ".slice", after unescaping. */
function isSliceComponent(component: string): boolean {
  const name = unescapeCgroupComponent(component);
  return name.endsWith('.slice') && !name.includes('@') && isValidUnitName(name);
}

/** Index of the first component after the leading run of slices. */
function skipSlices(parts: readonly string[], from: number): number {
  let i = from;
  while (i < parts.length && isSliceComponent(parts[i] ?? '')) i++;
  return i;
}

/** Like systemd's parse_uid: decimal, no sign, and not one of the two "invalid uid" values. */
function parseUid(text: string): number | null {
  if (!/^(?:0|[1-9][0-9]{0,9})$/.test(text)) return null;
  const uid = Number(text);
  return uid >= 0xffffffff || uid === 0xffff ? null : uid;
}

/** The unit expected at `parts[i]`, or null when it is missing, invalid, or a slice that could not be skipped. */
function unitAt(parts: readonly string[], i: number): string | null {
  const raw = parts[i];
  if (raw === undefined) return null;
  const unit = unescapeCgroupComponent(raw);
  return isValidUnitName(unit) && !unit.endsWith('.slice') ? unit : null;
}

/** The path relative to the cgroup root systemd runs in; paths outside that root are left as they are. */
function shiftPath(path: string, rootPrefix: string): string {
  const root = rootPrefix.endsWith('/') ? rootPrefix.slice(0, -1) : rootPrefix;
  if (root === '') return path;
  if (path === root) return '/';
  return path.startsWith(`${root}/`) ? path.slice(root.length) : path;
}

function isOutsideNamespace(path: string): boolean {
  return path === '/..' || path.startsWith('/../');
}

function userManagerOwner(
  uid: number,
  manager: string,
  below: readonly string[],
  cgroup: string,
): Owner {
  if (below[0] === INIT_SCOPE) return { type: 'user-manager', uid, unit: manager };
  const i = skipSlices(below, 0);
  // Nothing but slices below the manager: the process can only be the manager's own.
  if (i === below.length) return { type: 'user-manager', uid, unit: manager };
  const unit = unitAt(below, i);
  if (unit === null) return { type: 'unmanaged', cgroup };
  return { type: 'user-unit', uid, unit, manager };
}

export function attributeCgroup(path: string | null, rootPrefix: string): Owner {
  if (path === null || path === '') return { type: 'unmanaged', cgroup: null };
  if (isOutsideNamespace(path)) return { type: 'unmanaged', cgroup: path };
  const shifted = shiftPath(path, rootPrefix);
  const parts = shifted.split('/').filter((p) => p !== '');
  if (parts.length === 0) return { type: 'unmanaged', cgroup: path };

  const container = containerFromCgroup(shifted);
  if (container !== null) return { type: 'container', ...container, cgroup: path };

  if (parts[0] === INIT_SCOPE) return { type: 'init' };

  const i = skipSlices(parts, 0);
  const unit = unitAt(parts, i);
  if (unit === null) return { type: 'unmanaged', cgroup: path };

  const manager = USER_MANAGER.exec(unit);
  const managerUid = manager?.[1] === undefined ? null : parseUid(manager[1]);
  if (managerUid !== null) return userManagerOwner(managerUid, unit, parts.slice(i + 1), path);

  const session = SESSION_SCOPE.exec(unit);
  if (session?.[1] !== undefined) {
    return { type: 'session', uid: ownerUid(parts[i - 1]), session: session[1], unit };
  }
  return { type: 'system-unit', unit };
}

/** A session's owner is named by the innermost slice of the leading run: `user-<uid>.slice`. */
function ownerUid(slice: string | undefined): number | null {
  const m = slice === undefined ? null : USER_SLICE.exec(unescapeCgroupComponent(slice));
  return m?.[1] === undefined ? null : parseUid(m[1]);
}
