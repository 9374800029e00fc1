// The combined per-host object the Ansible modules return (integrations/ansible/library/:
// afterpatch.py, afterpatch_node; docs/fleet.md): the module's verdict, the slim scan, the restart
// and the reboot-required result.
import * as v from 'valibot';
import { IsoTime } from './common.ts';
import { RebootDocumentSchema } from './reboot.ts';
import { RestartCoreSchema } from './restart.ts';
import { SlimScanSchema } from './scan.ts';

export const HostObjectSchema = v.object({
  host: v.string(),
  state: v.optional(v.picklist(['scanned', 'restarted'])),
  check_mode: v.optional(v.boolean()),
  afterpatch_version: v.optional(v.string()),
  changed: v.boolean(),
  failed: v.boolean(),
  msg: v.string(),
  /** Ansible shows it with -vvv: the trace of a failure nobody planned for. */
  exception: v.optional(v.string()),
  /** The arguments as the Python module (AnsibleModule) received them. */
  invocation: v.optional(v.object({ module_args: v.record(v.string(), v.unknown()) })),
  time: v.optional(IsoTime),
  needs_restart: v.optional(v.boolean()),
  needs_reboot: v.optional(v.boolean()),
  scan: v.optional(SlimScanSchema),
  /** With state=restarted: the restart (or its plan in check mode), minus the excluded units. */
  restart: v.optional(
    v.nullable(
      v.object({ ...RestartCoreSchema.entries, excluded: v.array(v.nullable(v.string())) }),
    ),
  ),
  reboot: v.optional(RebootDocumentSchema),
  /** The module's health_command, run after a restart that did not fail (module only). */
  health: v.optional(
    v.object({
      argv: v.array(v.string()),
      /** null: it could not be started (stderr says why). */
      rc: v.nullable(v.number()),
      attempts: v.number(),
      stdout: v.string(),
      stderr: v.string(),
    }),
  ),
});

export type HostObject = v.InferOutput<typeof HostObjectSchema>;
