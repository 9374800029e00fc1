// Path options of a privileged run (docs/security-privileged.md). Run as root, afterpatch reads
// what --config, --state-dir, --proc-root and --root name with root's rights: a path another user
// controls could make it hang, exhaust memory or read what that user may not. So, as root, such a
// path is accepted only when nobody but root can change it; under sudo (or doas, pkexec) it must
// also be one the invoking user could read themselves, so the option reveals nothing either.
import { lstatSync, realpathSync, type Stats } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { InvalidArgumentError } from '@commander-js/extra-typings';
import { errnoCode } from '../errors.ts';

export interface PrivilegeContext {
  euid: number;
  env: NodeJS.ProcessEnv;
  lstat: (path: string) => Stats;
  realpath: (path: string) => string;
}

/** This process's rights; `env` is the run's environment (the CLI's io.env). */
const hostContext = (env: NodeJS.ProcessEnv): PrivilegeContext => ({
  euid: process.geteuid?.() ?? -1,
  env,
  lstat: (p) => lstatSync(p),
  realpath: (p) => realpathSync(p),
});

/** The user who delegated root to us through sudo, doas or pkexec; null for a direct root run. */
export function delegatingUser(env: NodeJS.ProcessEnv): string | null {
  for (const k of ['SUDO_UID', 'SUDO_USER', 'DOAS_USER', 'PKEXEC_UID']) {
    const v = env[k];
    if (v !== undefined && v !== '' && v !== '0' && v !== 'root') return `${k}=${v}`;
  }
  return null;
}

const GROUP_OR_OTHER_WRITE = 0o022;
const STICKY = 0o1000;

/**
 * The path to use for `value` given as `option` (its real path: what was checked is what is
 * read), or why it is refused. Only a root run is checked: any other user reads with their rights.
 * A path that does not exist yet (a state directory restart creates) is judged by the directory
 * it would appear in; whether it exists or is the right type is for the command to report.
 */
export function checkPrivilegedPath(
  option: string,
  value: string,
  ctx: PrivilegeContext = hostContext(process.env),
): { path: string } | { refused: string } {
  if (ctx.euid !== 0) return { path: value };
  const via = delegatingUser(ctx.env);
  const refuse = (why: string) => ({
    refused:
      via === null
        ? `${why}; as root, ${option} must name what only root can change (owned by root, not writable by group or others, in directories likewise; docs/security-privileged.md).`
        : // Under sudo one message for every reason: which paths exist is not for the caller to learn.
          `refused under sudo (${via}): ${option} must name what only root can change and everyone can read (docs/security-privileged.md).`,
  });
  // The real path of the nearest existing ancestor, then the missing rest.
  let real: string | null = null;
  let missing = '';
  for (let p = resolve(value); real === null; p = dirname(p)) {
    try {
      real = ctx.realpath(p);
    } catch (e) {
      const code = errnoCode(e);
      if (code !== 'ENOENT' || p === '/') return refuse(`cannot resolve it (${code ?? 'error'})`);
      missing = `/${basename(p)}${missing}`;
    }
  }
  for (let p = real, leaf = missing === ''; ; p = dirname(p), leaf = false) {
    let st: Stats;
    try {
      st = ctx.lstat(p);
    } catch (e) {
      return refuse(`cannot inspect ${p} (${errnoCode(e) ?? 'error'})`);
    }
    if (!leaf && !st.isDirectory()) return refuse(`${p} is not a directory`);
    if (st.uid !== 0) return refuse(`${p} is owned by uid ${st.uid}, not root`);
    // A sticky directory (/tmp) lets nobody else rename or remove root's entries in it.
    const writable = (st.mode & GROUP_OR_OTHER_WRITE) !== 0 && (leaf || !(st.mode & STICKY));
    if (writable) return refuse(`${p} is writable by group or others`);
    if (via !== null) {
      const need = !leaf ? 0o001 : st.isDirectory() ? 0o005 : 0o004;
      if ((st.mode & need) !== need) return refuse(`${p} is not open to everyone`);
    }
    if (p === '/') break;
  }
  return { path: real === '/' && missing !== '' ? missing : `${real}${missing}` };
}

/** A commander argument parser applying checkPrivilegedPath (a refusal is a usage error). */
export function privilegedPath(option: string, env: NodeJS.ProcessEnv): (value: string) => string {
  return (value) => {
    const r = checkPrivilegedPath(option, value, hostContext(env));
    if ('refused' in r) throw new InvalidArgumentError(r.refused);
    return r.path;
  };
}
