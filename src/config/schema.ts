// The shape of /etc/afterpatch/afterpatch.toml, validated with valibot (docs/configuration.md).
import * as v from 'valibot';
import { NOT_LINEAR, runsInLinearTime, syntaxError } from '../match/regexp.ts';
import { NOISE_RULES } from '../scan/noise.ts';

const regexSource = v.pipe(
  v.string('must be a string'),
  v.check((s) => syntaxError(s) === null, 'is not a valid regular expression'),
  v.check(runsInLinearTime, NOT_LINEAR),
);
const unitGlob = v.pipe(
  v.string('must be a string'),
  v.regex(/^[^\s/]+$/, 'is not a unit name or glob'),
);
const noiseRule = v.picklist(
  NOISE_RULES.map((r) => r.id),
  `is not a noise rule (${NOISE_RULES.map((r) => r.id).join(', ')})`,
);
const positiveInt = (max: number) =>
  v.pipe(
    v.number('must be a number'),
    v.integer('must be a whole number'),
    v.minValue(1, 'must be at least 1'),
    v.maxValue(max, `must be at most ${max}`),
  );

// Every message names what was expected, never the value read (docs/security-privileged.md).
const LIST = 'must be a list (["…"])';

/** Package-manager hooks (docs/running-unattended.md): what to do after packages changed. */
const hookMode = v.picklist(['list', 'restart', 'off'], 'must be "list", "restart" or "off"');

export const ConfigSchema = v.strictObject({
  scan: v.optional(
    v.strictObject({
      /** Regular expressions for deleted files that are never reported. */
      ignore_files: v.optional(v.array(regexSource, LIST), []),
      /** Regular expressions for process names (comm) that are never reported. */
      ignore_processes: v.optional(v.array(regexSource, LIST), []),
      /** Built-in noise rules to switch off. */
      include_noise: v.optional(v.array(noiseRule, LIST), []),
      /** Look for outdated interpreted code: Python, Perl, Ruby, Node.js, Java (docs/interpreted.md). */
      interpreted: v.optional(v.boolean('must be true or false'), true),
    }),
    {},
  ),
  restart: v.optional(
    v.strictObject({
      /** Units never restarted, on top of the built-in safe list. */
      never: v.optional(v.array(unitGlob, LIST), []),
      /** Units reloaded (systemctl reload) instead of restarted. */
      reload: v.optional(v.array(unitGlob, LIST), []),
      /** Allow-only mode: when not empty, nothing outside these globs is restarted. */
      only: v.optional(v.array(unitGlob, LIST), []),
      /** Units restarted at once: the window of jobs over the bus, or the size of a systemctl batch. */
      jobs: v.optional(positiveInt(1024), 64),
      /** Seconds to wait for one unit's restart. */
      timeout: v.optional(positiveInt(3600), 90),
    }),
    {},
  ),
  hooks: v.optional(
    v.strictObject({
      /** What the apt hook (DPkg::Post-Invoke) does after dpkg ran: list, restart or off. */
      apt: v.optional(hookMode, 'list'),
      /** What the dnf hook (the dnf plugin, dnf 5 actions) does after a transaction: same choices. */
      dnf: v.optional(hookMode, 'list'),
    }),
    {},
  ),
  reboot: v.optional(
    v.strictObject({
      /** A pending CPU microcode update is a reboot reason; false: shown, not counted (docs/reboot.md). */
      microcode: v.optional(v.boolean('must be true or false'), true),
      /** Active kernel live patches stand in for the kernel reasons (docs/reboot.md: know the risk). */
      trust_livepatch: v.optional(v.boolean('must be true or false'), false),
    }),
    {},
  ),
});

export type Config = v.InferOutput<typeof ConfigSchema>;
