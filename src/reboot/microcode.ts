// CPU microcode: the revision the CPUs run (/proc/cpuinfo) against the newest revision installed
// for this CPU in /lib/firmware, which the kernel loads only at boot. docs/reboot.md#cpu-microcode.
//
// Intel update files (intel-ucode/FF-MM-SS), per the Intel SDM vol. 3A "Microcode Update
// Facilities": one or more updates, each a 48-byte header (header version 1, update revision,
// BCD date 0xMMDDYYYY, processor signature, checksum, loader revision 1, processor flags, data
// size, total size), the data, then optionally an extended signature table (count, checksum,
// 12 reserved bytes, then count × {signature, processor flags, checksum}). All little-endian.
// AMD containers (amd-ucode/microcode_amd*.bin): magic "DMA\0", an equivalence table section
// (type 0: 16-byte entries mapping a CPUID signature to an equivalence id), then patch sections
// (type 1), each starting with a header holding the date (same BCD layout as Intel), the patch
// level and the equivalence id it applies to. Several containers may be concatenated.

import type { Buffer } from 'node:buffer';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { errorCode, isMissing, readBounded, readSmallText } from './read.ts';

export type CpuVendor = 'intel' | 'amd';

export interface CpuFacts {
  vendor: CpuVendor;
  family: number;
  model: number;
  stepping: number;
  /** CPUID(1).EAX as the firmware files name it, rebuilt from family/model/stepping. */
  signature: number;
  /** Microcode revision of each CPU, by processor number. */
  revisions: { cpu: number; revision: number }[];
  /** The `hypervisor` CPU flag: a VM guest, whose microcode is the host's business. */
  hypervisor: boolean;
}

export type CpuinfoResult =
  | { kind: 'cpu'; cpu: CpuFacts }
  /** Not an x86 CPU afterpatch knows firmware for (ARM, Hygon, …): nothing to check. */
  | { kind: 'other'; why: string }
  | { kind: 'error'; why: string };

const HEX = /^0x[0-9a-f]{1,8}$/i;

/** The CPUID(1).EAX signature for a family/model/stepping as Linux prints them. */
export function cpuSignature(family: number, model: number, stepping: number): number {
  const baseFamily = Math.min(family, 0xf);
  const extFamily = family - baseFamily;
  return (
    ((extFamily & 0xff) << 20) |
    ((model >> 4) << 16) |
    (baseFamily << 8) |
    ((model & 0xf) << 4) |
    (stepping & 0xf)
  );
}

/** Parses /proc/cpuinfo (x86 layout: one block of `key : value` lines per processor). */
export function parseCpuinfo(text: string): CpuinfoResult {
  const blocks = text
    .split(/\n\s*\n/)
    .map((block) => {
      const fields = new Map<string, string>();
      for (const line of block.split('\n')) {
        const colon = line.indexOf(':');
        if (colon === -1) continue;
        fields.set(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
      }
      return fields;
    })
    .filter((f) => f.has('processor'));
  const first = blocks[0];
  if (first === undefined) return { kind: 'error', why: 'no processor entries' };
  const vendorId = first.get('vendor_id');
  if (vendorId === undefined) return { kind: 'other', why: 'not an x86 CPU (no vendor_id)' };
  const vendor = vendorId === 'GenuineIntel' ? 'intel' : vendorId === 'AuthenticAMD' ? 'amd' : null;
  if (vendor === null) return { kind: 'other', why: `no microcode files known for ${vendorId}` };
  const num = (key: string): number | null => {
    const v = first.get(key);
    return v !== undefined && /^\d{1,4}$/.test(v) ? Number(v) : null;
  };
  const family = num('cpu family');
  const model = num('model');
  const stepping = num('stepping');
  if (family === null || model === null || stepping === null || model > 0xff || stepping > 0xf) {
    return { kind: 'error', why: 'no valid cpu family, model and stepping' };
  }
  const revisions: { cpu: number; revision: number }[] = [];
  for (const b of blocks) {
    const cpu = Number(b.get('processor'));
    const mc = b.get('microcode');
    if (mc === undefined) continue;
    if (!HEX.test(mc) || !Number.isInteger(cpu)) {
      return { kind: 'error', why: `processor ${b.get('processor')}: bad microcode field` };
    }
    revisions.push({ cpu, revision: Number.parseInt(mc, 16) });
  }
  const flags = (first.get('flags') ?? '').split(/\s+/);
  return {
    kind: 'cpu',
    cpu: {
      vendor,
      family,
      model,
      stepping,
      signature: cpuSignature(family, model, stepping),
      revisions,
      hypervisor: flags.includes('hypervisor'),
    },
  };
}

/** One microcode update found in a firmware file. */
export interface MicrocodeUpdate {
  revision: number;
  /** YYYY-MM-DD as the header says (BCD). */
  date: string;
}

export interface IntelUpdate extends MicrocodeUpdate {
  /** {signature, processor flags} pairs it applies to: the header's, then the extended table's. */
  signatures: { signature: number; flags: number }[];
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; why: string };

const INTEL_HEADER = 48;
const EXT_HEADER = 20;
const EXT_ENTRY = 12;

/** The 0xMMDDYYYY BCD date both vendors use, as YYYY-MM-DD (hex digits read as decimal). */
export function bcdDate(code: number): string {
  const hex = (v: number, width: number) => v.toString(16).padStart(width, '0');
  return `${hex(code & 0xffff, 4)}-${hex((code >>> 24) & 0xff, 2)}-${hex((code >>> 16) & 0xff, 2)}`;
}

/** Sum of the little-endian 32-bit words of buf[start, end), mod 2^32 (zero for a valid update). */
function dwordSum(buf: Buffer, start: number, end: number): number {
  let sum = 0;
  for (let i = start; i < end; i += 4) sum = (sum + buf.readUInt32LE(i)) >>> 0;
  return sum;
}

/** Every update in an Intel microcode file; a malformed or truncated file is one reason. */
export function parseIntelMicrocode(buf: Buffer): Parsed<IntelUpdate[]> {
  const updates: IntelUpdate[] = [];
  let at = 0;
  while (at < buf.length) {
    const fail = (why: string): Parsed<IntelUpdate[]> => ({
      ok: false,
      why: `update at byte ${at}: ${why}`,
    });
    if (buf.length - at < INTEL_HEADER) return fail('truncated header');
    const headerVersion = buf.readUInt32LE(at);
    const loaderVersion = buf.readUInt32LE(at + 20);
    if (headerVersion !== 1 || loaderVersion !== 1) {
      return fail(`unknown header version ${headerVersion}/${loaderVersion}`);
    }
    const dataSize = buf.readUInt32LE(at + 28) || 2000;
    const totalSize = buf.readUInt32LE(at + 32) || 2048;
    if (dataSize % 4 !== 0 || totalSize % 4 !== 0 || INTEL_HEADER + dataSize > totalSize) {
      return fail(`inconsistent sizes (data ${dataSize}, total ${totalSize})`);
    }
    if (totalSize > buf.length - at) {
      return fail(`truncated (${buf.length - at} of ${totalSize} bytes)`);
    }
    const end = INTEL_HEADER + dataSize;
    if (dwordSum(buf, at, at + end) !== 0) return fail('checksum mismatch');
    const revision = buf.readUInt32LE(at + 4);
    const signatures = [{ signature: buf.readUInt32LE(at + 12), flags: buf.readUInt32LE(at + 24) }];
    if (totalSize > end) {
      const ext = at + end;
      if (totalSize - end < EXT_HEADER) return fail('truncated extended signature table');
      const count = buf.readUInt32LE(ext);
      if (EXT_HEADER + count * EXT_ENTRY > totalSize - end) {
        return fail(`extended signature table of ${count} entries does not fit`);
      }
      if (dwordSum(buf, ext, ext + EXT_HEADER + count * EXT_ENTRY) !== 0) {
        return fail('extended signature table checksum mismatch');
      }
      // Each entry's checksum makes the header sum zero again with its signature and flags.
      const own =
        (buf.readUInt32LE(at + 12) + buf.readUInt32LE(at + 16) + buf.readUInt32LE(at + 24)) >>> 0;
      for (let i = 0; i < count; i++) {
        const e = ext + EXT_HEADER + i * EXT_ENTRY;
        const entry = { signature: buf.readUInt32LE(e), flags: buf.readUInt32LE(e + 4) };
        if ((entry.signature + entry.flags + buf.readUInt32LE(e + 8)) >>> 0 !== own) {
          return fail(`extended signature ${i + 1} checksum mismatch`);
        }
        signatures.push(entry);
      }
    }
    updates.push({ revision, date: bcdDate(buf.readUInt32LE(at + 8)), signatures });
    at += totalSize;
  }
  if (updates.length === 0) return { ok: false, why: 'empty file' };
  return { ok: true, value: updates };
}

/**
 * Does an Intel update apply to this CPU? Same signature, and a common platform bit
 * (processor_flags is 1 << the platform id), or no platform bits on either side (old CPUs).
 */
export function intelUpdateMatches(u: IntelUpdate, signature: number, flags: number): boolean {
  return u.signatures.some(
    (s) => s.signature === signature && ((s.flags & flags) !== 0 || (s.flags === 0 && flags === 0)),
  );
}

export interface AmdContainer {
  /** CPUID signature → equivalence id. */
  equivalence: Map<number, number>;
  patches: (MicrocodeUpdate & { equivalenceId: number })[];
}

const AMD_MAGIC = 0x00414d44;
const AMD_EQUIV_TYPE = 0;
const AMD_PATCH_TYPE = 1;
const AMD_EQUIV_ENTRY = 16;
const AMD_PATCH_HEADER = 64;

/** The equivalence tables and patch headers of an AMD microcode file (containers concatenated). */
export function parseAmdMicrocode(buf: Buffer): Parsed<AmdContainer> {
  const out: AmdContainer = { equivalence: new Map(), patches: [] };
  let at = 0;
  let containers = 0;
  const fail = (why: string): Parsed<AmdContainer> => ({ ok: false, why: `byte ${at}: ${why}` });
  while (at < buf.length) {
    if (buf.length - at < 12) return fail('truncated container header');
    if (buf.readUInt32LE(at) !== AMD_MAGIC) return fail('not an AMD microcode container');
    if (buf.readUInt32LE(at + 4) !== AMD_EQUIV_TYPE) return fail('no equivalence table');
    const tableSize = buf.readUInt32LE(at + 8);
    if (tableSize % AMD_EQUIV_ENTRY !== 0 || tableSize > buf.length - at - 12) {
      return fail(`equivalence table of ${tableSize} bytes does not fit`);
    }
    for (let e = at + 12; e < at + 12 + tableSize; e += AMD_EQUIV_ENTRY) {
      const cpu = buf.readUInt32LE(e);
      if (cpu === 0) break;
      out.equivalence.set(cpu, buf.readUInt16LE(e + 12));
    }
    at += 12 + tableSize;
    containers++;
    // Patch sections until the end or the next container's magic.
    while (at < buf.length) {
      if (buf.length - at < 8) return fail('truncated section header');
      if (buf.readUInt32LE(at) === AMD_MAGIC) break;
      const type = buf.readUInt32LE(at);
      const size = buf.readUInt32LE(at + 4);
      if (type !== AMD_PATCH_TYPE) return fail(`unknown section type ${type}`);
      if (size > buf.length - at - 8) return fail(`truncated patch (${size} bytes announced)`);
      if (size < AMD_PATCH_HEADER) return fail(`patch of ${size} bytes is smaller than its header`);
      const p = at + 8;
      out.patches.push({
        date: bcdDate(buf.readUInt32LE(p)),
        revision: buf.readUInt32LE(p + 4),
        equivalenceId: buf.readUInt16LE(p + 24),
      });
      at = p + size;
    }
  }
  if (containers === 0) return { ok: false, why: 'empty file' };
  return { ok: true, value: out };
}

/** The newest update for this CPU in an AMD file, or null when it has none. */
export function newestAmdPatch(c: AmdContainer, signature: number): MicrocodeUpdate | null {
  const id = c.equivalence.get(signature);
  if (id === undefined) return null;
  return newest(c.patches.filter((p) => p.equivalenceId === id));
}

function newest<T extends MicrocodeUpdate>(updates: readonly T[]): MicrocodeUpdate | null {
  let best: MicrocodeUpdate | null = null;
  for (const u of updates) if (best === null || u.revision > best.revision) best = u;
  return best === null ? null : { revision: best.revision, date: best.date };
}

// ---------------------------------------------------------------------------------------------
// The verdict

export const hex = (n: number): string => `0x${n.toString(16)}`;

/** What the microcode check found; `pending` becomes a reboot reason (docs/reboot.md). */
export type MicrocodeCheck =
  /** Nothing can be done here: a VM, a container, another CPU, no firmware installed. */
  | { status: 'not-applicable'; why: string }
  /** The check could not be made (unreadable or corrupt file); `why` says which and why. */
  | { status: 'unknown'; why: string }
  | {
      status: 'current' | 'pending';
      /** `intel 6-142-10 (sig 0x806ea, flags 0x80)`: what the firmware was matched against. */
      cpu: string;
      /** The lowest revision any CPU runs, hex. */
      running: string;
      /** Revisions when the CPUs disagree (a failed late load), e.g. `0xf0 on CPUs 0-2`. */
      mixed: string[] | null;
      /** The newest revision installed for this CPU; null when the files have none for it. */
      available: { revision: string; file: string; date: string } | null;
    };

/** `0, 1, 2, 5` → `0-2, 5`. */
function cpuRanges(cpus: readonly number[]): string {
  const out: string[] = [];
  const sorted = [...cpus].sort((a, b) => a - b);
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === (sorted[j] ?? 0) + 1) j++;
    out.push(i === j ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return out.join(', ');
}

/** Pure: running revisions against the newest matching update (null: the files have none). */
export function microcodeVerdict(
  cpu: CpuFacts,
  describe: string,
  available: (MicrocodeUpdate & { file: string }) | null,
): MicrocodeCheck {
  const byRevision = new Map<number, number[]>();
  for (const r of cpu.revisions) {
    const list = byRevision.get(r.revision) ?? [];
    list.push(r.cpu);
    byRevision.set(r.revision, list);
  }
  const lowest = Math.min(...byRevision.keys());
  const mixed =
    byRevision.size > 1
      ? [...byRevision.entries()]
          .sort(([a], [b]) => a - b)
          .map(
            ([rev, cpus]) => `${hex(rev)} on CPU${cpus.length > 1 ? 's' : ''} ${cpuRanges(cpus)}`,
          )
      : null;
  return {
    status: available !== null && available.revision > lowest ? 'pending' : 'current',
    cpu: describe,
    running: hex(lowest),
    mixed,
    available:
      available === null
        ? null
        : { revision: hex(available.revision), file: available.file, date: available.date },
  };
}

// ---------------------------------------------------------------------------------------------
// Gathering

/** Largest firmware file read: today's biggest (AMD family 17h) is well under 1 MiB. */
export const MAX_FIRMWARE_BYTES = 16 * 1024 * 1024;
/** /proc/cpuinfo of a large host (~1.5 KiB per CPU) stays far below this. */
export const MAX_CPUINFO_BYTES = 16 * 1024 * 1024;

/** The firmware directory: /lib/firmware, or /usr/lib/firmware where /lib is not merged. */
function firmwareDir(root: string, sub: string): string | null {
  for (const base of ['lib/firmware', 'usr/lib/firmware']) {
    const dir = join(root, base, sub);
    try {
      readdirSync(dir);
      return dir;
    } catch {
      // try the next
    }
  }
  return null;
}

/** The file the kernel loads for this CPU: Intel FF-MM-SS, AMD microcode_amd[_famXXh].bin. */
export function firmwareFileName(cpu: CpuFacts): string {
  const h2 = (n: number) => n.toString(16).padStart(2, '0');
  if (cpu.vendor === 'intel') return `${h2(cpu.family)}-${h2(cpu.model)}-${h2(cpu.stepping)}`;
  return cpu.family < 0x15 ? 'microcode_amd.bin' : `microcode_amd_fam${h2(cpu.family)}h.bin`;
}

/** First line of a sysfs attribute holding a hex number, or null. */
function sysfsHex(path: string, notes: string[]): number | null {
  const text = readSmallText(path, 64, notes)?.trim();
  return text !== undefined && HEX.test(text) ? Number.parseInt(text, 16) : null;
}

export interface MicrocodeGatherOptions {
  root: string;
  procRoot: string;
  /** Container evidence (gather.ts): the CPU's microcode is the host's business. */
  container: string | null;
}

/**
 * Reads /proc/cpuinfo, the microcode sysfs of CPU 0 and the firmware file the kernel would load
 * for this CPU at boot, and compares. Never throws: unreadable or corrupt input is `unknown` with
 * a one-line reason.
 */
export function checkMicrocode(o: MicrocodeGatherOptions): MicrocodeCheck {
  if (o.container !== null) return { status: 'not-applicable', why: 'in a container' };
  const notes: string[] = [];
  const cpuinfoPath = join(o.procRoot, 'cpuinfo');
  let text: string;
  try {
    const { data, truncated } = readBounded(cpuinfoPath, MAX_CPUINFO_BYTES);
    if (truncated) return { status: 'unknown', why: `${cpuinfoPath} is too large` };
    text = data.toString('utf8');
  } catch (err) {
    if (isMissing(err)) return { status: 'not-applicable', why: `no ${cpuinfoPath}` };
    return { status: 'unknown', why: `cannot read ${cpuinfoPath}: ${errorCode(err)}` };
  }
  const parsed = parseCpuinfo(text);
  if (parsed.kind === 'other') return { status: 'not-applicable', why: parsed.why };
  if (parsed.kind === 'error') return { status: 'unknown', why: `${cpuinfoPath}: ${parsed.why}` };
  const cpu = parsed.cpu;
  if (cpu.hypervisor) {
    return { status: 'not-applicable', why: 'a virtual machine (hypervisor CPU flag)' };
  }
  const sysfs = join(o.root, 'sys/devices/system/cpu/cpu0/microcode');
  if (cpu.revisions.length === 0) {
    // Kernels before 4.x print no microcode field; sysfs then has CPU 0's revision.
    const version = sysfsHex(join(sysfs, 'version'), notes);
    if (version === null) {
      return { status: 'unknown', why: notes[0] ?? 'the running microcode revision is unknown' };
    }
    cpu.revisions.push({ cpu: 0, revision: version });
  }
  const sub = cpu.vendor === 'intel' ? 'intel-ucode' : 'amd-ucode';
  const dir = firmwareDir(o.root, sub);
  if (dir === null) return { status: 'not-applicable', why: `no /lib/firmware/${sub} installed` };
  const file = join(dir, firmwareFileName(cpu));
  const name = `${cpu.vendor} ${cpu.family}-${cpu.model}-${cpu.stepping} (sig ${hex(cpu.signature)}`;
  let data: Buffer;
  try {
    const read = readBounded(file, MAX_FIRMWARE_BYTES);
    if (read.truncated) return { status: 'unknown', why: `${file} is too large` };
    data = read.data;
  } catch (err) {
    // The package has no file for this CPU: no update exists for it.
    if (isMissing(err)) return microcodeVerdict(cpu, `${name})`, null);
    return { status: 'unknown', why: `cannot read ${file}: ${errorCode(err)}` };
  }
  if (cpu.vendor === 'amd') {
    const amd = parseAmdMicrocode(data);
    if (!amd.ok) return { status: 'unknown', why: `${file}: ${amd.why}` };
    const best = newestAmdPatch(amd.value, cpu.signature);
    return microcodeVerdict(cpu, `${name})`, best === null ? null : { ...best, file });
  }
  const flags = sysfsHex(join(sysfs, 'processor_flags'), notes);
  if (flags === null) {
    // Without the platform id, an update for another platform could be taken for ours.
    return {
      status: 'unknown',
      why: notes[0] ?? `no ${join(sysfs, 'processor_flags')}: the platform id is unknown`,
    };
  }
  const intel = parseIntelMicrocode(data);
  if (!intel.ok) return { status: 'unknown', why: `${file}: ${intel.why}` };
  const best = newest(intel.value.filter((u) => intelUpdateMatches(u, cpu.signature, flags)));
  return microcodeVerdict(
    cpu,
    `${name}, flags ${hex(flags)})`,
    best === null ? null : { ...best, file },
  );
}
