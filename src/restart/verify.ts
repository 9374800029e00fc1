// After an action: which processes of the unit still map stale files?

import { deletedMappings, isCode } from '../procfs/maps.ts';
import type { ProcReader } from '../procfs/reader.ts';
import { type NoiseConfig, noiseMatcher } from '../scan/noise.ts';

export interface StaleCheck {
  /** PIDs that still map a stale file, each with the files. */
  stale: { pid: number; files: string[] }[];
  /** PIDs whose maps could not be read (not gone: denied or a read error): no evidence either way. */
  unreadable: number[];
}

export function staleAmong(
  reader: ProcReader,
  pids: readonly number[],
  noise: NoiseConfig,
  includeData: boolean,
): StaleCheck {
  const isNoise = noiseMatcher(noise);
  const stale: StaleCheck['stale'] = [];
  const unreadable: number[] = [];
  for (const pid of pids) {
    const len = reader.readRaw(`${pid}/maps`);
    // 'gone': the process exited, so it keeps no old code. Denied, refused or any other read
    // error (EMFILE, EIO): no evidence either way.
    if (len !== 'gone' && typeof len !== 'number') unreadable.push(pid);
    if (typeof len !== 'number') continue;
    const files = new Set<string>();
    for (const m of deletedMappings(reader.buffer, len)) {
      if ((includeData || isCode(m)) && isNoise(m.path) === null) files.add(m.path);
    }
    if (files.size > 0) stale.push({ pid, files: [...files] });
  }
  return { stale, unreadable };
}
