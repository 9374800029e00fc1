// The human text of `reboot-required`: the verdict, each reason, the notes, the sentinel written.
import { describeReason, type RebootReport } from '../reboot/reboot.ts';
import { printable } from './style.ts';

export function formatRebootText(r: RebootReport): string {
  const lines = r.required
    ? ['Reboot required:', ...r.reasons.map((x) => `  - ${printable(describeReason(x))}`)]
    : ['No reboot required.'];
  for (const n of r.notes) lines.push(`  note: ${printable(n)}`);
  if (r.sentinelFile)
    lines.push(
      printable(`Wrote ${r.sentinelFile} (${r.sentinelWritten?.join(', ') || 'no new packages'}).`),
    );
  return `${lines.join('\n')}\n`;
}
