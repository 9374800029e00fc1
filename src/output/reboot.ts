// The human text of `reboot-required`: the verdict, each reason, the notes, the sentinel written.
import { rebootUnknown } from '../exit.ts';
import { describeReason, type RebootReport } from '../reboot/reboot.ts';
import { printable } from './style.ts';

export function formatRebootText(r: RebootReport): string {
  const unknown = r.unknown ?? [];
  const lines = r.required
    ? ['Reboot required:', ...r.reasons.map((x) => `  - ${printable(describeReason(x))}`)]
    : rebootUnknown(r)
      ? [
          'Unknown whether a reboot is required: evidence could not be read:',
          ...unknown.map((x) => `  - ${printable(x)}`),
        ]
      : ['No reboot required.'];
  // With a reason found, what could not be read does not change the verdict: a note.
  if (r.required) for (const u of unknown) lines.push(`  note: not checked: ${printable(u)}`);
  for (const n of r.notes) lines.push(`  note: ${printable(n)}`);
  if (r.sentinelFile)
    lines.push(
      printable(`Wrote ${r.sentinelFile} (${r.sentinelWritten?.join(', ') || 'no new packages'}).`),
    );
  return `${lines.join('\n')}\n`;
}
