// Advisories: which package versions fix a vulnerability (docs/advisories.md). Two sources:
// `--fixed PACKAGE=VERSION` on the command line and an advisory file (TOML or JSON) that a fleet
// distributes. Both become the same typed Advisory; bad input is one line naming file:line.
import { parse as parseToml, TomlError } from 'smol-toml';
import * as v from 'valibot';
import { UserError } from '../errors.ts';

/** The family key that applies to every distribution (what `--fixed` gives). */
export const ANY_FAMILY = 'any';

const MAX_ADVISORIES = 256;
const MAX_PACKAGES = 256;

const advisoryId = v.pipe(
  v.string(),
  v.maxLength(64, 'is longer than 64 characters'),
  // CVE-2024-5535, DSA-5710-1, USN-6900-1, RHSA-2024:1234, GHSA-xxxx-xxxx-xxxx
  v.regex(
    /^[A-Za-z][A-Za-z0-9]*-[A-Za-z0-9][A-Za-z0-9:._-]*$/,
    'is not an advisory id (e.g. CVE-2024-5535, DSA-5710-1)',
  ),
);
const packageName = v.pipe(
  v.string(),
  v.maxLength(128, 'is longer than 128 characters'),
  // dpkg names (lower case, + . -) and rpm names (also upper case and _); an optional :arch.
  v.regex(/^[A-Za-z0-9_][A-Za-z0-9_+.-]*(?::[a-z0-9_-]+)?$/, 'is not a package name'),
);
const version = v.pipe(
  v.string(),
  v.maxLength(128, 'is longer than 128 characters'),
  v.regex(/^[0-9][A-Za-z0-9.+~^:_-]*$/, 'is not a package version (it starts with a digit)'),
);
const family = v.pipe(
  v.string(),
  v.regex(
    /^[a-z][a-z0-9_-]{0,31}$/,
    'is not a distribution family (e.g. debian, ubuntu, rhel, any)',
  ),
);

const PackageSchema = v.strictObject({
  /** A binary package, or a source package (covers its binary packages). */
  name: packageName,
  /** Fixed version per distribution family (os-release ID or ID_LIKE), or `any`. */
  fixed: v.pipe(
    v.record(family, version),
    v.check((r) => Object.keys(r).length > 0, 'names no fixed version'),
  ),
});

const AdvisorySchema = v.strictObject({
  id: advisoryId,
  title: v.optional(v.pipe(v.string(), v.maxLength(200))),
  packages: v.pipe(
    v.array(PackageSchema),
    v.minLength(1, 'names no package'),
    v.maxLength(MAX_PACKAGES, `names more than ${MAX_PACKAGES} packages`),
  ),
});

/** A file holds one advisory, or several under `advisories`. */
const FileSchema = v.union([
  AdvisorySchema,
  v.strictObject({
    advisories: v.pipe(
      v.array(AdvisorySchema),
      v.minLength(1, 'is empty'),
      v.maxLength(MAX_ADVISORIES, `holds more than ${MAX_ADVISORIES} advisories`),
    ),
  }),
]);

export type AdvisoryPackage = v.InferOutput<typeof PackageSchema>;
export type Advisory = v.InferOutput<typeof AdvisorySchema>;

/** `--fixed PACKAGE=VERSION`; a one-line error when it is not. */
export function parseFixedOption(arg: string): AdvisoryPackage {
  const eq = arg.indexOf('=');
  const name = eq === -1 ? '' : arg.slice(0, eq);
  const ver = eq === -1 ? '' : arg.slice(eq + 1);
  const n = v.safeParse(packageName, name);
  const r = v.safeParse(version, ver);
  if (eq === -1 || !n.success || !r.success) {
    const why =
      eq === -1
        ? 'expected PACKAGE=VERSION'
        : !n.success
          ? `package ${n.issues[0].message}`
          : `version ${r.issues?.[0].message ?? 'is not valid'}`;
    throw new UserError(
      `--fixed ${JSON.stringify(arg)}: ${why} (e.g. --fixed openssl=3.0.13-1~deb12u1).`,
    );
  }
  return { name, fixed: { [ANY_FAMILY]: ver } };
}

/** The advisory the `--fixed` options make together (one id for the command line). */
export function advisoryFromFixed(packages: readonly AdvisoryPackage[]): Advisory {
  return { id: 'CLI-fixed', packages: [...packages] };
}

/** Parses an advisory file; TOML unless the name ends in `.json` (or the text starts with `{`). */
export function parseAdvisoryFile(text: string, path: string): Advisory[] {
  const json = path.endsWith('.json') || text.trimStart().startsWith('{');
  let data: unknown;
  try {
    data = json ? JSON.parse(text) : parseToml(text);
  } catch (e) {
    const line = e instanceof TomlError ? e.line : jsonErrorLine(text, e);
    // V8's JSON message quotes the file's text: never echoed (the file may not be the caller's).
    const first =
      e instanceof TomlError ? (e.message.split('\n')[0] ?? 'syntax error') : 'not a JSON document';
    throw new UserError(
      `${path}${line === null ? '' : `:${line}`}: invalid ${json ? 'JSON' : 'TOML'}: ${first}; fix the advisory file.`,
    );
  }
  const result = v.safeParse(FileSchema, data);
  if (result.success)
    return 'advisories' in result.output ? result.output.advisories : [result.output];
  // The union reports its own issue: the branch-specific one is the more useful message.
  const issue = deepestIssue(result.issues);
  const keyPath = (issue.path ?? []).map((p) => String(p.key));
  const line = json ? null : tomlLineOf(text, keyPath);
  const key =
    keyPath.reduce((k, p) => (/^\d+$/.test(p) ? `${k}[${p}]` : k ? `${k}.${p}` : p), '') ||
    '(top level)';
  const message =
    issue.type === 'strict_object' && issue.expected === 'never' ? 'unknown key' : issue.message;
  throw new UserError(
    `${path}${line === null ? '' : `:${line}`}: ${key}: ${message}; fix the advisory file.`,
  );
}

type Issue = v.BaseIssue<unknown>;

function deepestIssue(issues: readonly [Issue, ...Issue[]]): Issue {
  let best: Issue = issues[0];
  const visit = (list: readonly Issue[] | undefined) => {
    for (const i of list ?? []) {
      if ((i.path?.length ?? 0) > (best.path?.length ?? 0)) best = i;
      visit(i.issues);
    }
  };
  visit(issues);
  return best;
}

/** The 1-based line of a JSON syntax error, from the position V8 names; null when it names none. */
function jsonErrorLine(text: string, e: unknown): number | null {
  const m = /position (\d+)/.exec((e as Error).message);
  if (!m) return null;
  return text.slice(0, Number(m[1])).split('\n').length;
}

/**
 * The line of a key path in a TOML advisory file (`packages.2.fixed.debian`): the n-th
 * `[[packages]]` header, then the key below it. Null when unsure.
 */
export function tomlLineOf(text: string, keyPath: readonly string[]): number | null {
  const lines = text.split('\n');
  let from = 0;
  let found: number | null = null;
  for (let k = 0; k < keyPath.length; k++) {
    const seg = keyPath[k] as string;
    const next = keyPath[k + 1];
    if (/^\d+$/.test(seg)) continue;
    const header = new RegExp(
      `^\\s*\\[\\[?\\s*(?:[\\w.-]+\\.)?${seg.replace(/[^\w-]/g, '')}\\s*\\]\\]?`,
    );
    const assign = new RegExp(`^\\s*"?${seg.replace(/[^\w-]/g, '')}"?\\s*=`);
    let skip = next !== undefined && /^\d+$/.test(next) ? Number(next) : 0;
    let at: number | null = null;
    for (let i = from; i < lines.length; i++) {
      const line = lines[i] ?? '';
      if (header.test(line) || assign.test(line)) {
        if (skip-- > 0) continue;
        at = i;
        break;
      }
    }
    if (at === null) return found;
    found = at + 1;
    from = at + 1;
  }
  return found;
}

/** The fixed version of a package for a host's distribution (os-release ID, then ID_LIKE). */
export function fixedVersionFor(pkg: AdvisoryPackage, families: readonly string[]): string | null {
  for (const f of [...families, ANY_FAMILY]) {
    const ver = pkg.fixed[f];
    if (ver !== undefined) return ver;
  }
  return null;
}

/** os-release's ID and ID_LIKE, in the order they decide: the host's own ID first. */
export function familiesFromOsRelease(text: string): string[] {
  const get = (key: string) => {
    const m = new RegExp(`^${key}=(.*)$`, 'm').exec(text);
    return (m?.[1] ?? '').trim().replace(/^["']|["']$/g, '');
  };
  return [get('ID'), ...get('ID_LIKE').split(/\s+/)].filter((x) => /^[a-z][a-z0-9_-]*$/.test(x));
}
