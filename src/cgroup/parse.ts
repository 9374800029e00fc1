// Reading /proc/PID/cgroup: pick the one hierarchy systemd tracks its units on.
// See docs/cgroup-attribution.md for the rules and the reasons behind them.

const DELETED_SUFFIX = ' (deleted)';

/** One line of /proc/PID/cgroup: `hierarchy-id:controller,list:/path`. */
export interface CgroupLine {
  hierarchy: string;
  controllers: string[];
  path: string;
}

/** Splits one line; null when it does not have the three colon-separated fields and an absolute path. */
export function parseCgroupLine(line: string): CgroupLine | null {
  const first = line.indexOf(':');
  if (first <= 0) return null;
  const second = line.indexOf(':', first + 1);
  if (second === -1) return null;
  const hierarchy = line.slice(0, first);
  if (!/^\d+$/.test(hierarchy)) return null;
  // The path is everything after the second colon: cgroup names may themselves contain colons.
  const path = stripDeleted(line.slice(second + 1));
  if (!path.startsWith('/')) return null;
  const list = line.slice(first + 1, second);
  return { hierarchy, controllers: list === '' ? [] : list.split(','), path };
}

/** The kernel appends " (deleted)" when the cgroup directory was removed while the process was in it. */
export function stripDeleted(path: string): string {
  return path.endsWith(DELETED_SUFFIX) ? path.slice(0, -DELETED_SUFFIX.length) : path;
}

/** The unified (v2) hierarchy is the line with id 0 and an empty controller list. */
function isUnified(line: CgroupLine): boolean {
  return line.hierarchy === '0' && line.controllers.length === 0;
}

function isNamedSystemd(line: CgroupLine): boolean {
  return line.controllers.includes('name=systemd');
}

export function parseCgroupFile(text: string): string | null {
  let unified: string | null = null;
  let named: string | null = null;
  for (const raw of text.split('\n')) {
    const line = parseCgroupLine(raw);
    if (line === null) continue;
    if (unified === null && isUnified(line)) unified = line.path;
    else if (named === null && isNamedSystemd(line)) named = line.path;
  }
  if (unified !== null && (unified !== '/' || named === null)) return unified;
  // A v1-tracking host still prints "0::/" on kernels with cgroup2 support; the real path is then on name=systemd.
  return named ?? unified;
}
