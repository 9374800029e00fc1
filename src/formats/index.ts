// Every document afterpatch writes or reads, by name: one valibot schema each, the TypeScript
// types inferred from them, and the published ones as JSON Schema files (docs/NAME.schema.json,
// written by scripts/json-schemas.mjs from these same schemas).
import { ConfigDocumentSchema } from './config.ts';
import { FleetDocumentSchema } from './fleet.ts';
import { HealthDocumentSchema } from './health.ts';
import { HostObjectSchema } from './host.ts';
import { RebootDocumentSchema } from './reboot.ts';
import { RestartDocumentSchema } from './restart.ts';
import { ScanDocumentSchema, SlimScanSchema } from './scan.ts';
import { RestartStateSchema } from './state.ts';

/** File name (docs/NAME.schema.json), title and schema of each document. */
export const DOCUMENTS = {
  scan: { title: 'afterpatch scan --json', schema: ScanDocumentSchema },
  restart: { title: 'afterpatch restart --json', schema: RestartDocumentSchema },
  reboot: { title: 'afterpatch reboot-required --json', schema: RebootDocumentSchema },
  health: { title: 'afterpatch check --json (the health snapshot)', schema: HealthDocumentSchema },
  config: { title: 'afterpatch config --json', schema: ConfigDocumentSchema },
  fleet: { title: 'afterpatch report --json', schema: FleetDocumentSchema },
  host: {
    title: 'the Ansible module afterpatch: the combined per-host object',
    schema: HostObjectSchema,
  },
  'slim-scan': {
    title: 'the scan in the combined per-host object (Ansible module)',
    schema: SlimScanSchema,
  },
  state: {
    title: 'the restart state, /var/lib/afterpatch/state.json',
    schema: RestartStateSchema,
  },
} as const;

export type DocumentName = keyof typeof DOCUMENTS;

export type {
  AdvisoryVerdictDoc,
  ContainerVersionDoc,
  ProcessVersionDoc,
  Verdict,
} from './advisory.ts';
export type { ConfigDocument } from './config.ts';
export type {
  FleetAdvisory,
  FleetCount,
  FleetDocument,
  FleetHost,
  FleetView,
  HostAdvisory,
} from './fleet.ts';
export type { HealthDocument } from './health.ts';
export type { HostObject } from './host.ts';
export type { RebootDocument, RebootReasonDoc } from './reboot.ts';
export type { Outcome, RestartDocument, UnitResultDoc } from './restart.ts';
export type { ScanDocument, ScanEntry, ScanProcess, SlimScan } from './scan.ts';
export type { RestartState, UnitRecord } from './state.ts';
export {
  ConfigDocumentSchema,
  FleetDocumentSchema,
  HealthDocumentSchema,
  HostObjectSchema,
  RebootDocumentSchema,
  RestartDocumentSchema,
  RestartStateSchema,
  ScanDocumentSchema,
  SlimScanSchema,
};
