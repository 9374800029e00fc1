// The per-process reads of the interpreted-code detector: run in the scan's threads, only for
// processes whose executable mapping is an interpreter. Everything here is a read of /proc or a
// stat(): the target's files are never opened, its argv and environment never trusted.
import { readdirSync, type Stats, statSync } from 'node:fs';
import type { ProcReader } from '../procfs/reader.ts';
import { isFailure } from '../procfs/reader.ts';
import { parseCmdline } from '../procfs/status.ts';
import {
  formatDevice,
  type Interpreter,
  isSourcePath,
  type Program,
  parseBtime,
  parseProgram,
  parseStartTicks,
  pythonModuleCandidates,
  resolveProgramPath,
  startTimeMs,
} from './detect.ts';

/** At most this many descriptors of one process are looked at (a server may hold 100,000). */
export const MAX_FDS = 4096;

/** What stat() said about a file: enough to tell whether and when it changed. */
export interface FileStat {
  inode: number;
  device: string;
  ctimeMs: number;
  /** 0 when the file was deleted (only meaningful for a held-open file). */
  nlink: number;
}

export interface RawOpenFile {
  fd: number;
  /** The link's target without the kernel's " (deleted)" suffix, as the process sees it. */
  path: string;
  stat: FileStat;
}

export interface RawInterp {
  pid: number;
  interpreter: Interpreter;
  pidNs: string | null;
  root: string;
  cwd: string | null;
  startMs: number;
  program: Program;
  /** The program's file (script, jar, or the packaged file of `-m name`), absolute, as the process sees it. */
  programPath: string | null;
  programStat: FileStat | null;
  openFiles: RawOpenFile[];
  /** Code files the process maps (mappedCodePaths): exact evidence the heuristics defer to. */
  mapped: string[];
}

export function toFileStat(s: Stats): FileStat {
  return { inode: s.ino, device: formatDevice(s.dev), ctimeMs: s.ctimeMs, nlink: s.nlink };
}

function statOrNull(path: string): FileStat | null {
  try {
    const s = statSync(path);
    return s.isFile() ? toFileStat(s) : null;
  } catch {
    return null;
  }
}

const DELETED = ' (deleted)';

/** Per-reader cache of the boot time (one read of /proc/stat per thread). */
const btimes = new WeakMap<ProcReader, number | null>();

function btimeOf(reader: ProcReader): number | null {
  if (!btimes.has(reader)) {
    const text = reader.read('stat');
    btimes.set(reader, isFailure(text) ? null : parseBtime(text));
  }
  return btimes.get(reader) ?? null;
}

/**
 * Reads what the detector needs about one interpreter process; null when it is gone or not
 * readable (another user's process without root).
 */
export function readInterp(
  reader: ProcReader,
  pid: number,
  interpreter: Interpreter,
  mapped: string[] = [],
): RawInterp | null {
  const cmdline = reader.read(`${pid}/cmdline`);
  if (isFailure(cmdline)) return null;
  const program = parseProgram(interpreter, parseCmdline(cmdline));
  // The cwd is read only when a relative program path needs it.
  let cwd: string | null = null;
  if ((program.type === 'script' || program.type === 'jar') && !program.path.startsWith('/')) {
    const cwdLink = reader.readlink(`${pid}/cwd`);
    cwd = isFailure(cwdLink) || cwdLink.endsWith(DELETED) ? null : cwdLink;
  }
  // The process's own view of the file system: right for chroots and mount namespaces alike.
  const through = `${reader.root}/${pid}/root`;
  let programPath: string | null = null;
  let programStat: FileStat | null = null;
  if (program.type === 'script' || program.type === 'jar') {
    programPath = resolveProgramPath(program.path, cwd);
    if (programPath !== null) programStat = statOrNull(`${through}${programPath}`);
  } else if (program.type === 'module' && interpreter === 'python') {
    for (const c of pythonModuleCandidates(program.name)) {
      programStat = statOrNull(`${through}${c}`);
      if (programStat) {
        programPath = c;
        break;
      }
    }
  }
  const openFiles = readOpenFiles(reader, pid);
  // Nothing to judge (e.g. `python3 -c …` holding no source file): skip the remaining reads.
  if (programStat === null && openFiles.length === 0) return null;
  const btime = btimeOf(reader);
  const stat = reader.read(`${pid}/stat`);
  if (btime === null || isFailure(stat)) return null;
  const ticks = parseStartTicks(stat);
  if (ticks === null) return null;
  const rootLink = reader.readlink(`${pid}/root`);
  if (isFailure(rootLink)) return null;
  const ns = reader.readlink(`${pid}/ns/pid`);
  return {
    pid,
    interpreter,
    pidNs: isFailure(ns) ? null : ns,
    root: rootLink,
    cwd,
    startMs: startTimeMs(ticks, btime),
    program,
    programPath,
    programStat,
    openFiles,
    mapped,
  };
}

/** Source and bytecode files the process holds open, stat()ed through the descriptor itself. */
function readOpenFiles(reader: ProcReader, pid: number): RawOpenFile[] {
  let fds: string[];
  try {
    fds = readdirSync(`${reader.root}/${pid}/fd`);
  } catch {
    return [];
  }
  const out: RawOpenFile[] = [];
  for (const name of fds.slice(0, MAX_FDS)) {
    const link = reader.readlink(`${pid}/fd/${name}`);
    if (isFailure(link) || !link.startsWith('/')) continue;
    const path = link.endsWith(DELETED) ? link.slice(0, -DELETED.length) : link;
    if (!isSourcePath(path)) continue;
    // stat() of /proc/PID/fd/N is the open file itself (its nlink is 0 once deleted), not a
    // path lookup: whatever the link's text says, no other file is looked at.
    const st = statOrNull(`${reader.root}/${pid}/fd/${name}`);
    if (st) out.push({ fd: Number(name), path, stat: st });
  }
  return out;
}
