// The library API: `import { scan } from 'afterpatch'`. The CLI is a thin layer over it.

export { attributeCgroup, rootPrefixFromInit } from './cgroup/attribute.ts';
export { parseCgroupFile } from './cgroup/parse.ts';
export { defaultConfig, loadConfig, parseConfig } from './config/load.ts';
export type { Config } from './config/schema.ts';
export { EnvironmentError, errnoCode, UserError } from './errors.ts';
export {
  EXIT,
  errorExitFor,
  REBOOT_EXIT,
  RESTART_EXIT,
  rebootExitCode,
  restartExitCode,
  scanExitCode,
} from './exit.ts';
export { FleetInputError } from './fleet/merge.ts';
export {
  type ConfigDocument,
  ConfigDocumentSchema,
  DOCUMENTS,
  type DocumentName,
  type FleetCount,
  type FleetDocument,
  FleetDocumentSchema,
  type FleetHost,
  type FleetView,
  type HealthDocument,
  HealthDocumentSchema,
  type HostObject,
  HostObjectSchema,
  type Outcome,
  type RebootDocument,
  RebootDocumentSchema,
  type RebootReasonDoc,
  type RestartDocument,
  RestartDocumentSchema,
  type RestartState,
  RestartStateSchema,
  type ScanDocument,
  ScanDocumentSchema,
  type ScanEntry,
  type ScanProcess,
  type SlimScan,
  SlimScanSchema,
  type UnitRecord,
  type UnitResultDoc,
} from './formats/index.ts';
export type { SuggestedAction } from './grouping/action.ts';
export type { Group, GroupFile } from './grouping/group.ts';
export {
  bucketOf,
  CHECK_BUCKETS,
  type CheckBucket,
  isActing,
  OWNER_KINDS,
  type OwnerKind,
  type OwnerLabel,
  ownerKey,
  ownerLabel,
} from './grouping/owner.ts';
export { SCAN_FORMAT_VERSION, scanToJson } from './output/json.ts';
export { RESTART_FORMAT_VERSION, restartToJson } from './output/restart.ts';
export { type Mapping, parseMaps, parseMapsLine } from './procfs/maps.ts';
export type { RebootReason } from './reboot/detect.ts';
export { type RebootOptions, type RebootReport, rebootRequired } from './reboot/reboot.ts';
export type { UnitResult } from './restart/apply.ts';
export { type ActionLog, openActionLog, silentLog, stderrLog } from './restart/log.ts';
export type { PlanAction, PlanEntry } from './restart/plan.ts';
export {
  applyRestart,
  type PlannedRestart,
  planRestart,
  type RestartOptions,
  type RestartReport,
} from './restart/restart.ts';
export type { ScanFilters } from './scan/filters.ts';
export type {
  ContainerRuntime,
  Hypervisor,
  IgnoredFile,
  Owner,
  OwnerType,
  PackageRef,
  StaleFile,
  StaleProcess,
} from './scan/model.ts';
export { NOISE_RULES, type NoiseConfig, type NoiseRule } from './scan/noise.ts';
export { type ScanOptions, type ScanReport, type ScanSummary, scan } from './scan/scan.ts';
export { VERSION } from './version.ts';
