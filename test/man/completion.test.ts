// Shell completion generated from the commander program (scripts/completion.mjs): the bash
// function is sourced in a real bash and called as bash-completion would, with COMP_WORDS and
// COMP_CWORD; the zsh file must at least parse (zsh -n) when zsh is installed.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { CLI, runCli } from '../../harness/cli.ts';
import { hasTool } from '../../harness/tools.ts';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Script for bash -c: source the completion, set the words, print COMPREPLY one per line. */
const DRIVER =
  // biome-ignore lint/suspicious/noTemplateCurlyInString: bash code, not a JS template
  'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}; _afterpatch; printf "%s\\n" "${COMPREPLY[@]}"';

describe('shell completion', () => {
  let dir: string;
  let bashFile: string;
  let zshFile: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'afterpatch-completion-'));
    await run(process.execPath, [
      join(ROOT, 'scripts/completion.mjs'),
      '--bundle',
      CLI,
      '--out-dir',
      dir,
    ]);
    bashFile = join(dir, 'afterpatch.bash');
    zshFile = join(dir, '_afterpatch');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** Completions for the words typed so far (the last is the one being completed). */
  async function complete(...words: string[]): Promise<string[]> {
    const r = await run(
      'bash',
      ['--noprofile', '--norc', '-c', DRIVER, 'bash', bashFile, ...words],
      {
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
      },
    );
    return r.stdout.split('\n').filter((l) => l !== '');
  }

  it('completes the commands of --help', async () => {
    const help = await runCli(['--help']);
    const lines = help.stdout.split('\n');
    const commands = lines
      .slice(lines.indexOf('Commands:') + 1)
      .map((l) => /^ {2}(\S+)/.exec(l)?.[1])
      .filter((n): n is string => n !== undefined);
    assert.deepEqual(await complete('afterpatch', ''), commands);
    assert.deepEqual(await complete('afterpatch', 're'), ['restart', 'reboot-required', 'report']);
    assert.deepEqual(await complete('afterpatch', '--v'), ['--version']);
    assert.deepEqual(await complete('afterpatch', 'help', 'sc'), ['scan']);
  });

  it('completes the options of scan, exactly those of scan --help', async () => {
    const help = await runCli(['scan', '--help']);
    const names = [
      ...(help.stdout.split('Options:')[1]?.matchAll(/^ {2}(-\w, --[\w-]+|--[\w-]+)/gm) ?? []),
    ].flatMap((m) => (m[1] ?? '').split(', '));
    const got = await complete('afterpatch', 'scan', '-');
    assert.deepEqual([...got].sort(), [...names].sort());
    assert.deepEqual((await complete('afterpatch', 'scan', '--no-')).sort(), [
      '--no-interpreted',
      '--no-packages',
    ]);
    assert.deepEqual(await complete('afterpatch', 'scan', '-q', '--th'), ['--threads']);
  });

  it('completes the choices of --format, also after "="', async () => {
    assert.deepEqual(await complete('afterpatch', 'scan', '--format', ''), ['text', 'json']);
    assert.deepEqual(await complete('afterpatch', 'restart', '--format', 'j'), ['json']);
    // bash splits "--format=j" at "=" (COMP_WORDBREAKS).
    assert.deepEqual(await complete('afterpatch', 'scan', '--format', '=', 'j'), ['json']);
    assert.deepEqual(await complete('afterpatch', 'scan', '--format', '='), ['text', 'json']);
    assert.deepEqual(await complete('afterpatch', 'check', '--metric', ''), [
      'any',
      'processes',
      'units',
      'unmanaged',
      'sessions',
      'containers',
      'vms',
    ]);
  });

  it('completes noise rules, files and process IDs for option arguments', async () => {
    assert.deepEqual(await complete('afterpatch', 'scan', '--include', 'dev'), ['dev-shm', 'dev']);
    const files = await complete('afterpatch', 'scan', '--config', join(ROOT, 'package.'));
    assert.deepEqual(files, [join(ROOT, 'package.json')]);
    const pids = await complete('afterpatch', 'scan', '--pid', '1');
    assert.ok(pids.includes('1'), pids.join(' '));
    // An option argument without a kind completes nothing rather than option names.
    assert.deepEqual(await complete('afterpatch', 'scan', '--lib', ''), []);
  });

  it('completes file names for the arguments of config and report, options after "-"', async () => {
    const pkg = [join(ROOT, 'package.json')];
    assert.deepEqual(await complete('afterpatch', 'config', join(ROOT, 'package.')), pkg);
    assert.deepEqual(await complete('afterpatch', 'config', '-q', join(ROOT, 'package.')), pkg);
    assert.deepEqual(
      await complete('afterpatch', 'config', '--config', join(ROOT, 'package.')),
      pkg,
    );
    assert.deepEqual(await complete('afterpatch', 'report', '--json', join(ROOT, 'package.')), pkg);
    assert.deepEqual((await complete('afterpatch', 'config', '-')).sort(), [
      '--config',
      '--format',
      '--help',
      '--json',
      '--quiet',
      '-h',
      '-q',
    ]);
  });

  it('registers the function for the afterpatch command', () => {
    assert.match(readFileSync(bashFile, 'utf8'), /^complete -F _afterpatch afterpatch$/m);
  });

  it('writes a zsh completion that parses', { skip: !hasTool('zsh') && 'zsh' }, async () => {
    const text = readFileSync(zshFile, 'utf8');
    assert.match(text, /^#compdef afterpatch$/m);
    assert.match(text, /'--format=\[output format\]:format:\(text json\)'/);
    await run('zsh', ['-n', zshFile]);
  });
});
