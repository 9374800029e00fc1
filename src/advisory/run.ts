// The advisory assessment of one scan: host facts read once, then the pure assessment. Loaded
// only when advisories are given (the scan without them never pays for it).

import type { ForeignProcess } from '../scan/collect.ts';
import type { StaleProcess } from '../scan/model.ts';
import type { Advisory } from './advisory.ts';
import { type AdvisoryAssessment, assessAdvisories } from './assess.ts';
import { containersAmong, containerVersions, findContainers } from './container.ts';
import { procProcessIo } from './facts.ts';
import { readAdvisoryHost } from './host.ts';

export async function assessRun(
  advisories: readonly Advisory[],
  processes: readonly StaleProcess[],
  o: {
    manager: 'dpkg' | 'rpm' | null;
    root: string;
    procRoot: string;
    /** The processes to look for containers among (the scan's PIDs, narrowed by --pid). */
    pids?: readonly number[] | undefined;
    /** The processes of `pids` in another PID namespace than the host's, as the scan's threads
     *  found them (null: the host's namespace is unknown); undefined: looked up here. */
    foreign?: readonly ForeignProcess[] | null | undefined;
    /** The map_files name of a stale file's mapping, as the scan read it. */
    rangeOf?: (pid: number, file: { path: string; inode: number }) => string | null;
    /** Why the stale files' packages could not be looked up (null: they were). */
    ownersUnknown?: string | null | undefined;
  },
): Promise<AdvisoryAssessment> {
  const host = await readAdvisoryHost(advisories, o.manager, o.root, o.procRoot);
  const refs =
    o.foreign === undefined
      ? findContainers(o.procRoot, o.pids)
      : o.foreign === null
        ? []
        : containersAmong(o.procRoot, o.foreign);
  const containers = containerVersions(advisories, refs, o.procRoot);
  return assessAdvisories(
    advisories,
    host,
    processes,
    procProcessIo(o.procRoot, o.rangeOf),
    containers,
    o.ownersUnknown ?? null,
  );
}
