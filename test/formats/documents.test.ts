// Every published document, from the real command (the bundle) on fixture trees, against its
// JSON Schema file and the valibot schema it is generated from (issue 16.1); the files are what
// scripts/json-schemas.mjs writes from src/formats/.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as v from 'valibot';
import { runCli } from '../../harness/cli.ts';
import { writeCliStandIn } from '../../harness/cli-stand-in.ts';
import { documentJsonSchema, PUBLISHED } from '../../src/formats/json-schema.ts';
import { RestartStateSchema } from '../../src/formats/state.ts';
import { emptyState, readState, writeState } from '../../src/restart/state.ts';
import { writeFakeSystemctl } from '../helpers/fake-systemctl.ts';
import { FAKE_INIT, FAKE_STALE_SSHD, makeProcTree } from '../helpers/fakeproc.ts';
import { publishedSchema, validateDocument } from '../helpers/schema.ts';

const MODULE = fileURLToPath(
  new URL('../../integrations/ansible/library/afterpatch_node', import.meta.url),
);
const PY_MODULE = fileURLToPath(
  new URL('../../integrations/ansible/library/afterpatch.py', import.meta.url),
);

describe('published documents', () => {
  let dir: string;
  let fx: ReturnType<typeof makeProcTree>;
  let env: NodeJS.ProcessEnv;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'afterpatch-formats-'));
    fx = makeProcTree({ 1: FAKE_INIT, 10: FAKE_STALE_SSHD });
    mkdirSync(join(dir, 'bin'));
    writeFakeSystemctl(join(dir, 'bin'));
    env = { ...process.env, PATH: `${join(dir, 'bin')}:${process.env.PATH}` };
    // A host root that needs a reboot (a sentinel naming a package).
    mkdirSync(join(dir, 'root', 'run'), { recursive: true });
    writeFileSync(join(dir, 'root', 'run', 'reboot-required'), '*** System restart required ***\n');
    writeFileSync(join(dir, 'root', 'run', 'reboot-required.pkgs'), 'libc6\n');
    mkdirSync(join(dir, 'state'), { mode: 0o755 });
    writeState(join(dir, 'state'), {
      version: 1,
      units: {
        'system-unit:ssh.service': {
          time: new Date().toISOString(),
          action: 'restart',
          outcome: 'still-stale',
          files: ['12:/usr/lib/libcrypto.so.3'],
        },
      },
    });
    writeFileSync(join(dir, 'afterpatch.toml'), '[restart]\nnever = ["db*.service"]\n');
  });
  after(() => {
    fx.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  const json = async (args: string[], codes: number[]) => {
    const r = await runCli(args, { env });
    assert.ok(codes.includes(r.code), `${args.join(' ')}: exit ${r.code}: ${r.stderr}`);
    return JSON.parse(r.stdout) as Record<string, unknown>;
  };
  const proc = () => ['--proc-root', fx.root];

  it('the schema files are generated from src/formats/ (npm run build writes them)', () => {
    for (const name of PUBLISHED) {
      assert.deepEqual(publishedSchema(name), documentJsonSchema(name), `docs/${name}.schema.json`);
    }
  });

  it('scan --json', async () => {
    const doc = await json(['scan', '--json', ...proc()], [1]);
    validateDocument('scan', doc);
    assert.equal((doc.entries as unknown[]).length, 1);
  });

  it('restart --dry-run --json', async () => {
    const doc = await json(
      ['restart', '--dry-run', '--json', ...proc(), '--state-dir', join(dir, 'state')],
      [0, 1],
    );
    validateDocument('restart', doc);
    assert.equal((doc.plan as unknown[]).length, 1);
  });

  it('reboot-required --json, with reasons', async () => {
    const doc = await json(
      ['reboot-required', '--json', ...proc(), '--root', join(dir, 'root')],
      [1],
    );
    validateDocument('reboot', doc);
    assert.equal(doc.required, true);
    assert.equal(typeof doc.hostname, 'string');
  });

  it('check --json, with a restart state', async () => {
    const doc = await json(
      ['check', '--json', ...proc(), '--state-dir', join(dir, 'state')],
      [1, 2],
    );
    validateDocument('health', doc);
    assert.equal((doc.restart as { outcomes: Record<string, number> }).outcomes['still-stale'], 1);
  });

  it('config --json, defaults and a file', async () => {
    validateDocument('config', await json(['config', '--json', join(dir, 'afterpatch.toml')], [0]));
    // The default file may not exist here: all defaults, file null.
    const r = await runCli(['config', '--json'], { env });
    if (r.code === 0) validateDocument('config', JSON.parse(r.stdout));
  });

  it('report --json over the documents above, and the restart state file', async () => {
    const scan = await json(['scan', '--json', ...proc()], [1]);
    const reboot = await json(
      ['reboot-required', '--json', ...proc(), '--root', join(dir, 'root')],
      [1],
    );
    const file = join(dir, 'docs.json');
    writeFileSync(file, JSON.stringify([scan, reboot, { ...scan, hostname: 'other' }]));
    const doc = await json(['report', '--json', file], [1]);
    validateDocument('fleet', doc);
    assert.equal((doc.summary as { hosts: number }).hosts, 2);
    // The state file written by writeState is what its schema says, and reads back.
    const state = readState(join(dir, 'state'));
    assert.ok(v.safeParse(RestartStateSchema, state).success);
    assert.deepEqual(readState(join(dir, 'nowhere')), emptyState());
  });

  it("the Ansible module's combined per-host object and its slim scan", async () => {
    const wrapper = join(dir, 'afterpatch');
    await writeCliStandIn(wrapper, {
      scan: ['--proc-root', fx.root],
      restart: ['--proc-root', fx.root],
      'reboot-required': ['--proc-root', fx.root, '--root', join(dir, 'root')],
    });
    // Both modules: the Python one (arguments under ANSIBLE_MODULE_ARGS) and the Node.js one.
    const modules = [
      { argv: [process.execPath, MODULE], wrap: false },
      ...(existsSync('/usr/lib/python3/dist-packages/ansible/module_utils/basic.py')
        ? [{ argv: ['/usr/bin/python3', PY_MODULE], wrap: true }]
        : []),
    ];
    for (const [m, args] of modules.flatMap((m) =>
      [
        { afterpatch: wrapper },
        { afterpatch: wrapper, state: 'restarted', _ansible_check_mode: true },
      ].map((a) => [m, a] as const),
    )) {
      const file = join(dir, 'args.json');
      writeFileSync(file, JSON.stringify(m.wrap ? { ANSIBLE_MODULE_ARGS: args } : args));
      const [cmd, ...rest] = m.argv;
      const stdout = await new Promise<string>((resolve) =>
        execFile(cmd ?? '', [...rest, file], { env, cwd: dir }, (_e, out) => resolve(out)),
      );
      const result = JSON.parse(stdout) as Record<string, unknown>;
      assert.equal(result.failed, false, String(result.msg));
      validateDocument('host', result);
      validateDocument('slim-scan', result.scan);
    }
  });
});

describe('the library entry', () => {
  it('exports the document schemas, their types and the typed errors', async () => {
    const api = await import('../../src/index.ts');
    assert.equal(api.DOCUMENTS.scan.schema, api.ScanDocumentSchema);
    assert.ok(new api.EnvironmentError('x') instanceof api.UserError);
    assert.ok(new api.FleetInputError('f', 1, 'bad') instanceof api.UserError);
    const bad = v.safeParse(api.RebootDocumentSchema, { format: 'afterpatch-reboot' });
    assert.equal(bad.success, false);
  });
});
