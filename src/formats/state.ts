// The restart state, /var/lib/afterpatch/state.json (src/restart/state.ts reads and writes it):
// per unit the last action, its outcome and the stale files that motivated it.
import * as v from 'valibot';
import { OUTCOMES, RESTART_ACTIONS } from './restart.ts';

export const UnitRecordSchema = v.strictObject({
  time: v.pipe(v.string(), v.isoTimestamp()),
  action: v.picklist(RESTART_ACTIONS),
  outcome: v.picklist(OUTCOMES),
  /** Identity of the stale files that motivated the action: "inode:path". */
  files: v.array(v.string()),
});

export const RestartStateSchema = v.strictObject({
  version: v.literal(1),
  units: v.record(v.string(), UnitRecordSchema),
});

export type UnitRecord = v.InferOutput<typeof UnitRecordSchema>;
export type RestartState = v.InferOutput<typeof RestartStateSchema>;
