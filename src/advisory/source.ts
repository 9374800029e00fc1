// Source package names (e.g. `openssl`) stand for their binary packages (`libssl3`, `openssl`):
// dpkg's status file has a `Source:` field (absent when it equals the package name; it may carry
// a version, `openssl (3.0.11-1)`), rpm's SOURCERPM names the source rpm file.

/**
 * For each name asked for, the installed binary packages it covers: itself when it is a binary
 * package, plus every package whose source it is. Reads the status text once.
 */
export function dpkgBinariesOf(
  statusText: string,
  names: readonly string[],
): Map<string, string[]> {
  const wanted = new Set(names);
  const out = new Map<string, Set<string>>(names.map((n) => [n, new Set<string>()]));
  let pkg: string | null = null;
  let source: string | null = null;
  const flush = () => {
    if (pkg !== null) {
      const src = source ?? pkg;
      if (wanted.has(pkg)) out.get(pkg)?.add(pkg);
      if (wanted.has(src)) out.get(src)?.add(pkg);
    }
    pkg = null;
    source = null;
  };
  for (const line of statusText.split('\n')) {
    if (line.trim() === '') flush();
    else if (line.startsWith('Package:')) pkg = line.slice(8).trim();
    else if (line.startsWith('Source:'))
      source = (line.slice(7).trim().split(' ')[0] ?? '') || null;
  }
  flush();
  return new Map([...out].map(([k, v]) => [k, [...v].sort()]));
}

/** The source package name of a SOURCERPM value (`openssl-3.0.7-27.el9.src.rpm` → `openssl`). */
export function rpmSourceName(sourceRpm: string): string | null {
  const m = /^(.+)-[^-]+-[^-]+\.(?:no)?src\.rpm$/.exec(sourceRpm.trim());
  return m ? (m[1] as string) : null;
}

/**
 * Same as dpkgBinariesOf for rpm, from `rpm -qa --qf '%{NAME}\t%{SOURCERPM}\n'` output (the
 * caller runs rpm through execFile; this only reads its answer).
 */
export function rpmBinariesOf(qaOutput: string, names: readonly string[]): Map<string, string[]> {
  const wanted = new Set(names);
  const out = new Map<string, Set<string>>(names.map((n) => [n, new Set<string>()]));
  for (const line of qaOutput.split('\n')) {
    const [name, srpm] = line.split('\t');
    if (!name) continue;
    const src = srpm === undefined ? null : rpmSourceName(srpm);
    if (wanted.has(name)) out.get(name)?.add(name);
    if (src !== null && wanted.has(src)) out.get(src)?.add(name);
  }
  return new Map([...out].map(([k, v]) => [k, [...v].sort()]));
}
