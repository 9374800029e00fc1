// The pure part of the interpreted-code detector: interpreters, argv parsing, start times.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  changedAfterStart,
  Executables,
  firstMappedPath,
  formatDevice,
  interpreterOf,
  parseBtime,
  parseProgram,
  parseStartTicks,
  pythonModuleCandidates,
  resolveProgramPath,
  startTimeMs,
} from '../../src/interp/detect.ts';
import { loadedFindings } from '../../src/interp/evidence.ts';
import type { RawInterp } from '../../src/interp/read.ts';

describe('interpreterOf', () => {
  it('recognises interpreters by the executable base name', () => {
    assert.equal(interpreterOf('/usr/bin/python3.11'), 'python');
    assert.equal(interpreterOf('/usr/bin/python3'), 'python');
    assert.equal(interpreterOf('/usr/bin/python3.11 (deleted)'), 'python');
    assert.equal(interpreterOf('/usr/bin/perl'), 'perl');
    assert.equal(interpreterOf('/usr/bin/perl5.36.0'), 'perl');
    assert.equal(interpreterOf('/usr/bin/ruby3.1'), 'ruby');
    assert.equal(interpreterOf('/usr/local/bin/node'), 'node');
    assert.equal(interpreterOf('/usr/lib/jvm/java-17-openjdk-amd64/bin/java'), 'java');
    assert.equal(interpreterOf('/usr/bin/python3-config'), null);
    assert.equal(interpreterOf('/usr/sbin/nginx'), null);
    assert.equal(interpreterOf('/usr/bin/perldoc'), null);
  });

  it('takes the executable from the first file mapping of a maps buffer', () => {
    const text = [
      '55d0c0a00000-55d0c0a6e000 r--p 00000000 fe:00 1234                       /usr/bin/python3.11',
      '7f0000000000-7f0000001000 r-xp 00000000 fe:00 99 /usr/lib/x86_64-linux-gnu/libc.so.6',
      '',
    ].join('\n');
    const buf = Buffer.from(text);
    assert.equal(firstMappedPath(buf, buf.length), '/usr/bin/python3.11');
    const odd = Buffer.from('5000-6000 r-xp 00000000 fe:00 7 /opt/a\\012b/node\n');
    assert.equal(firstMappedPath(odd, odd.length), '/opt/a\nb/node');
    const anon = Buffer.from('5000-6000 rw-p 00000000 00:00 0 \n');
    assert.equal(firstMappedPath(anon, anon.length), null);
  });
});

describe('Executables', () => {
  it('answers as firstMappedPath and interpreterOf do, over a shared buffer, with repeats', () => {
    const path = fc.oneof(
      fc.constantFrom(
        '/usr/bin/python3.11',
        '/usr/bin/perl',
        '/usr/sbin/sshd',
        '/opt/a\\012b/node',
      ),
      fc.string({ unit: 'binary', maxLength: 30 }).map((p) => `/${p.replaceAll('\n', '')}`),
    );
    const maps = fc.oneof(
      path.map(
        (p) => `5000-6000 r-xp 00000000 fe:00 7 ${p}\n7f00-7f01 r-xp 00000000 fe:00 8 /lib/x.so\n`,
      ),
      path.map((p) => `5000-6000 rw-p 00000000 00:00 0 \n6000-7000 r-xp 00000000 fe:00 7 ${p}`),
      fc.constant('5000-6000 rw-p 00000000 00:00 0 \n'),
      fc.constant(''),
    );
    fc.assert(
      fc.property(fc.array(maps, { maxLength: 40 }), (texts) => {
        const exes = new Executables();
        // One buffer for all, as a thread's reader has: bytes of earlier files lie beyond len.
        const buf = Buffer.alloc(4096, 0x2f);
        for (const text of texts) {
          const len = buf.write(text, 0, 'utf8');
          const want = firstMappedPath(buf, len);
          const got = exes.of(buf, len);
          assert.equal(got?.path ?? null, want);
          assert.equal(got?.interpreter ?? null, want === null ? null : interpreterOf(want));
        }
      }),
      { numRuns: 300 },
    );
  });

  it('gives the same record to processes running the same program', () => {
    const exes = new Executables();
    const a = Buffer.from('5000-6000 r-xp 00000000 fe:00 7 /usr/bin/python3\n');
    const b = Buffer.from('5000-6000 r-xp 00000000 fe:00 9 /usr/bin/python3\n');
    assert.equal(exes.of(a, a.length), exes.of(b, b.length));
    assert.equal(exes.of(b, b.length)?.interpreter, 'python');
  });
});

describe('parseProgram', () => {
  it('python: script, -m module, -c, options with values', () => {
    assert.deepEqual(parseProgram('python', ['python3', 'script.py', '--x']), {
      type: 'script',
      path: 'script.py',
    });
    assert.deepEqual(parseProgram('python', ['python3', '-m', 'http.server', '8000']), {
      type: 'module',
      name: 'http.server',
    });
    assert.deepEqual(parseProgram('python', ['python3', '-mhttp.server']), {
      type: 'module',
      name: 'http.server',
    });
    assert.deepEqual(
      parseProgram('python', ['python3', '-u', '-W', 'ignore', '-X', 'dev', 'a.py']),
      {
        type: 'script',
        path: 'a.py',
      },
    );
    assert.deepEqual(parseProgram('python', ['python3', '-Wignore', '-IBu', 'a.py']), {
      type: 'script',
      path: 'a.py',
    });
    assert.deepEqual(parseProgram('python', ['python3', '-c', 'import os']), { type: 'inline' });
    assert.deepEqual(parseProgram('python', ['python3', '-uc', 'x']), { type: 'inline' });
    assert.deepEqual(parseProgram('python', ['python3']), { type: 'none' });
    assert.deepEqual(parseProgram('python', ['python3', '--', '-weird.py']), {
      type: 'script',
      path: '-weird.py',
    });
  });

  it('perl: -w x.pl, -e, -I dir, -Mmod', () => {
    assert.deepEqual(parseProgram('perl', ['perl', '-w', 'x.pl']), {
      type: 'script',
      path: 'x.pl',
    });
    assert.deepEqual(parseProgram('perl', ['perl', '-I', '/lib', '-MStrict', '-T', 'x.pl']), {
      type: 'script',
      path: 'x.pl',
    });
    assert.deepEqual(parseProgram('perl', ['perl', '-wle', 'print 1']), { type: 'inline' });
    assert.deepEqual(parseProgram('perl', ['perl', '-0777', '-n', 'y.pl']), {
      type: 'script',
      path: 'y.pl',
    });
  });

  it('node: flags before the script, --require with a value, -e', () => {
    assert.deepEqual(parseProgram('node', ['node', '--flag', 'app.js']), {
      type: 'script',
      path: 'app.js',
    });
    assert.deepEqual(
      parseProgram('node', ['node', '--max-old-space-size=512', '-r', 'dotenv/config', 'srv.mjs']),
      { type: 'script', path: 'srv.mjs' },
    );
    assert.deepEqual(parseProgram('node', ['node', '--require=x', 'a.js']), {
      type: 'script',
      path: 'a.js',
    });
    assert.deepEqual(parseProgram('node', ['node', '-e', 'x']), { type: 'inline' });
    assert.deepEqual(parseProgram('node', ['node', '-pe', 'x']), { type: 'inline' });
    assert.deepEqual(parseProgram('node', ['node']), { type: 'none' });
  });

  it('ruby and java', () => {
    assert.deepEqual(parseProgram('ruby', ['ruby', '-I', 'lib', '-rjson', 'app.rb']), {
      type: 'script',
      path: 'app.rb',
    });
    assert.deepEqual(parseProgram('ruby', ['ruby', '-e', 'x']), { type: 'inline' });
    assert.deepEqual(parseProgram('java', ['java', '-Xmx1g', '-jar', 'x.jar', 'arg']), {
      type: 'jar',
      path: 'x.jar',
    });
    assert.deepEqual(parseProgram('java', ['java', '-cp', 'a.jar:b.jar', 'org.Main']), {
      type: 'class',
      name: 'org.Main',
    });
    assert.deepEqual(parseProgram('java', ['java', '-m', 'mod/org.Main']), {
      type: 'module',
      name: 'mod/org.Main',
    });
  });

  it('names with spaces, quotes and newlines are kept verbatim', () => {
    const name = '/srv/my app/it\'s "x"\nrm -rf.py';
    assert.deepEqual(parseProgram('python', ['python3', name]), { type: 'script', path: name });
    assert.deepEqual(parseProgram('perl', ['perl', name]), { type: 'script', path: name });
  });
});

describe('paths and times', () => {
  it('resolves relative paths against the cwd, in the process own view', () => {
    assert.equal(resolveProgramPath('a.py', '/srv/app'), '/srv/app/a.py');
    assert.equal(resolveProgramPath('../b/a.py', '/srv/app'), '/srv/b/a.py');
    assert.equal(resolveProgramPath('/usr/bin/x', null), '/usr/bin/x');
    assert.equal(resolveProgramPath('a.py', null), null);
    assert.equal(resolveProgramPath('with space/a\nb.py', '/x'), '/x/with space/a\nb.py');
  });

  it('python -m looks only in the packaged module directory, and only for module names', () => {
    assert.deepEqual(pythonModuleCandidates('a.b'), [
      '/usr/lib/python3/dist-packages/a/b.py',
      '/usr/lib/python3/dist-packages/a/b/__main__.py',
      '/usr/lib/python3/dist-packages/a/b/__init__.py',
    ]);
    assert.deepEqual(pythonModuleCandidates('../../etc/x'), []);
  });

  it('reads the start time from field 22 even when comm holds spaces and parentheses', () => {
    const fields = Array.from({ length: 50 }, (_, i) => String(i + 3));
    fields[19] = '12345'; // field 22
    const stat = `42 (a) b (c) ${fields.join(' ')}`;
    assert.equal(parseStartTicks(stat), 12345);
    assert.equal(parseBtime('cpu 1 2\nbtime 1700000000\nprocesses 9\n'), 1700000000);
    assert.equal(startTimeMs(250, 1700000000), 1700000002500);
    assert.equal(changedAfterStart(1000 + 2000, 1000), false);
    assert.equal(changedAfterStart(1000 + 2001, 1000), true);
    assert.equal(formatDevice(0xfe00), 'fe:00');
    assert.equal(formatDevice(0x2a), '00:2a');
  });

  it('judges the script and open files against the start time', () => {
    const st = (ctimeMs: number, nlink = 1) => ({ inode: 5, device: 'fe:00', ctimeMs, nlink });
    const p: RawInterp = {
      pid: 7,
      interpreter: 'python',
      pidNs: null,
      root: '/',
      cwd: '/srv',
      startMs: 10_000,
      program: { type: 'script', path: 'a.py' },
      programPath: '/srv/a.py',
      programStat: st(20_000),
      openFiles: [
        { fd: 3, path: '/srv/old.py', stat: st(1_000, 0) },
        { fd: 4, path: '/srv/same.py', stat: st(11_000) },
        { fd: 5, path: '/tmp/x.py', stat: st(20_000) },
      ],
      mapped: [],
    };
    const tmp = (path: string) => (path.startsWith('/tmp/') ? 'tmp' : null);
    const found = loadedFindings(p, tmp).map((f) => [
      f.path,
      f.evidence.reason,
      f.evidence.confidence,
    ]);
    assert.deepEqual(found, [
      ['/srv/old.py', 'open-file', 'loaded'],
      ['/srv/a.py', 'script', 'loaded'],
    ]);
  });
});
