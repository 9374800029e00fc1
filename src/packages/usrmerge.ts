// Merged /usr: /bin, /sbin and /lib* are symlinks into /usr, so one file has two names. The kernel
// prints the canonical name in maps, while a package database may have recorded the other one.

/** Top-level directories that merged /usr turns into symlinks to their /usr counterpart. */
const MERGED_DIRS: readonly string[] = ['bin', 'sbin', 'lib', 'lib32', 'lib64', 'libx32'];

/** The other name(s) of `path` under merged /usr (`/lib/x` ↔ `/usr/lib/x`); empty when it has none. */
export function usrMergeAliases(path: string): string[] {
  if (path.startsWith('/usr/')) {
    const rest = path.slice(4);
    return isMergedTopLevel(rest) ? [rest] : [];
  }
  return isMergedTopLevel(path) ? [`/usr${path}`] : [];
}

/** True for `/lib/...`, `/bin/...` etc. (a file below one of the merged directories). */
function isMergedTopLevel(path: string): boolean {
  const slash = path.indexOf('/', 1);
  if (slash === -1) return false;
  return MERGED_DIRS.includes(path.slice(1, slash));
}

/** `path` followed by its merged-/usr aliases: the names to try, in order of preference. */
export function candidatePaths(path: string): string[] {
  return [path, ...usrMergeAliases(path)];
}
