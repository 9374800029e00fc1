// The advisory parts of `scan --json` with --fixed/--advisory (docs/advisories.md, docs/json.md):
// the host's verdict per advisory, and what each process or entry runs of the fixed packages.
import * as v from 'valibot';
import { Count } from './common.ts';

/** Per advisory and host, worst first. */
export const VERDICTS = [
  'unpatched',
  'reboot-needed',
  'restart-needed',
  'image-vulnerable',
  'unknown',
  'clean',
] as const;
export const VerdictSchema = v.picklist(VERDICTS);

export const VulnerableSchema = v.pipe(
  v.union([v.boolean(), v.literal('unknown')]),
  v.description(
    'true: runs a version below a fix; "unknown": cannot be told; false: at or above every fix',
  ),
);

/** Why an advisory has its verdict on this host. */
export const VerdictReasonSchema = v.object({ verdict: VerdictSchema, why: v.string() });

export const AdvisoryVerdictSchema = v.object({
  id: v.pipe(v.string(), v.maxLength(64)),
  title: v.optional(v.string()),
  verdict: VerdictSchema,
  /** Every reason found, worst first. */
  reasons: v.array(VerdictReasonSchema),
  /** Per package of the advisory: the fix for this host and the installed binaries it covers. */
  packages: v.array(
    v.object({
      name: v.string(),
      fixed: v.nullable(v.string()),
      installed: v.array(v.object({ name: v.string(), version: v.string() })),
    }),
  ),
  /** Stale processes that run a version below the fix / one that cannot be told. */
  vulnerableProcesses: Count,
  unknownProcesses: Count,
});

/** Per container and advisory: the version its own package database ships. */
export const ContainerVersionSchema = v.object({
  advisory: v.string(),
  runtime: v.string(),
  id: v.string(),
  package: v.string(),
  /** Version in the container's database; null when it cannot be read. */
  version: v.nullable(v.string()),
  fixed: v.nullable(v.string()),
  vulnerable: VulnerableSchema,
  note: v.string(),
});

/** What one process runs of one advisory's package, and how that is known. */
export const ProcessVersionSchema = v.object({
  advisory: v.string(),
  package: v.string(),
  /** The first fixed version for this host's distribution; null when the advisory has none. */
  fixed: v.nullable(v.string()),
  runningVersion: v.nullable(v.string()),
  evidence: v.picklist(['installed', 'history', 'unknown']),
  /** The running version is the one installed at the process start: a lower bound. */
  lowerBound: v.optional(v.literal(true)),
  /** With `unknown`: older than this version (installed at `at`). */
  olderThan: v.optional(v.object({ version: v.string(), at: v.nullable(v.string()) })),
  vulnerable: VulnerableSchema,
  note: v.string(),
});

/** On each process and entry, with --fixed/--advisory. */
export const advisoryMarkFields = {
  vulnerable: v.optional(
    v.pipe(VulnerableSchema, v.description('with --fixed/--advisory (docs/advisories.md)')),
  ),
  versions: v.optional(v.array(ProcessVersionSchema)),
};

/** At the top of the scan document, with --fixed/--advisory. */
export const advisoryDocumentFields = {
  advisoryVerdict: v.optional(
    v.pipe(
      VerdictSchema,
      v.description('with --fixed/--advisory: the worst verdict over the advisories'),
    ),
  ),
  advisories: v.optional(v.array(AdvisoryVerdictSchema)),
  containerVersions: v.optional(v.array(ContainerVersionSchema)),
};

export type Verdict = v.InferOutput<typeof VerdictSchema>;
export type AdvisoryVerdictDoc = v.InferOutput<typeof AdvisoryVerdictSchema>;
export type ProcessVersionDoc = v.InferOutput<typeof ProcessVersionSchema>;
export type ContainerVersionDoc = v.InferOutput<typeof ContainerVersionSchema>;
