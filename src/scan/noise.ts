// Deleted mappings that are not outdated package files (each rule learnt from a real false alarm;
// see docs/noise.md). A rule can be switched off by id.

import { userRegExp } from '../match/regexp.ts';

export interface NoiseRule {
  id: string;
  description: string;
  matches(path: string): boolean;
}

const under =
  (...dirs: string[]) =>
  (p: string) =>
    dirs.some((d) => p.startsWith(d));
const basename = (p: string) => p.slice(p.lastIndexOf('/') + 1);

export const NOISE_RULES: readonly NoiseRule[] = [
  {
    id: 'memfd',
    description: 'memfd_create() memory (JIT compilers, GL drivers, systemd)',
    matches: (p) => p.startsWith('/memfd:'),
  },
  {
    id: 'sysv-shm',
    description: 'SysV shared memory segment',
    matches: (p) => /^\/SYSV[0-9a-fA-F]{8}$/.test(p),
  },
  {
    id: 'anon-hugepage',
    description: 'anonymous huge pages',
    matches: (p) => p === '/anon_hugepage',
  },
  { id: 'drm', description: 'GPU buffer objects', matches: (p) => p.startsWith('/drm') },
  { id: 'aio', description: 'kernel asynchronous I/O ring', matches: (p) => p === '/[aio]' },
  { id: 'dev-shm', description: 'POSIX shared memory in /dev/shm', matches: under('/dev/shm/') },
  { id: 'dev', description: 'device files (e.g. /dev/zero)', matches: under('/dev/') },
  { id: 'tmp', description: 'files under /tmp and /var/tmp', matches: under('/tmp/', '/var/tmp/') },
  { id: 'run', description: 'runtime files under /run', matches: under('/run/', '/var/run/') },
  {
    id: 'jna',
    description: 'JNA/JNI libraries unpacked to temporary files',
    matches: (p) => /^jna\d*.*\.tmp$/.test(basename(p)) || p.includes('/.cache/JNA/'),
  },
  {
    id: 'orcexec',
    description: 'GStreamer ORC generated code',
    matches: (p) => basename(p).startsWith('orcexec.'),
  },
  { id: 'plasmashell', description: "KDE plasmashell's /#NNN", matches: (p) => /^\/#\d+$/.test(p) },
];

export interface NoiseConfig {
  /** Rule ids switched off. */
  disabled?: readonly string[];
  /** Extra rules: regular expressions matched against the path (from configuration). */
  extra?: readonly string[];
}

/** A function returning the id of the first rule matching a path, or null. */
export type NoiseMatcher = (path: string) => string | null;

export function noiseMatcher(config: NoiseConfig = {}): NoiseMatcher {
  const off = new Set(config.disabled ?? []);
  const rules = NOISE_RULES.filter((r) => !off.has(r.id));
  const extra = (config.extra ?? []).map((src, i) => ({
    id: `config:${i + 1}`,
    re: userRegExp(src),
  }));
  // The same few paths recur in thousands of processes: decide each once.
  const seen = new Map<string, string | null>();
  return (path) => {
    let id = seen.get(path);
    if (id !== undefined) return id;
    id = null;
    for (const r of rules) {
      if (r.matches(path)) {
        id = r.id;
        break;
      }
    }
    if (id === null) for (const r of extra) if (r.re.test(path)) id = r.id;
    if (seen.size < 65_536) seen.set(path, id);
    return id;
  };
}

export function unknownRules(ids: readonly string[]): string[] {
  const known = new Set(NOISE_RULES.map((r) => r.id));
  return ids.filter((id) => !known.has(id));
}
