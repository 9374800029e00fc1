// Property tests of the parsers that see bytes a local user controls (issue 12): maps lines,
// cgroup lines, status, cmdline, the TOML configuration, report documents and the Ansible
// module's arguments (the property over them: ansible-module.integration.test.ts). Each may only return, or throw its documented error type, and must answer
// within a bound per input; text it produces for a terminal carries no control character.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { containerFromCgroup } from '../../src/cgroup/container.ts';
import { parseCgroupFile, parseCgroupLine } from '../../src/cgroup/parse.ts';
import { parseConfig } from '../../src/config/load.ts';
import { UserError } from '../../src/errors.ts';
import { mergeFleet, parseInput } from '../../src/fleet/merge.ts';
import { firstMappedPath } from '../../src/interp/detect.ts';
import { formatFleet } from '../../src/output/fleet.ts';
import { PLAIN } from '../../src/output/style.ts';
import { deletedMappings, parseMaps, parseMapsLine } from '../../src/procfs/maps.ts';
import { parseCmdline, parseStatus } from '../../src/procfs/status.ts';
import { noiseMatcher } from '../../src/scan/noise.ts';
import { MODULES, moduleRunner, skipModule, text } from '../helpers/ansible-fuzz.ts';

/** Per input; generous for a loaded 2-core machine, far below any hang. */
const BOUND_MS = 1000;
const RUNS = { numRuns: 400 };

/** Runs f, failing when one input takes longer than the bound. */
function timed<T>(f: () => T): T {
  const t0 = performance.now();
  const out = f();
  const ms = performance.now() - t0;
  assert.ok(ms < BOUND_MS, `one input took ${ms.toFixed(0)} ms`);
  return out;
}

const hostileBytes = fc.uint8Array({ maxLength: 2000 });

function noUnsafe(s: string, what: string): void {
  for (const ch of s) {
    const c = ch.codePointAt(0) ?? 0;
    const bad =
      (c < 0x20 && c !== 0x0a) ||
      (c >= 0x7f && c <= 0x9f) ||
      (c >= 0x202a && c <= 0x202e) ||
      (c >= 0x2066 && c <= 0x2069) ||
      c === 0x2028 ||
      c === 0x2029 ||
      (c >= 0xd800 && c <= 0xdfff);
    assert.ok(!bad, `${what}: U+${c.toString(16)} in ${JSON.stringify(s)}`);
  }
}

describe('fuzz: /proc parsers', () => {
  it('maps lines and whole maps files never throw', () => {
    const line = fc
      .tuple(
        fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), maxLength: 16 }),
        fc.constantFrom('r-xp', 'rw-p', 'r--s', '----', 'x'),
        fc.nat(),
        text,
        fc.boolean(),
      )
      .map(
        ([a, perms, inode, path, del]) =>
          `${a}-${a}1 ${perms} 00000000 fe:00 ${inode}   ${path}${del ? ' (deleted)' : ''}`,
      );
    fc.assert(
      fc.property(fc.oneof(text, line), (l) => {
        const m = timed(() => parseMapsLine(l));
        if (m !== null) assert.equal(typeof m.path, 'string');
      }),
      RUNS,
    );
    fc.assert(
      fc.property(fc.array(fc.oneof(text, line), { maxLength: 40 }), (ls) => {
        timed(() => parseMaps(ls.join('\n')));
        const buf = Buffer.from(ls.join('\n'), 'utf8');
        for (const m of timed(() => deletedMappings(buf, buf.length))) {
          assert.ok(m.deleted && m.path.startsWith('/'));
        }
      }),
      RUNS,
    );
    fc.assert(
      fc.property(hostileBytes, fc.nat(3000), (bytes, len) => {
        const buf = Buffer.from(bytes);
        timed(() => deletedMappings(buf, Math.min(len, buf.length)));
        timed(() => firstMappedPath(buf, Math.min(len, buf.length)));
      }),
      RUNS,
    );
  });

  it('cgroup lines and files never throw; container ids are whatever the name held', () => {
    const cgLine = fc
      .tuple(
        fc.constantFrom('0', '1', '12', 'x', ''),
        fc.constantFrom('', 'name=systemd', 'cpu,cpuacct'),
        fc.array(text, { maxLength: 6 }),
      )
      .map(([h, c, parts]) => `${h}:${c}:/${parts.join('/')}`);
    fc.assert(
      fc.property(fc.array(fc.oneof(text, cgLine), { maxLength: 10 }), (ls) => {
        for (const l of ls) timed(() => parseCgroupLine(l));
        const path = timed(() => parseCgroupFile(ls.join('\n')));
        if (path !== null) {
          assert.ok(path.startsWith('/'));
          timed(() => containerFromCgroup(path));
        }
      }),
      RUNS,
    );
  });

  it('status and cmdline never throw', () => {
    const statusText = fc
      .array(fc.tuple(fc.constantFrom('Name', 'PPid', 'Uid', 'NSpid', 'x', ''), text), {
        maxLength: 12,
      })
      .map((kv) => kv.map(([k, v]) => `${k}:\t${v}`).join('\n'));
    fc.assert(
      fc.property(fc.oneof(text, statusText), (s) => {
        const st = timed(() => parseStatus(s));
        assert.equal(typeof st.name, 'string');
        assert.equal(typeof st.ppid, 'number');
      }),
      RUNS,
    );
    fc.assert(
      fc.property(text, (s) => {
        const argv = timed(() => parseCmdline(s));
        assert.ok(Array.isArray(argv));
      }),
      RUNS,
    );
  });
});

describe('fuzz: the configuration', () => {
  /** Throws anything but UserError out of the property. */
  const onlyUserError = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      if (!(e instanceof UserError)) throw e;
      assert.equal(e.message.includes('\n'), false, `one line: ${e.message}`);
    }
  };

  it('any text: a config or a UserError, nothing else', () => {
    const toml = fc
      .array(
        fc.oneof(
          fc.constantFrom(
            '[scan]',
            '[restart]',
            '[hooks]',
            '[[x]]',
            'scan.interpreted = true',
            'a = [',
            '"',
          ),
          fc
            .tuple(
              fc.constantFrom('ignore_files', 'ignore_processes', 'jobs', 'apt', 'x'),
              fc.jsonValue({ maxDepth: 2 }),
            )
            .map(([k, v]) => `${k} = ${JSON.stringify(v)}`),
          text,
        ),
        { maxLength: 12 },
      )
      .map((ls) => ls.join('\n'));
    fc.assert(
      fc.property(fc.oneof(text, toml), (t) => {
        timed(() => onlyUserError(() => parseConfig(t, '/etc/afterpatch/afterpatch.toml')));
      }),
      RUNS,
    );
  });

  it('any accepted ignore_files pattern matches hostile paths in bounded time (ReDoS)', () => {
    // Nested quantifiers, alternations and classes: the shapes that backtrack exponentially.
    const atom = fc.constantFrom(
      'a',
      '.',
      '\\w',
      '[a-z]',
      '(a|aa)',
      '(a|a?)',
      '\\d',
      '(?:a+)',
      '(a*)*',
    );
    const quant = fc.constantFrom('', '+', '*', '?', '{1,9}', '+?');
    const pattern = fc
      .array(fc.tuple(atom, quant), { minLength: 1, maxLength: 5 })
      .map((xs) => `^/(${xs.map(([a, q]) => a + q).join('')})+$`);
    const path = fc
      .tuple(
        fc.constantFrom('a', '1', 'aa', 'ab'),
        fc.integer({ min: 10, max: 5000 }),
        fc.constantFrom('!', '', '\0'),
      )
      .map(([c, n, end]) => `/${c.repeat(n)}${end}`);
    fc.assert(
      fc.property(fc.oneof(pattern, text), path, (p, x) => {
        let matcher: ((s: string) => string | null) | null = null;
        onlyUserError(() => {
          const c = parseConfig(`[scan]\nignore_files = [${JSON.stringify(p)}]\n`, 'f.toml');
          matcher = noiseMatcher({ extra: c.scan.ignore_files });
        });
        if (matcher !== null) {
          const m: (s: string) => string | null = matcher;
          timed(() => m(x));
        }
      }),
      { numRuns: 200 },
    );
  });
});

describe('fuzz: report documents', () => {
  const part = fc.record(
    {
      entries: fc.array(
        fc.record(
          {
            key: text,
            unit: fc.oneof(text, fc.constant(null)),
            severity: fc.constantFrom('code', 'data', 5),
            packages: fc.array(text, { maxLength: 3 }),
          },
          { requiredKeys: [] },
        ),
        { maxLength: 4 },
      ),
      plan: fc.array(
        fc.record({ unit: text, action: fc.constantFrom('restart', 'advise', 'skip') }),
        { maxLength: 3 },
      ),
      results: fc.array(
        fc.record({ unit: text, outcome: fc.oneof(fc.constantFrom('verified', 'failed'), text) }),
        { maxLength: 3 },
      ),
      required: fc.oneof(fc.boolean(), fc.jsonValue()),
      reasons: fc.array(
        fc.oneof(
          fc.record({
            type: fc.constantFrom('sentinel', 'kernel-newer', 'stale-package'),
            file: text,
            package: text,
            packages: fc.array(text),
          }),
          fc.jsonValue(),
        ),
        { maxLength: 3 },
      ),
      time: fc.oneof(
        text,
        fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
      ),
      formatVersion: fc.constantFrom(1, 2, '1'),
    },
    { requiredKeys: [] },
  );
  const doc = fc.oneof(
    fc.jsonValue({ maxDepth: 3 }),
    fc.record(
      {
        host: text,
        failed: fc.boolean(),
        msg: text,
        scan: fc.oneof(part, fc.constant(null)),
        restart: part,
        reboot: part,
      },
      { requiredKeys: ['host'] },
    ),
    fc
      .tuple(
        fc.constantFrom('afterpatch-scan', 'afterpatch-restart', 'afterpatch-reboot', 'x'),
        text,
        part,
      )
      .map(([format, hostname, p]) => ({ ...p, format, formatVersion: 1, hostname })),
  );

  it('any input: a fleet view whose text is terminal-safe, or a one-line input error', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.array(doc, { maxLength: 5 }).map((ds) => ds.map((d) => JSON.stringify(d)).join('\n')),
          text,
        ),
        (input) => {
          try {
            const view = timed(() => mergeFleet(parseInput(input, 'in.jsonl')));
            const out = timed(() => formatFleet(view, PLAIN));
            noUnsafe(out, 'report text');
            for (const h of view.hosts) {
              if (h.clean)
                assert.ok(
                  h.sources.some((s) => s !== 'status'),
                  'clean only on a result',
                );
            }
          } catch (e) {
            // A FleetInputError (a UserError) names a file and line; a UserError the whole input.
            if (!(e instanceof UserError)) throw e;
            assert.equal(e.message.includes('\n'), false);
          }
        },
      ),
      RUNS,
    );
  });
});

// The modules' arguments: the inputs the property found, here; the property itself runs many
// module processes and lives in test/fuzz/ansible-module.integration.test.ts.
for (const mod of MODULES)
  describe(`fuzz: the Ansible module arguments, ${mod.name}`, { skip: skipModule(mod) }, () => {
    const run = moduleRunner(mod);

    it('an arguments file that is no JSON object: one JSON object, failed', async () => {
      // Found by the property (counterexample "0"): Ansible's own loader crashed on it.
      for (const a of ['0', '"x"', '[]', 'null']) {
        const r = await run(a);
        const out = JSON.parse(r.stdout) as { failed: boolean; msg: string };
        assert.equal(out.failed, true, a);
        assert.equal(out.msg.includes('\n'), false, out.msg);
      }
    });
  });
