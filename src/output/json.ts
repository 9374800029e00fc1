// The versioned JSON format of `scan --json`, documented in docs/json.md and docs/scan.schema.json.

import type { ProcessVersion } from '../advisory/assess.ts';
import { rebootDocument } from '../formats/reboot.ts';
import type { ScanDocument, ScanEntry, ScanProcess } from '../formats/scan.ts';
import { ownerKey } from '../grouping/group.ts';
import type { RebootReport } from '../reboot/reboot.ts';
import { isPartialScan } from '../scan/coverage.ts';
import { interpretedByEntry, type StaleFile } from '../scan/model.ts';
import type { ScanReport } from '../scan/scan.ts';
import { VERSION } from '../version.ts';
import { advisoryDocument, advisoryMark, processAnswers } from './advisory.ts';

/** Bumped on any incompatible change; additions of fields keep the version. */
export const SCAN_FORMAT_VERSION = 1;

/** The internal scan report as the published document (src/formats/scan.ts); `reboot`: --reboot's verdict. */
export function scanToJson(r: ScanReport, reboot?: RebootReport): ScanDocument {
  return envelope(
    r,
    r.processes.map((p) => processToJson(p, r)),
    reboot,
  );
}

/** The document around its `processes` (given, or a stand-in that scanJsonChunks replaces). */
function envelope<P>(
  r: ScanReport,
  processes: P,
  reboot: RebootReport | undefined,
): Omit<ScanDocument, 'processes'> & { processes: P } {
  const interp = interpretedByEntry(r.processes, (p) => ownerKey(p.owner));
  return {
    format: 'afterpatch-scan',
    formatVersion: SCAN_FORMAT_VERSION,
    afterpatch: VERSION,
    hostname: r.hostname,
    asRoot: r.asRoot,
    partial: isPartialScan(r),
    time: r.time,
    durationMs: r.durationMs,
    packageManager: r.packageManager,
    summary: r.summary,
    // Why the summary's `failed` processes could not be read: only when some did.
    ...((r.readErrors?.length ?? 0) > 0 ? { readErrors: r.readErrors } : {}),
    entries: r.groups.map(
      (g): ScanEntry => ({
        ...g.owner,
        key: g.key,
        severity: g.severity,
        pids: g.pids,
        names: g.names,
        files: g.files.map((f) => {
          const file = { path: f.path, kind: f.kind, package: f.package };
          const e = interp.get(g.key)?.get(f.path);
          // Interpreted findings say so (additive: other files are exactly as before).
          return e
            ? { ...file, interpreted: { interpreter: e.interpreter, confidence: e.confidence } }
            : file;
        }),
        action: g.action,
        ...advisoryMark(r.advisories, g.pids),
      }),
    ),
    processes,
    warnings: r.warnings,
    ...advisoryDocument(r.advisories),
    // The scan's host and time: one snapshot, as `report` merges it (src/fleet/merge.ts).
    ...(reboot === undefined ? {} : { reboot: rebootDocument(reboot, r.hostname, r.time) }),
  };
}

function fileToJson(f: StaleFile): ScanProcess['files'][number] {
  const file = {
    path: f.path,
    hostPath: f.hostPath,
    kind: f.kind,
    inode: f.inode,
    device: f.device,
    package: f.package,
  };
  return f.interpreted ? { ...file, interpreted: f.interpreted } : file;
}

function ignoredToJson(ignored: Process['ignored']): ScanProcess['ignored'] {
  return ignored.map((f) => ({ path: f.path, kind: f.kind, rule: f.rule }));
}

function processToJson(p: Process, r: ScanReport): ScanProcess {
  return {
    type: 'process',
    pid: p.pid,
    ppid: p.ppid,
    uid: p.uid,
    name: p.name,
    cmdline: p.cmdline,
    root: p.root,
    foreignPidNs: p.foreignPidNs,
    cgroup: p.cgroup,
    owner: ownerKey(p.owner),
    files: p.files.map(fileToJson),
    ignored: ignoredToJson(p.ignored),
    ...(p.omittedMappings === undefined ? {} : { omittedMappings: p.omittedMappings }),
    ...advisoryMark(r.advisories, [p.pid]),
  };
}

const PLACEHOLDER = '\u0000processes\u0000';

/** Indentation of a process's fields in the document (processes[i], two levels deep). */
const FIELD = '\n      ';
/** Between two fields. */
const F = `,${FIELD}`;

/** `value` as JSON.stringify(…, null, 2) writes it at the indentation `pad`. */
function jsonAt(value: unknown, pad: string): string {
  // The common values without a call into the serializer (10,000 processes × a dozen fields).
  if (value === null) return 'null';
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (Array.isArray(value) && value.length === 0) return '[]';
  if (typeof value !== 'object') return JSON.stringify(value);
  // Newlines in JSON text are only ever between tokens (never inside a string).
  return JSON.stringify(value, null, 2).replaceAll('\n', `\n${pad}`);
}

/**
 * A process's fields after its PID, and its closing brace (two levels deep), exactly as
 * JSON.stringify(document, null, 2) writes processToJson's object — written here field by field
 * for speed (no object in between: 10,000 processes); test/output/json.test.ts compares the two
 * on arbitrary processes, so a field added there and not here fails it. This text repeats from
 * one process to the next (a service's thousand workers: same cgroup, same files, details for a
 * sample only): ProcessTails reuses it, and FilesJson the files when only they repeat.
 */
function tailText(p: Process, files: FilesJson, mark: string): string {
  let s = `${F}"ppid": ${jsonAt(p.ppid, '')}${F}"uid": ${jsonAt(p.uid, '')}`;
  s += `${F}"name": ${jsonAt(p.name, '')}${F}"cmdline": ${jsonAt(p.cmdline, '      ')}`;
  s += `${F}"root": ${JSON.stringify(p.root)}${F}"foreignPidNs": ${p.foreignPidNs}`;
  s += `${F}"cgroup": ${jsonAt(p.cgroup, '')}${F}"owner": ${JSON.stringify(ownerKey(p.owner))}`;
  s += `${F}"files": ${files.json(p.files)}`;
  s += `${F}"ignored": ${p.ignored.length === 0 ? '[]' : jsonAt(ignoredToJson(p.ignored), '      ')}`;
  if (p.omittedMappings !== undefined) s += `${F}"omittedMappings": ${p.omittedMappings}`;
  return `${s}${mark}\n    }`;
}

/** A process's advisory fields (vulnerable, versions), each with its leading separator. */
function markText(p: Process, r: ScanReport, versions: SameItems): string {
  if (r.advisories === undefined) return '';
  const mark = advisoryMark(r.advisories, [p.pid]) as Record<string, unknown>;
  let s = '';
  for (const key in mark) {
    const v = mark[key];
    // A process's advisory versions are shared objects (one per answer): reused like files.
    const text = key === 'versions' && Array.isArray(v) ? versions.json(v) : jsonAt(v, '      ');
    s += `${F}${JSON.stringify(key)}: ${text}`;
  }
  return s;
}

type Process = ScanReport['processes'][number];

/** The fields sameTail compares as values (arrays as objects). */
type TailValue = 'ppid' | 'uid' | 'name' | 'cmdline' | 'root' | 'foreignPidNs' | 'cgroup';
/** Fails to compile when a field is added to processes and not to sameTail's comparisons. */
const allProcessFields: Exclude<
  keyof Process,
  TailValue | 'omittedMappings' | 'pid' | 'owner' | 'files' | 'ignored'
> extends never
  ? true
  : never = true;
void allProcessFields;

/**
 * The text after each process's PID as UTF-8, kept from the last process and reused when it is
 * the same: encoding it again for each of 10,000 processes was most of the output's time (V8
 * copies a string's pieces together, then encodes it, at ~3 µs a process).
 */
class ProcessTails {
  readonly #files = new FilesJson();
  readonly #versions = new SameItems();
  #last: Process | null = null;
  #lastOwner = '';
  /** The last process's advisory answers (null without advisories): its mark's items. */
  #lastAnswers: readonly ProcessVersion[] | null = null;
  #bytes: Uint8Array = new Uint8Array(0);

  json(p: Process, r: ScanReport): Uint8Array {
    const answers = r.advisories === undefined ? null : processAnswers(r.advisories, p.pid);
    const owner = ownerKey(p.owner);
    const last = this.#last;
    const lastAnswers = this.#lastAnswers;
    this.#last = p;
    this.#lastAnswers = answers;
    // The same answers make the same mark (advisoryMark): compared by item, not as text.
    const sameMark =
      answers === null || lastAnswers === null
        ? answers === lastAnswers
        : answers.length === lastAnswers.length && answers.every((v, i) => v === lastAnswers[i]);
    if (last !== null && owner === this.#lastOwner && sameMark && sameTail(last, p))
      return this.#bytes;
    this.#lastOwner = owner;
    this.#bytes = Buffer.from(tailText(p, this.#files, markText(p, r, this.#versions)), 'utf8');
    return this.#bytes;
  }
}

/** Whether two processes' fields after the PID serialize the same (owners and advisory marks
 *  are compared by the caller): the same values, arrays the same objects. */
function sameTail(a: Process, b: Process): boolean {
  // Written out, not a loop over the names: a keyed look-up per field costs more than the
  // text it saves while the functions still run unoptimized (a scan's JIT budget is raised).
  if (
    a.ppid !== b.ppid ||
    a.uid !== b.uid ||
    a.name !== b.name ||
    a.cmdline !== b.cmdline ||
    a.root !== b.root ||
    a.foreignPidNs !== b.foreignPidNs ||
    a.cgroup !== b.cgroup ||
    a.omittedMappings !== b.omittedMappings ||
    a.ignored.length !== 0 ||
    b.ignored.length !== 0 ||
    a.files.length !== b.files.length
  )
    return false;
  for (let i = 0; i < a.files.length; i++)
    if (!sameFile(a.files[i] as StaleFile, b.files[i] as StaleFile)) return false;
  return true;
}

type FileJson = ScanProcess['files'][number];

/**
 * An array of read-only objects at a process field's indentation, its text kept from the last
 * call and reused when the items are the same objects in the same order.
 */
class SameItems {
  #items: readonly unknown[] = [];
  #text = '';

  json(items: readonly unknown[]): string {
    const last = this.#items;
    if (items.length > 0 && items.length === last.length && items.every((x, i) => x === last[i]))
      return this.#text;
    this.#items = items;
    this.#text = jsonAt(items, '      ');
    return this.#text;
  }
}

/** Serialized process files, kept from the previous process for the same position. */
class FilesJson {
  #last: { file: StaleFile; text: string }[] = [];

  json(files: readonly StaleFile[]): string {
    if (files.length === 0) return '[]';
    let s = '[';
    for (let i = 0; i < files.length; i++) {
      const f = files[i] as StaleFile;
      const last = this.#last[i];
      let text: string;
      if (last !== undefined && sameFile(last.file, f)) text = last.text;
      else {
        text = jsonAt(fileToJson(f), '        ');
        this.#last[i] = { file: f, text };
      }
      s += `${i === 0 ? '\n        ' : ',\n        '}${text}`;
    }
    return `${s}\n      ]`;
  }
}

/** Every field of a process file; the type below fails to compile when one is missing. */
const FILE_FIELDS = [
  'path',
  'hostPath',
  'kind',
  'inode',
  'device',
  'package',
  'interpreted',
] as const satisfies readonly (keyof FileJson & keyof StaleFile)[];
const allFileFields: Exclude<
  keyof FileJson | keyof StaleFile,
  (typeof FILE_FIELDS)[number]
> extends never
  ? true
  : never = true;
void allFileFields;

/** Whether two files serialize the same: every field identical (a package is one object per
 *  path, from the lookup's map), interpreted evidence absent from both. */
function sameFile(a: StaleFile, b: StaleFile): boolean {
  if (a.interpreted !== undefined || b.interpreted !== undefined) return false;
  for (const k of FILE_FIELDS) if (a[k] !== b[k]) return false;
  return true;
}

/**
 * The document in pieces: the envelope, then one process at a time, so that a report of
 * 10,000 processes is never one string in memory (stdout writes to pipes and files are
 * synchronous on Linux). A piece is text or UTF-8 (a process's tail, reused). The concatenation
 * is exactly JSON.stringify(scanToJson(r), null, 2).
 */
export function* scanJsonChunks(
  r: ScanReport,
  reboot?: RebootReport,
): Generator<string | Uint8Array> {
  // The envelope alone: its processes are serialized one at a time below.
  const outer = JSON.stringify(envelope(r, PLACEHOLDER, reboot), null, 2);
  const marker = JSON.stringify(PLACEHOLDER);
  const at = outer.indexOf(marker);
  yield outer.slice(0, at);
  if (r.processes.length === 0) yield '[]';
  else {
    const tails = new ProcessTails();
    for (let i = 0; i < r.processes.length; i++) {
      const p = r.processes[i] as Process;
      // Each process's separator goes before it: the tail is the same for the last one.
      yield `${i === 0 ? '[\n' : ',\n'}    {${FIELD}"type": "process"${F}"pid": ${p.pid}`;
      yield tails.json(p, r);
    }
    yield '\n  ]';
  }
  yield `${outer.slice(at + marker.length)}\n`;
}

export function formatJson(r: ScanReport): string {
  return [...scanJsonChunks(r)]
    .map((c) => (typeof c === 'string' ? c : Buffer.from(c).toString('utf8')))
    .join('');
}
