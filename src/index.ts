// The library API: `import { scan } from 'afterpatch'`. The CLI is a thin layer over it.

export { attributeCgroup, rootPrefixFromInit } from './cgroup/attribute.ts';
export { parseCgroupFile } from './cgroup/parse.ts';
export { EXIT, scanExitCode } from './exit.ts';
export type {
  ContainerRuntime,
  IgnoredFile,
  Owner,
  OwnerType,
  PackageRef,
  StaleFile,
  StaleProcess,
} from './model.ts';
export { NOISE_RULES, type NoiseConfig, type NoiseRule } from './noise.ts';
export { SCAN_FORMAT_VERSION, scanToJson } from './output/json.ts';
export { type Mapping, parseMaps, parseMapsLine } from './procfs/maps.ts';
export type { SuggestedAction } from './report/action.ts';
export type { Group, GroupFile } from './report/group.ts';
export type { ScanFilters } from './scan/filters.ts';
export { type ScanOptions, type ScanReport, type ScanSummary, scan } from './scan/scan.ts';
export { VERSION } from './version.ts';
