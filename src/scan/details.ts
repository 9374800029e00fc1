// Display details (command name, user, parent, argv) for a bounded set of processes: on a host
// with thousands of stale processes they would cost more than the scan itself.
import type { ProcReader } from '../procfs/reader.ts';
import { isFailure } from '../procfs/reader.ts';
import { parseCmdline, parseStatus } from '../procfs/status.ts';

/** Every process gets details when there are at most this many... */
export const DETAIL_ALL_LIMIT = 256;
/** ...otherwise the first this many PIDs of each group. */
export const DETAIL_PER_GROUP = 32;

export interface ProcessDetails {
  name: string;
  uid: number;
  ppid: number;
  cmdline: string[] | null;
}

export function readDetails(reader: ProcReader, pid: number): ProcessDetails | null {
  const status = reader.read(`${pid}/status`);
  if (isFailure(status)) return null;
  const st = parseStatus(status);
  const cmdline = reader.read(`${pid}/cmdline`);
  return {
    name: st.name,
    uid: st.uid,
    ppid: st.ppid,
    cmdline: isFailure(cmdline) ? null : parseCmdline(cmdline),
  };
}

/** Which PIDs get details: all of them, or a sample per group when there are many. */
export function detailSelection(
  groups: readonly (readonly number[])[],
  total: number,
): Set<number> {
  const pick =
    total <= DETAIL_ALL_LIMIT ? groups : groups.map((pids) => pids.slice(0, DETAIL_PER_GROUP));
  return new Set(pick.flat());
}
