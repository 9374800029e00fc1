import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  deletedMappings,
  endsWithGateLine,
  forEachDeleted,
  hasDeletedMarker,
  isCode,
  MappedFiles,
  type Mapping,
  mapFilesName,
  parseMaps,
  parseMapsLine,
} from '../../src/procfs/maps.ts';

const PAD = ' '.repeat(19);

describe('endsWithGateLine', () => {
  const gate =
    'ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]\n';
  const line = (path: string) => `7f0000000000-7f0000001000 r-xp 00000000 08:01 42 ${path}\n`;
  const ends = (text: string) => endsWithGateLine(Buffer.from(text, 'latin1'), text.length);

  it('is true only when the last line is the kernel gate VMA', () => {
    assert.equal(ends(line('/usr/lib/a.so') + gate), true);
    assert.equal(ends(gate), true);
    assert.equal(ends(line('/usr/lib/a.so')), false);
    assert.equal(ends(gate + line('/usr/lib/a.so')), false);
    assert.equal(ends(gate.slice(0, -1)), false, 'no end of line: a record cut short');
    assert.equal(ends(''), false);
  });

  it('is never fooled by a path: it must be the start of the last line (a newline in a path is \\012)', () => {
    assert.equal(ends(line('/tmp/ffffffffff600000-ffffffffff601000 [vsyscall]')), false);
    assert.equal(ends(line('/tmp/x\\012ffffffffff600000-ffffffffff601000 y')), false);
  });

  it('looks only at the first len bytes', () => {
    const text = line('/usr/lib/a.so') + gate;
    const buf = Buffer.from(`${text}${line('/usr/lib/b.so')}`, 'latin1');
    assert.equal(endsWithGateLine(buf, text.length), true);
    assert.equal(endsWithGateLine(buf, buf.length), false);
  });
});

describe('parseMapsLine', () => {
  it('parses a file-backed executable mapping', () => {
    const m = parseMapsLine(
      `7f0314ef0000-7f0314ef1000 r-xp 00001000 fe:00 1441826${PAD}/opt/aptest/lib/libfoo.so.1`,
    );
    assert.deepEqual(m, {
      start: '7f0314ef0000',
      end: '7f0314ef1000',
      perms: 'r-xp',
      offset: '00001000',
      device: 'fe:00',
      inode: 1441826,
      path: '/opt/aptest/lib/libfoo.so.1',
      deleted: false,
    });
    assert.equal(m && isCode(m), true);
  });

  it('strips the deleted suffix and keeps spaces inside the path', () => {
    const m = parseMapsLine(`7f00-7f10 r-xp 00000000 08:01 42${PAD}/opt/my app/lib x.so (deleted)`);
    assert.equal(m?.path, '/opt/my app/lib x.so');
    assert.equal(m?.deleted, true);
  });

  it('decodes the kernel escape for newline', () => {
    const m = parseMapsLine(`7f00-7f10 r--p 00000000 08:01 42${PAD}/opt/a\\012b.so (deleted)`);
    assert.equal(m?.path, '/opt/a\nb.so');
  });

  it('treats a path that merely contains "(deleted)" as not deleted', () => {
    const m = parseMapsLine(`7f00-7f10 r--p 00000000 08:01 42${PAD}/opt/x (deleted)/lib.so`);
    assert.equal(m?.deleted, false);
    assert.equal(m?.path, '/opt/x (deleted)/lib.so');
  });

  it('parses anonymous and special mappings', () => {
    assert.equal(parseMapsLine('7ffd-7ffe rw-p 00000000 00:00 0 ')?.path, '');
    assert.equal(parseMapsLine('7ffd-7ffe rw-p 00000000 00:00 0')?.path, '');
    assert.equal(parseMapsLine(`7ffd-7ffe rw-p 00000000 00:00 0${PAD}[stack]`)?.path, '[stack]');
  });

  it('rejects malformed lines', () => {
    assert.equal(parseMapsLine(''), null);
    assert.equal(parseMapsLine('garbage'), null);
    assert.equal(parseMapsLine('7f00-7f10 r-xp 0 08:01 notanumber /x'), null);
    assert.equal(parseMapsLine('7f007f10 r-xp 0 08:01 1 /x'), null);
  });
});

describe('deletedMappings', () => {
  const text = [
    `55e0-55e1 r--p 00000000 fe:00 100${PAD}/usr/bin/prog`,
    `55e1-55e2 r-xp 00001000 fe:00 100${PAD}/usr/bin/prog`,
    `7f00-7f01 r-xp 00001000 fe:00 200${PAD}/usr/lib/libssl.so.3 (deleted)`,
    `7f01-7f02 r--p 00000000 fe:00 300${PAD}/usr/lib/locale/locale-archive (deleted)`,
    `7f02-7f03 rw-s 00000000 00:01 400${PAD}/memfd:jit (deleted)`,
    `7f03-7f04 rw-s 00000000 00:05 0${PAD}/dev/zero (deleted)`,
    `7f04-7f05 r--p 00000000 fe:00 500${PAD}/opt/odd (deleted)/x.so`,
    `7f05-7f06 r-xp 00000000 fe:00 600${PAD}/opt/last.so (deleted)`,
  ].join('\n');

  it('finds exactly the lines ending in the suffix with an inode and a path', () => {
    const buf = Buffer.from(text);
    const got = deletedMappings(buf, buf.length).map((m) => [m.path, m.inode, isCode(m)]);
    assert.deepEqual(got, [
      ['/usr/lib/libssl.so.3', 200, true],
      ['/usr/lib/locale/locale-archive', 300, false],
      ['/memfd:jit', 400, false],
      ['/opt/last.so', 600, true],
    ]);
  });

  it('ignores bytes past the given length', () => {
    const buf = Buffer.from(`${text}\n7f09-7f0a r-xp 0 fe:00 9${PAD}/stale.so (deleted)\n`);
    assert.equal(deletedMappings(buf, Buffer.byteLength(text)).length, 4);
  });

  it('agrees with parseMaps on the deleted file mappings', () => {
    const buf = Buffer.from(text);
    const viaParse = parseMaps(text).filter((m) => m.deleted && m.inode !== 0);
    assert.deepEqual(deletedMappings(buf, buf.length), viaParse);
  });
});

describe('forEachDeleted and mapFilesName', () => {
  const lines = Array.from(
    { length: 10 },
    (_, i) => `7f${i}000-7f${i}100 r-xp 00000000 fe:00 ${100 + i}${PAD}/usr/lib/l${i}.so (deleted)`,
  );
  const text = `${lines.join('\n')}\n00400000-00452000 r-xp 00000000 fe:00 7${PAD}/usr/bin/x\n`;
  const buf = Buffer.from(text);

  it('visits deleted lines in order and only counts them once told to stop', () => {
    const seen: string[] = [];
    const left = forEachDeleted(buf, buf.length, (m) => {
      seen.push(m.path);
      return seen.length < 3;
    });
    assert.deepEqual(seen, ['/usr/lib/l0.so', '/usr/lib/l1.so', '/usr/lib/l2.so']);
    assert.equal(left, 7);
    assert.equal(
      forEachDeleted(buf, buf.length, () => true),
      0,
    );
  });

  it('names the map_files entry without the padding maps prints', () => {
    assert.equal(mapFilesName({ start: '00400000', end: '00452000' }), '400000-452000');
    assert.equal(
      mapFilesName({ start: '7f0314ef0000', end: '7f0314ef1000' }),
      '7f0314ef0000-7f0314ef1000',
    );
    assert.equal(mapFilesName({ start: '00000000', end: '00001000' }), '0-1000');
  });

  it('strips exactly the zeros the kernel pads with, whatever the text', () => {
    // What the padding rule says as a pattern: zeros that lead a lowercase hex digit.
    const byPattern = (h: string) => h.replace(/^0+(?=[0-9a-f])/, '');
    const text = fc.string({
      unit: fc.constantFrom('0', '0', '0', '1', 'a', 'f', 'A', 'g', '-'),
      maxLength: 10,
    });
    fc.assert(
      fc.property(text, text, (start, end) => {
        assert.equal(mapFilesName({ start, end }), `${byPattern(start)}-${byPattern(end)}`);
      }),
    );
  });
});

describe('forEachDeleted on a file mapped several times in a row', () => {
  // Lines whose device, inode and path bytes equal the previous line's reuse its parse: every
  // line must still come out exactly as parseMaps reads it (own range, perms, offset), and a
  // line that differs in device or inode, or whose head is malformed or not ASCII, must not.
  const lib = '/usr/lib/libssl.so.3 (deleted)';
  const text = [
    `7f00-7f01 r--p 00000000 fe:00 200${PAD}${lib}`,
    `7f01-7f02 r-xp 00001000 fe:00 200${PAD}${lib}`,
    `7f02-7f03 rw-p 00002000 fe:00 201${PAD}${lib}`,
    `7f03-7f04 r--p 00003000 fe:01 201${PAD}${lib}`,
    `7f04-7f05 r-x 00004000 fe:01 201${PAD}${lib}`,
    `7f05 r-xp 00005000 fe:01 201${PAD}${lib}`,
    `7f06-7f07 r-xp 0000\u00e9000 fe:01 201${PAD}${lib}`,
    `7f07-7f08 rwxp 00007000 fe:01 201${PAD}${lib}`,
    `7f08-7f09 r--p 00000000 fe:01 201${PAD}/usr/lib/libssl.so.4 (deleted)`,
    `7f09-7f0a r--p 00000000 fe:01 0${PAD}/usr/lib/libssl.so.4 (deleted)`,
    `7f0a-7f0b r--p 00000000 fe:01 0${PAD}/usr/lib/libssl.so.4 (deleted)`,
  ].join('\n');
  const buf = Buffer.from(text);
  const got = deletedMappings(buf, buf.length);

  it('agrees with parseMaps line by line', () => {
    const viaParse = parseMaps(text).filter(
      (m) => m.deleted && m.inode !== 0 && m.path.startsWith('/'),
    );
    assert.deepEqual(got, viaParse);
  });

  it('keeps each line its own head and tells files apart by device and inode', () => {
    assert.deepEqual(
      got.map((m) => [m.start, m.perms, m.offset, m.device, m.inode, m.path]),
      [
        ['7f00', 'r--p', '00000000', 'fe:00', 200, '/usr/lib/libssl.so.3'],
        ['7f01', 'r-xp', '00001000', 'fe:00', 200, '/usr/lib/libssl.so.3'],
        ['7f02', 'rw-p', '00002000', 'fe:00', 201, '/usr/lib/libssl.so.3'],
        ['7f03', 'r--p', '00003000', 'fe:01', 201, '/usr/lib/libssl.so.3'],
        ['7f06', 'r-xp', '0000\u00e9000', 'fe:01', 201, '/usr/lib/libssl.so.3'],
        ['7f07', 'rwxp', '00007000', 'fe:01', 201, '/usr/lib/libssl.so.3'],
        ['7f08', 'r--p', '00000000', 'fe:01', 201, '/usr/lib/libssl.so.4'],
      ],
    );
  });
});

describe('hasDeletedMarker', () => {
  it('finds the marker only within the given length', () => {
    const line = `7f00-7f01 r-xp 00000000 fe:00 200${PAD}/usr/lib/l.so (deleted)`;
    const buf = Buffer.from(`${line}\n`);
    assert.equal(hasDeletedMarker(buf, buf.length), true);
    assert.equal(hasDeletedMarker(buf, line.length - 1), false);
    assert.equal(hasDeletedMarker(buf, 0), false);
  });

  it('is true exactly when the bytes hold " (deleted)" (the search looks for "(" first)', () => {
    // Few distinct characters: markers with and without their space, back to back, at the start.
    const text = fc
      .array(fc.constantFrom(' ', '(', 'deleted', ')', '(deleted)', ' (deleted)', 'x', '\n'), {
        maxLength: 20,
      })
      .map((parts) => parts.join(''));
    fc.assert(
      fc.property(text, fc.nat(4), (t, cut) => {
        const buf = Buffer.from(`${t}(deleted)`, 'latin1');
        const len = Math.max(0, t.length - cut);
        const want = buf.subarray(0, len).toString('latin1').includes(' (deleted)');
        assert.equal(hasDeletedMarker(buf, len), want);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('forEachDeleted against a line-by-line reference', () => {
  // Few distinct values: runs of the same file (the look at the next line, `again`), paths with
  // the marker inside, lines that are not mappings, no newline at the end.
  const line = fc.oneof(
    fc
      .tuple(
        fc.constantFrom('7f00-7f01', '55e0-55e1'),
        fc.constantFrom('r--p', 'r-xp', 'rw-p', '---p'),
        fc.constantFrom('fe:00', '00:2a'),
        fc.constantFrom(0, 5, 6),
        fc.constantFrom(
          '/usr/lib/a.so',
          '/opt/b (deleted) c.so',
          '/opt/c(deleted)',
          '/opt/(deleted)(deleted)',
          '/memfd:x',
          'x.so',
          '/lib/é.so',
          '',
        ),
        fc.boolean(),
      )
      .map(
        ([r, perms, dev, inode, path, del]) =>
          `${r} ${perms} 00000000 ${dev} ${inode}${PAD}${path}${del ? ' (deleted)' : ''}`,
      ),
    fc.constantFrom(
      ' (deleted)',
      'garbage (deleted)',
      '',
      '7f00-7f01 r-xp (deleted)',
      '(deleted)',
      'x(deleted) (deleted)',
    ),
  );
  const maps = fc
    .tuple(fc.array(line, { maxLength: 30 }), fc.boolean())
    .map(([ls, nl]) => `${ls.join('\n')}${nl ? '\n' : ''}`);
  const reference = (text: string) =>
    text
      .split('\n')
      .filter((l) => l.endsWith(' (deleted)'))
      .map(parseMapsLine)
      .filter((m): m is Mapping => m?.deleted === true && m.inode !== 0 && m.path.startsWith('/'));

  it('visits exactly the lines that end in the marker, in order', () => {
    fc.assert(
      fc.property(maps, (text) => {
        const buf = Buffer.from(text);
        assert.deepEqual(deletedMappings(buf, buf.length), reference(text));
      }),
      { numRuns: 500 },
    );
  });

  it('visits the same with files remembered from earlier buffers (one thread, many processes)', () => {
    fc.assert(
      fc.property(fc.array(maps, { minLength: 1, maxLength: 12 }), (texts) => {
        const memo = new MappedFiles();
        // One buffer reused for every text, as a thread reads each process into the same one.
        const buf = Buffer.alloc(64 * 1024, 0x41);
        for (const text of texts) {
          const len = buf.write(text);
          assert.deepEqual(deletedMappings(buf, len), reference(text));
          const seen: Mapping[] = [];
          forEachDeleted(buf, len, (m) => void seen.push(m), undefined, memo);
          assert.deepEqual(seen, reference(text));
        }
      }),
      { numRuns: 300 },
    );
  });

  it('asks `again` only about another mapping of the file just visited, with its exec bit', () => {
    fc.assert(
      fc.property(maps, fc.boolean(), (text, answer) => {
        const buf = Buffer.from(text);
        const seen: [string, number, string, boolean][] = [];
        let last: Mapping | null = null;
        forEachDeleted(
          buf,
          buf.length,
          (m) => {
            last = m;
            seen.push([m.path, m.inode, m.device, isCode(m)]);
            return true;
          },
          (exec) => {
            if (!answer) return null; // visited in full instead
            const m = last as Mapping | null;
            assert.ok(m, 'asked before any visit');
            seen.push([m.path, m.inode, m.device, exec]);
            return true;
          },
        );
        assert.deepEqual(
          seen,
          reference(text).map((m) => [m.path, m.inode, m.device, isCode(m)]),
        );
      }),
      { numRuns: 500 },
    );
  });
});
