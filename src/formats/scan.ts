// `afterpatch scan --json` (format afterpatch-scan, docs/json.md), and the slim scan the Ansible
// modules carry in their combined per-host object (integrations/ansible/library/).
import * as v from 'valibot';
import { advisoryDocumentFields, advisoryMarkFields } from './advisory.ts';
import {
  Count,
  counts,
  envelope,
  Integer,
  IsoTime,
  KindSchema,
  PackageRefSchema,
  Pid,
} from './common.ts';
import { RebootDocumentSchema } from './reboot.ts';

export const InterpreterSchema = v.picklist(['python', 'perl', 'ruby', 'node', 'java']);
export const ConfidenceSchema = v.picklist(['loaded', 'package']);

/** Evidence of outdated interpreted code (docs/interpreted.md), on process files. */
export const InterpretedSchema = v.object({
  interpreter: InterpreterSchema,
  confidence: ConfidenceSchema,
  reason: v.picklist(['script', 'open-file', 'module', 'package-file']),
  changedAt: IsoTime,
  startedAt: IsoTime,
});

export const ContainerRuntimeSchema = v.picklist([
  'docker',
  'podman',
  'containerd',
  'cri-o',
  'kubernetes',
  'lxc',
  'nspawn',
  'machine',
  'unknown',
]);

// What a thing to restart is: the entry's `type` and its extra fields.
const SystemUnit = v.object({ type: v.literal('system-unit'), unit: v.string() });
const UserUnit = v.object({
  type: v.literal('user-unit'),
  uid: Integer,
  unit: v.string(),
  manager: v.string(),
});
const UserManager = v.object({ type: v.literal('user-manager'), uid: Integer, unit: v.string() });
const Session = v.object({
  type: v.literal('session'),
  uid: v.nullable(Integer),
  session: v.string(),
  unit: v.string(),
});
const Init = v.object({ type: v.literal('init') });
const Container = v.object({
  type: v.literal('container'),
  runtime: ContainerRuntimeSchema,
  id: v.string(),
  cgroup: v.nullable(v.string()),
});
/** A virtual machine guest: its qemu process (src/cgroup/vm.ts). */
const Vm = v.object({
  type: v.literal('vm'),
  hypervisor: v.picklist(['libvirt', 'machined', 'qemu']),
  name: v.string(),
  cgroup: v.nullable(v.string()),
});
const Unmanaged = v.object({ type: v.literal('unmanaged'), cgroup: v.nullable(v.string()) });

export const OwnerSchema = v.variant('type', [
  SystemUnit,
  UserUnit,
  UserManager,
  Session,
  Init,
  Container,
  Vm,
  Unmanaged,
]);
export const OWNER_TYPES = OwnerSchema.options.map((o) => o.entries.type.literal);

/** The exact command (an argument array, never a shell line) or advice for the operator. */
export const SuggestedActionSchema = v.union([
  v.object({
    kind: v.picklist(['restart', 'daemon-reexec', 'reexec-user-manager']),
    argv: v.pipe(v.array(v.string()), v.minLength(1)),
  }),
  v.object({ kind: v.picklist(['logout', 'container', 'vm', 'manual']), advice: v.string() }),
]);

export const EntryFileSchema = v.object({
  path: v.string(),
  kind: KindSchema,
  package: PackageRefSchema,
  /** Present only on findings of interpreted code: the strongest over the entry's processes. */
  interpreted: v.optional(
    v.object({ interpreter: InterpreterSchema, confidence: ConfidenceSchema }),
  ),
});

const entryFields = {
  key: v.string(),
  severity: KindSchema,
  pids: v.pipe(v.array(Pid), v.minLength(1)),
  names: v.array(v.string()),
  files: v.pipe(v.array(EntryFileSchema), v.minLength(1)),
  action: SuggestedActionSchema,
  ...advisoryMarkFields,
};

const entryOf = <E extends v.ObjectEntries>(owner: v.ObjectSchema<E, undefined>) =>
  v.object({ ...owner.entries, ...entryFields });

/** One thing to restart: its owner's fields, then what runs stale and what to do. */
export const ScanEntrySchema = v.variant('type', [
  entryOf(SystemUnit),
  entryOf(UserUnit),
  entryOf(UserManager),
  entryOf(Session),
  entryOf(Init),
  entryOf(Container),
  entryOf(Vm),
  entryOf(Unmanaged),
]);

export const ProcessFileSchema = v.object({
  path: v.string(),
  hostPath: v.nullable(v.string()),
  kind: KindSchema,
  inode: Pid,
  device: v.string(),
  package: PackageRefSchema,
  interpreted: v.optional(
    v.pipe(
      InterpretedSchema,
      v.description('present only on findings of interpreted code (docs/interpreted.md)'),
    ),
  ),
});

export const ScanProcessSchema = v.object({
  type: v.literal('process'),
  pid: Pid,
  ppid: v.nullable(Count),
  uid: v.nullable(Integer),
  name: v.nullable(v.string()),
  cmdline: v.nullable(v.array(v.string())),
  root: v.string(),
  foreignPidNs: v.boolean(),
  cgroup: v.nullable(v.string()),
  owner: v.pipe(v.string(), v.description('the key of the entry this process belongs to')),
  files: v.array(ProcessFileSchema),
  ignored: v.array(v.object({ path: v.string(), kind: KindSchema, rule: v.string() })),
  omittedMappings: v.optional(
    v.pipe(
      Integer,
      v.minValue(1),
      v.description(
        'deleted mappings not examined: the process maps more distinct deleted files than are kept per process (256)',
      ),
    ),
  ),
  ...advisoryMarkFields,
});

export const ScanSummarySchema = v.object({
  ...counts(
    'scanned',
    'unreadable',
    'processes',
    'units',
    'userUnits',
    'sessions',
    'containers',
    'vms',
    'dataOnly',
  ).entries,
  // Absent from documents of earlier versions (their `unreadable` were all denied).
  failed: v.optional(
    v.pipe(
      Count,
      v.description(
        'of unreadable, the processes whose maps failed to read for another reason than access (EMFILE, ELOOP, EIO, not a regular file): the scan is partial, as root too',
      ),
    ),
  ),
});

/** Documents before 0.1.0's last change lack it: readers then judge from asRoot and unreadable. */
const partialField = v.optional(
  v.pipe(
    v.boolean(),
    v.description(
      'true when processes could not be read for lack of root or CAP_SYS_PTRACE, or failed to read (summary.failed), or none was read: the scan is partial, nothing in it says "clean"',
    ),
  ),
);

/** The scan as `check --json`'s health snapshot embeds it (which has its own reboot verdict). */
export const ScanSnapshotSchema = v.object({
  ...envelope('afterpatch-scan'),
  hostname: v.string(),
  asRoot: v.boolean(),
  partial: partialField,
  time: IsoTime,
  durationMs: Count,
  packageManager: v.nullable(v.picklist(['dpkg', 'rpm'])),
  summary: ScanSummarySchema,
  readErrors: v.optional(
    v.pipe(
      v.array(v.string()),
      v.description(
        'why the summary\'s failed processes could not be read, distinct, at most 3 (e.g. "EMFILE: too many open files"); present only when some failed',
      ),
    ),
  ),
  entries: v.array(ScanEntrySchema),
  processes: v.array(ScanProcessSchema),
  warnings: v.array(v.string()),
  ...advisoryDocumentFields,
});

export const ScanDocumentSchema = v.object({
  ...ScanSnapshotSchema.entries,
  reboot: v.optional(
    v.pipe(
      RebootDocumentSchema,
      v.description(
        'with --reboot: the reboot-required --json document, the same verdict (filters do not narrow it)',
      ),
    ),
  ),
});

export type ScanDocument = v.InferOutput<typeof ScanDocumentSchema>;
export type ScanEntry = v.InferOutput<typeof ScanEntrySchema>;
export type ScanProcess = v.InferOutput<typeof ScanProcessSchema>;

/**
 * The scan as the Ansible module's combined per-host object carries it: the envelope, the summary
 * and slim entries (packages by name, the action's kind); no processes.
 */
export const SlimScanSchema = v.object({
  ...envelope('afterpatch-scan'),
  hostname: v.string(),
  time: IsoTime,
  asRoot: v.boolean(),
  partial: partialField,
  summary: ScanSummarySchema,
  entries: v.array(
    v.object({
      type: v.picklist(OWNER_TYPES),
      key: v.string(),
      unit: v.nullable(v.string()),
      severity: KindSchema,
      pids: v.array(Pid),
      names: v.array(v.string()),
      packages: v.array(v.string()),
      action: v.nullable(v.string()),
    }),
  ),
  warnings: v.array(v.string()),
  // With the module's `fixed:`: the verdicts, for the report's CVE table.
  advisoryVerdict: advisoryDocumentFields.advisoryVerdict,
  advisories: advisoryDocumentFields.advisories,
});

export type SlimScan = v.InferOutput<typeof SlimScanSchema>;
