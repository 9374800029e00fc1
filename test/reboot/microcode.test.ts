import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { runCli } from '../../harness/cli.ts';
import { assessReboot, type RebootResult } from '../../src/reboot/detect.ts';
import { gatherRebootInput } from '../../src/reboot/gather.ts';
import {
  bcdDate,
  checkMicrocode,
  cpuSignature,
  type MicrocodeCheck,
  parseAmdMicrocode,
  parseCpuinfo,
  parseIntelMicrocode,
} from '../../src/reboot/microcode.ts';
import { describeReason } from '../../src/reboot/reboot.ts';
import { FAKE_INIT, makeProcTree } from '../helpers/fakeproc.ts';

// ---- Fixture builders: the formats written from their documentation, checksums included.

interface IntelSpec {
  revision: number;
  /** 0xMMDDYYYY, BCD. */
  date?: number;
  signature: number;
  flags: number;
  dataSize?: number;
  extended?: { signature: number; flags: number }[];
}

/** One Intel update: 48-byte header, data, optional extended signature table; checksums valid. */
function intelUpdate(s: IntelSpec): Buffer {
  const ext = s.extended ?? [];
  const extSize = ext.length > 0 ? 20 + 12 * ext.length : 0;
  // The SDM wants the total size in whole KiB (iucode-tool --strict-checks insists).
  const dataSize = s.dataSize ?? Math.ceil((48 + extSize) / 1024) * 1024 + 1024 - 48 - extSize;
  const total = 48 + dataSize + extSize;
  const buf = Buffer.alloc(total);
  buf.writeUInt32LE(1, 0);
  buf.writeUInt32LE(s.revision, 4);
  buf.writeUInt32LE(s.date ?? 0x02142023, 8);
  buf.writeUInt32LE(s.signature, 12);
  buf.writeUInt32LE(1, 20);
  buf.writeUInt32LE(s.flags, 24);
  buf.writeUInt32LE(dataSize, 28);
  buf.writeUInt32LE(total, 32);
  for (let i = 48; i < 48 + dataSize; i += 4) buf.writeUInt32LE((i * 2654435761) >>> 0, i);
  buf.writeUInt32LE(negSum(buf, 0, 48 + dataSize), 16);
  if (ext.length > 0) {
    const at = 48 + dataSize;
    buf.writeUInt32LE(ext.length, at);
    // Each entry's checksum is the header checksum for that signature and flags.
    const own = s.signature + s.flags + buf.readUInt32LE(16);
    ext.forEach((e, i) => {
      buf.writeUInt32LE(e.signature, at + 20 + 12 * i);
      buf.writeUInt32LE(e.flags, at + 24 + 12 * i);
      buf.writeUInt32LE((own - e.signature - e.flags + 2 * 0x100000000) >>> 0, at + 28 + 12 * i);
    });
    buf.writeUInt32LE(negSum(buf, at, total), at + 4);
  }
  return buf;
}

/** The value that makes the 32-bit word sum of buf[start, end) zero. */
function negSum(buf: Buffer, start: number, end: number): number {
  let sum = 0;
  for (let i = start; i < end; i += 4) sum = (sum + buf.readUInt32LE(i)) >>> 0;
  return (0x100000000 - sum) >>> 0;
}

interface AmdSpec {
  equivalence: { signature: number; id: number }[];
  patches: { revision: number; id: number; date?: number; size?: number }[];
}

/** One AMD container: magic, equivalence table (zero-terminated), patch sections. */
function amdContainer(s: AmdSpec): Buffer {
  const table = Buffer.alloc(16 * (s.equivalence.length + 1));
  s.equivalence.forEach((e, i) => {
    table.writeUInt32LE(e.signature, 16 * i);
    table.writeUInt16LE(e.id, 16 * i + 12);
  });
  const head = Buffer.alloc(12);
  head.writeUInt32LE(0x00414d44, 0);
  head.writeUInt32LE(0, 4);
  head.writeUInt32LE(table.length, 8);
  const sections = s.patches.map((p) => {
    const size = p.size ?? 3200;
    const sec = Buffer.alloc(8 + size);
    sec.writeUInt32LE(1, 0);
    sec.writeUInt32LE(size, 4);
    sec.writeUInt32LE(p.date ?? 0x07222024, 8);
    sec.writeUInt32LE(p.revision, 12);
    sec.writeUInt16LE(p.id, 8 + 24);
    return sec;
  });
  return Buffer.concat([head, table, ...sections]);
}

function cpuinfo(o: {
  vendor?: string;
  family: number;
  model: number;
  stepping: number;
  revisions: number[];
  flags?: string;
}): string {
  return o.revisions
    .map((rev, cpu) =>
      [
        `processor\t: ${cpu}`,
        `vendor_id\t: ${o.vendor ?? 'GenuineIntel'}`,
        `cpu family\t: ${o.family}`,
        `model\t\t: ${o.model}`,
        'model name\t: Some CPU @ 2.00GHz',
        `stepping\t: ${o.stepping}`,
        `microcode\t: 0x${rev.toString(16)}`,
        `flags\t\t: ${o.flags ?? 'fpu vme de pse tsc msr pae mce'}`,
        '',
      ].join('\n'),
    )
    .join('\n');
}

const made: string[] = [];
after(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

interface Host {
  root: string;
  procRoot: string;
}

/** A fixture root and /proc: files by relative path. */
function host(root: Record<string, string | Buffer>, proc: Record<string, string>): Host {
  const r = mkdtempSync(join(tmpdir(), 'afterpatch-ucode-root-'));
  const p = mkdtempSync(join(tmpdir(), 'afterpatch-ucode-proc-'));
  made.push(r, p);
  for (const [base, files] of [
    [r, root],
    [p, proc],
  ] as const) {
    for (const [rel, content] of Object.entries(files)) {
      mkdirSync(dirname(join(base, rel)), { recursive: true });
      writeFileSync(join(base, rel), content);
    }
  }
  return { root: r, procRoot: p };
}

// A Kaby Lake laptop: family 6, model 142 (0x8e), stepping 10; platform id 7 → flags 0x80.
const KBL = { family: 6, model: 142, stepping: 10 };
const KBL_SIG = 0x806ea;
const KBL_FILE = 'lib/firmware/intel-ucode/06-8e-0a';
const KBL_SYSFS = 'sys/devices/system/cpu/cpu0/microcode/processor_flags';

function intelHost(file: Buffer | null, o: { revisions?: number[]; flags?: string } = {}): Host {
  return host(
    {
      [KBL_SYSFS]: '0x80\n',
      ...(file === null ? { 'lib/firmware/intel-ucode/06-9e-09': Buffer.alloc(0) } : {}),
      ...(file === null ? {} : { [KBL_FILE]: file }),
    },
    { cpuinfo: cpuinfo({ ...KBL, revisions: o.revisions ?? [0xf0, 0xf0], flags: o.flags ?? '' }) },
  );
}

const check = (h: Host): MicrocodeCheck => checkMicrocode({ ...h, container: null });

describe('CPU signature and header fields', () => {
  it('rebuilds CPUID(1).EAX from family/model/stepping (Intel, AMD Zen)', () => {
    assert.equal(cpuSignature(6, 142, 10), KBL_SIG);
    assert.equal(cpuSignature(6, 0x55, 4), 0x50654); // Skylake-SP: 06-55-04
    assert.equal(cpuSignature(25, 17, 1), 0xa10f11); // AMD EPYC 9004: family 19h
    assert.equal(cpuSignature(23, 0x31, 0), 0x830f10); // AMD Rome: family 17h
    assert.equal(cpuSignature(16, 4, 2), 0x100f42); // AMD family 10h
  });

  it('reads the BCD date', () => {
    assert.equal(bcdDate(0x02142023), '2023-02-14');
    assert.equal(bcdDate(0x12312019), '2019-12-31');
  });

  it('parses cpuinfo per CPU: vendor, signature, revisions, hypervisor flag', () => {
    const r = parseCpuinfo(cpuinfo({ ...KBL, revisions: [0xf0, 0xea], flags: 'fpu hypervisor' }));
    assert.equal(r.kind, 'cpu');
    if (r.kind !== 'cpu') return;
    assert.equal(r.cpu.vendor, 'intel');
    assert.equal(r.cpu.signature, KBL_SIG);
    assert.deepEqual(r.cpu.revisions, [
      { cpu: 0, revision: 0xf0 },
      { cpu: 1, revision: 0xea },
    ]);
    assert.equal(r.cpu.hypervisor, true);
    assert.equal(parseCpuinfo('processor\t: 0\nBogoMIPS\t: 50.00\n').kind, 'other');
    assert.equal(parseCpuinfo('').kind, 'error');
    assert.match(
      JSON.stringify(parseCpuinfo(cpuinfo({ ...KBL, revisions: [1] }).replace('0x1', 'zz'))),
      /bad microcode field/,
    );
  });
});

describe('Intel microcode files', () => {
  it('a newer revision for this signature and platform is a pending update, with the evidence', () => {
    const h = intelHost(intelUpdate({ revision: 0xf4, signature: KBL_SIG, flags: 0xc0 }));
    const c = check(h);
    assert.deepEqual(c, {
      status: 'pending',
      cpu: 'intel 6-142-10 (sig 0x806ea, flags 0x80)',
      running: '0xf0',
      mixed: null,
      available: { revision: '0xf4', file: join(h.root, KBL_FILE), date: '2023-02-14' },
    });
    const r = assessReboot(gatherRebootInput(h));
    assert.equal(r.required, true);
    const reason = r.reasons.find((x) => x.type === 'microcode');
    assert.ok(reason, JSON.stringify(r.reasons));
    assert.equal(
      describeReason(reason),
      `microcode update pending: running 0xf0, available 0xf4 (${join(h.root, KBL_FILE)}, 2023-02-14)`,
    );
  });

  it('the same or an older revision is current', () => {
    for (const revision of [0xf0, 0xea]) {
      const c = check(intelHost(intelUpdate({ revision, signature: KBL_SIG, flags: 0x80 })));
      assert.equal(c.status, 'current');
      assert.equal(c.status === 'current' && c.available?.revision, `0x${revision.toString(16)}`);
    }
  });

  it('an update for another platform (processor flags) does not apply', () => {
    const c = check(intelHost(intelUpdate({ revision: 0xf4, signature: KBL_SIG, flags: 0x02 })));
    assert.equal(c.status, 'current');
    assert.equal(c.status === 'current' && c.available, null);
  });

  it('picks the newest matching update of several in one file', () => {
    const file = Buffer.concat([
      intelUpdate({ revision: 0xfa, signature: KBL_SIG, flags: 0x02 }), // other platform
      intelUpdate({ revision: 0xf2, signature: KBL_SIG, flags: 0x80, date: 0x01022022 }),
      intelUpdate({ revision: 0xf3, signature: KBL_SIG, flags: 0xc0, date: 0x03042022 }),
      intelUpdate({ revision: 0xf1, signature: 0x806e9, flags: 0x80 }), // other stepping
    ]);
    const c = check(intelHost(file));
    assert.equal(c.status, 'pending');
    assert.deepEqual(c.status === 'pending' && [c.available?.revision, c.available?.date], [
      '0xf3',
      '2022-03-04',
    ]);
  });

  it('matches through the extended signature table', () => {
    const file = intelUpdate({
      revision: 0xf6,
      signature: 0x806e9,
      flags: 0x10,
      extended: [
        { signature: 0x806eb, flags: 0x80 },
        { signature: KBL_SIG, flags: 0x80 },
      ],
    });
    const parsed = parseIntelMicrocode(file);
    assert.ok(parsed.ok);
    assert.equal(parsed.ok && parsed.value[0]?.signatures.length, 3);
    assert.equal(check(intelHost(file)).status, 'pending');
    // The same update without the extended table does not apply.
    assert.equal(
      check(intelHost(intelUpdate({ revision: 0xf6, signature: 0x806e9, flags: 0x10 }))).status,
      'current',
    );
  });

  it('reports mixed revisions and compares the lowest', () => {
    const file = intelUpdate({ revision: 0xf4, signature: KBL_SIG, flags: 0x80 });
    const c = check(intelHost(file, { revisions: [0xf4, 0xf4, 0xf0, 0xf4] }));
    assert.equal(c.status, 'pending');
    assert.equal(c.status === 'pending' && c.running, '0xf0');
    assert.deepEqual(c.status === 'pending' && c.mixed, ['0xf0 on CPU 2', '0xf4 on CPUs 0-1, 3']);
    const r = assessReboot(gatherRebootInput(intelHost(file, { revisions: [0xf0, 0xf4] })));
    const reason = r.reasons.find((x) => x.type === 'microcode');
    assert.match(
      reason ? describeReason(reason) : '',
      /; CPUs disagree: 0xf0 on CPU 0, 0xf4 on CPU 1$/,
    );
    // Nothing newer installed: no reason, but the disagreement is a note.
    const current = assessReboot(gatherRebootInput(intelHost(file, { revisions: [0xf4, 0xf5] })));
    assert.equal(current.required, false);
    assert.ok(
      current.notes.includes(
        'CPUs run different microcode revisions: 0xf4 on CPU 0, 0xf5 on CPU 1',
      ),
      current.notes.join('\n'),
    );
  });

  it('truncated, corrupt or foreign files are one reason (unknown), never a crash', () => {
    const good = intelUpdate({ revision: 0xf4, signature: KBL_SIG, flags: 0x80 });
    const flipped = Buffer.from(good);
    flipped.writeUInt32LE(0xdeadbeef, 100);
    const badExt = intelUpdate({
      revision: 0xf4,
      signature: KBL_SIG,
      flags: 0x80,
      extended: [{ signature: 1, flags: 1 }],
    });
    badExt.writeUInt32LE(99, badExt.length - 32); // count no longer fits
    const cases: [Buffer, RegExp][] = [
      [good.subarray(0, 1000), /truncated \(1000 of 2048 bytes\)/],
      [good.subarray(0, 20), /truncated header/],
      [flipped, /checksum mismatch/],
      [badExt, /extended signature table/],
      [
        Buffer.from('not microcode at all, just some text here that is long enough to parse'),
        /unknown header version/,
      ],
      [Buffer.alloc(0), /empty file/],
    ];
    const badEntry = intelUpdate({
      revision: 0xf4,
      signature: KBL_SIG,
      flags: 0x80,
      extended: [{ signature: 1, flags: 1 }],
    });
    badEntry.writeUInt32LE(badEntry.readUInt32LE(badEntry.length - 4) + 1, badEntry.length - 4);
    badEntry.writeUInt32LE(badEntry.readUInt32LE(badEntry.length - 28) - 1, badEntry.length - 28);
    cases.push([badEntry, /extended signature 1 checksum mismatch/]);
    for (const [file, why] of cases) {
      const c = check(intelHost(file));
      assert.equal(c.status, 'unknown');
      assert.match(c.status === 'unknown' ? c.why : '', why);
      assert.doesNotMatch(c.status === 'unknown' ? c.why : '', /\n/);
    }
    // Every prefix of a valid two-update file parses or fails cleanly.
    const two = Buffer.concat([
      good,
      intelUpdate({ revision: 1, signature: 2, flags: 0, extended: [{ signature: 3, flags: 4 }] }),
    ]);
    for (let n = 0; n <= two.length; n += 7) {
      const p = parseIntelMicrocode(two.subarray(0, n));
      assert.equal(typeof p.ok, 'boolean');
    }
    // The reboot verdict stays readable, with the reason as a note.
    const r = assessReboot(gatherRebootInput(intelHost(flipped)));
    assert.equal(r.required, false);
    assert.ok(
      r.notes.some((n) => /^microcode not checked: .*06-8e-0a: .*checksum mismatch$/.test(n)),
      r.notes.join('\n'),
    );
  });

  it('an unreadable firmware file or cpuinfo is unknown with its error', {
    skip: process.getuid?.() === 0 ? 'root reads anything' : false,
  }, () => {
    const h = intelHost(intelUpdate({ revision: 0xf4, signature: KBL_SIG, flags: 0x80 }));
    chmodSync(join(h.root, KBL_FILE), 0);
    assert.match(JSON.stringify(check(h)), /cannot read .*EACCES/);
  });

  it('a firmware path that is a directory is unknown with its error (even for root)', () => {
    const h = intelHost(null);
    mkdirSync(join(h.root, KBL_FILE), { recursive: true });
    const c = check(h);
    assert.equal(c.status, 'unknown');
    assert.match(c.status === 'unknown' ? c.why : '', /cannot read .*06-8e-0a: EISDIR/);
    const p = host({}, {});
    mkdirSync(join(p.procRoot, 'cpuinfo'));
    assert.match(JSON.stringify(check(p)), /"unknown".*cannot read .*cpuinfo: EISDIR/);
  });

  it('without processor_flags the platform is unknown: no verdict', () => {
    const h = intelHost(intelUpdate({ revision: 0xf4, signature: KBL_SIG, flags: 0x80 }));
    rmSync(join(h.root, KBL_SYSFS));
    const c = check(h);
    assert.equal(c.status, 'unknown');
    assert.match(
      c.status === 'unknown' ? c.why : '',
      /processor_flags: the platform id is unknown/,
    );
  });

  it('no file for this CPU in an installed package: current, nothing available', () => {
    const c = check(intelHost(null));
    assert.deepEqual(c.status === 'current' && [c.running, c.available], ['0xf0', null]);
  });
});

describe('AMD microcode containers', () => {
  // An EPYC 9004 (Genoa): family 25 (19h), model 17, stepping 1.
  const GENOA = { vendor: 'AuthenticAMD', family: 25, model: 17, stepping: 1 };
  const GENOA_SIG = 0xa10f11;
  const FILE = 'lib/firmware/amd-ucode/microcode_amd_fam19h.bin';
  const amdHost = (file: Buffer, revisions = [0xa101148]) =>
    host({ [FILE]: file }, { cpuinfo: cpuinfo({ ...GENOA, revisions }) });
  const container = amdContainer({
    equivalence: [
      { signature: 0xa00f11, id: 0xa011 },
      { signature: GENOA_SIG, id: 0xa111 },
    ],
    patches: [
      { revision: 0xa0011d5, id: 0xa011 },
      { revision: 0xa101154, id: 0xa111, date: 0x09092024 },
      { revision: 0xa101150, id: 0xa111 },
    ],
  });

  it('finds the patch through the equivalence table: newer is pending', () => {
    const h = amdHost(container);
    assert.deepEqual(check(h), {
      status: 'pending',
      cpu: 'amd 25-17-1 (sig 0xa10f11)',
      running: '0xa101148',
      mixed: null,
      available: { revision: '0xa101154', file: join(h.root, FILE), date: '2024-09-09' },
    });
  });

  it('same or newer running revision is current; a CPU not in the table has nothing available', () => {
    assert.equal(check(amdHost(container, [0xa101154])).status, 'current');
    assert.equal(check(amdHost(container, [0xa101160])).status, 'current');
    const other = amdContainer({
      equivalence: [{ signature: 0xa00f11, id: 0xa011 }],
      patches: [{ revision: 0xa0011d5, id: 0xa011 }],
    });
    const c = check(amdHost(other));
    assert.deepEqual(c.status === 'current' && c.available, null);
  });

  it('reads concatenated containers', () => {
    const second = amdContainer({
      equivalence: [{ signature: GENOA_SIG, id: 0xa111 }],
      patches: [{ revision: 0xa10115a, id: 0xa111 }],
    });
    const c = check(amdHost(Buffer.concat([container, second])));
    assert.equal(c.status === 'pending' && c.available?.revision, '0xa10115a');
  });

  it('reads the file of the CPU family only (the one the kernel loads)', () => {
    const h = host(
      { 'lib/firmware/amd-ucode/microcode_amd_fam17h.bin': container },
      { cpuinfo: cpuinfo({ ...GENOA, revisions: [1] }) },
    );
    assert.deepEqual(check(h), {
      status: 'current',
      cpu: 'amd 25-17-1 (sig 0xa10f11)',
      running: '0x1',
      mixed: null,
      available: null,
    });
  });

  it('truncated or foreign containers are one reason (unknown), never a crash', () => {
    const cases: [Buffer, RegExp][] = [
      [container.subarray(0, container.length - 100), /truncated patch/],
      [container.subarray(0, 30), /equivalence table of 48 bytes does not fit/],
      [Buffer.from('PK\x03\x04 a zip file, not microcode'), /not an AMD microcode container/],
      [Buffer.concat([container, Buffer.from([2, 0, 0, 0, 8, 0, 0, 0])]), /unknown section type 2/],
    ];
    for (const [file, why] of cases) {
      const c = check(amdHost(file));
      assert.equal(c.status, 'unknown', JSON.stringify(c));
      assert.match(c.status === 'unknown' ? c.why : '', why);
    }
    for (let n = 0; n <= container.length; n += 5) {
      assert.equal(typeof parseAmdMicrocode(container.subarray(0, n)).ok, 'boolean');
    }
  });
});

describe('where microcode does not apply', () => {
  const pending = intelUpdate({ revision: 0xf4, signature: KBL_SIG, flags: 0x80 });

  it('a VM (hypervisor flag): not applicable, no reason and no note', () => {
    const h = intelHost(pending, { flags: 'fpu vme hypervisor lahf_lm' });
    const r = assessReboot(gatherRebootInput(h));
    assert.deepEqual(r.microcode, {
      status: 'not-applicable',
      why: 'a virtual machine (hypervisor CPU flag)',
    });
    assert.equal(r.required, false);
    assert.deepEqual(
      r.notes.filter((n) => /microcode/.test(n)),
      [],
    );
  });

  it('a container: not applicable', () => {
    const h = intelHost(pending);
    writeFileSync(join(h.root, '.dockerenv'), '');
    const r = assessReboot(gatherRebootInput(h));
    assert.deepEqual(r.microcode, { status: 'not-applicable', why: 'in a container' });
    assert.equal(r.reasons.length, 0);
  });

  it('no firmware installed, or a CPU without files: not applicable', () => {
    const h = host({}, { cpuinfo: cpuinfo({ ...KBL, revisions: [0xf0] }) });
    assert.deepEqual(check(h), {
      status: 'not-applicable',
      why: 'no /lib/firmware/intel-ucode installed',
    });
    const arm = host(
      {},
      { cpuinfo: 'processor\t: 0\nBogoMIPS\t: 50.00\nCPU implementer\t: 0x41\n' },
    );
    assert.equal(check(arm).status, 'not-applicable');
    const via = host({}, { cpuinfo: cpuinfo({ ...KBL, vendor: 'CentaurHauls', revisions: [1] }) });
    assert.deepEqual(check(via), {
      status: 'not-applicable',
      why: 'no microcode files known for CentaurHauls',
    });
  });

  it('reboot.microcode = false: shown as waived, not counted', () => {
    const h = intelHost(pending);
    const r: RebootResult = assessReboot({
      ...gatherRebootInput(h),
      settings: { microcode: false },
    });
    assert.equal(r.required, false);
    assert.deepEqual(r.reasons, []);
    assert.equal(r.waived?.[0]?.reason.type, 'microcode');
    assert.equal(r.waived?.[0]?.by, 'reboot.microcode = false');
  });
});

describe('reboot-required, check and metrics with a pending microcode update', () => {
  const fx = makeProcTree({ 1: FAKE_INIT });
  after(() => fx.cleanup());
  // The scan reads the fake /proc; the microcode check reads its cpuinfo and the root's firmware.
  writeFileSync(join(fx.root, 'cpuinfo'), cpuinfo({ ...KBL, revisions: [0xf0] }));
  const root = join(fx.root, 'fsroot');
  for (const [rel, content] of Object.entries({
    [KBL_SYSFS]: '0x80\n',
    [KBL_FILE]: intelUpdate({ revision: 0xf4, signature: KBL_SIG, flags: 0x80 }),
  })) {
    mkdirSync(dirname(join(root, rel)), { recursive: true });
    writeFileSync(join(root, rel), content);
  }
  const where = ['--proc-root', fx.root, '--root', root];

  it('reboot-required exits 1 with the reason in text and JSON; the switch turns it off', async () => {
    const r = await runCli(['reboot-required', ...where]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stdout,
      /- microcode update pending: running 0xf0, available 0xf4 \(.*06-8e-0a, 2023-02-14\)/,
    );
    const json = JSON.parse((await runCli(['reboot-required', '--json', ...where])).stdout);
    assert.deepEqual(json.reasons, [
      {
        type: 'microcode',
        cpu: 'intel 6-142-10 (sig 0x806ea, flags 0x80)',
        running: '0xf0',
        available: '0xf4',
        file: join(root, KBL_FILE),
        date: '2023-02-14',
      },
    ]);
    const config = join(fx.root, 'afterpatch.toml');
    writeFileSync(config, '[reboot]\nmicrocode = false\n');
    const off = await runCli(['reboot-required', '--config', config, ...where]);
    assert.equal(off.code, 0, off.stderr);
    assert.match(
      off.stdout,
      /note: not counted \(reboot\.microcode = false\): microcode update pending/,
    );
  });

  it('check and metrics report it through the reboot verdict', async () => {
    const state = join(fx.root, 'state');
    const c = await runCli(['check', '--state-dir', state, ...where]);
    assert.equal(c.code, 1, c.stdout + c.stderr);
    assert.match(
      c.stdout,
      /reboot required: microcode update pending: running 0xf0, available 0xf4/,
    );
    const m = await runCli(['metrics', '--state-dir', state, ...where]);
    assert.match(m.stdout, /^afterpatch_reboot_required 1$/m);
  });
});

describe('cross-check with iucode-tool (Debian ships it)', () => {
  let tool: string | null = null;
  try {
    execFileSync('iucode_tool', ['--version'], { stdio: 'ignore' });
    tool = 'iucode_tool';
  } catch {
    tool = null;
  }
  it('iucode-tool reads our Intel fixture as the same signature, flags and revision', {
    skip: tool === null ? 'iucode-tool not installed (.ci/run installs it)' : false,
  }, () => {
    const h = intelHost(
      Buffer.concat([
        intelUpdate({ revision: 0xf4, signature: KBL_SIG, flags: 0xc0, date: 0x02142023 }),
        intelUpdate({
          revision: 0xf6,
          signature: 0x806e9,
          flags: 0x10,
          extended: [{ signature: KBL_SIG, flags: 0x80 }],
        }),
      ]),
    );
    const out = execFileSync('iucode_tool', ['-L', '--strict-checks', join(h.root, KBL_FILE)], {
      encoding: 'utf8',
    });
    assert.match(out, /sig 0x000806ea, pf_mask 0xc0, 2023-02-14, rev 0x00f4/);
    assert.match(out, /sig 0x000806e9, pf_mask 0x10, .* rev 0x00f6/);
    assert.match(out, /sig 0x000806ea, pf_mask 0x80, .* rev 0x00f6/);
    // And we agree on the newest for our CPU (flags 0x80).
    const c = check(h);
    assert.equal(c.status === 'pending' && c.available?.revision, '0xf6');
  });
});
