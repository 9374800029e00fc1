// afterpatch(8) and `afterpatch --help` agree: the page is generated (scripts/manpage.mjs) from the
// commander program in the bundle, and this test reads --help as a user sees it and looks for
// every command, option (with its choices and default) and help epilogue in the rendered page.
// It also lints the troff (groff -ww, mandoc -T lint when installed) and checks that every
// environment variable afterpatch and its apt hook read, and the files they use, are documented.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { CLI, runCli } from '../../harness/cli.ts';
import { hasTool } from '../../harness/tools.ts';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const GENERATOR = join(ROOT, 'scripts/manpage.mjs');

/** Whitespace collapsed, Unicode minus/hyphen as "-", quotes as the help prints them. */
const norm = (s: string) =>
  s
    .replace(/[\u2212\u2010\u2011]/g, '-')
    .replace(/[\u2018\u2019]/g, "'")
    .replace(/[\u201c\u201d]/g, '"')
    .replace(/\s+/g, ' ')
    .trim();

interface HelpOption {
  term: string;
  names: string[];
  arg: string | undefined;
  description: string;
}

/** The Options block of commander's help: a term, then a description column that may wrap. */
function parseOptions(help: string): HelpOption[] {
  const lines = help.split('\n');
  const start = lines.indexOf('Options:');
  assert.ok(start >= 0, `no Options: in\n${help}`);
  const out: HelpOption[] = [];
  for (const line of lines.slice(start + 1)) {
    if (line.trim() === '' || !line.startsWith('  ')) break;
    const m = /^ {2}(-\S.*?)(?: {2,}(.*))?$/.exec(line);
    if (m?.[1]) {
      const term = m[1].trim();
      out.push({
        term,
        names: term.match(/--?[\w-]+/g) ?? [],
        arg: /[<[]([^>\]]+)[>\]]/.exec(term)?.[1],
        description: m[2] ?? '',
      });
    } else {
      const last = out.at(-1);
      assert.ok(last, `continuation before any option: ${line}`);
      last.description += ` ${line.trim()}`;
    }
  }
  return out;
}

/** What follows the Options block (addHelpText 'after'): the epilogue. */
function epilogue(help: string): string {
  const lines = help.split('\n');
  const start = lines.indexOf('Options:');
  let i = start + 1;
  while (i < lines.length && (lines[i] ?? '').startsWith('  ')) i++;
  return lines.slice(i).join('\n').trim();
}

function parseCommands(help: string): string[] {
  const lines = help.split('\n');
  const start = lines.indexOf('Commands:');
  assert.ok(start >= 0);
  return lines
    .slice(start + 1)
    .map((l) => /^ {2}(\S+)/.exec(l)?.[1])
    .filter((n): n is string => n !== undefined);
}

describe('afterpatch(8)', () => {
  let dir: string;
  let page: string;
  let source: string;
  let rendered: string;
  let renderWarnings: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'afterpatch-man-'));
    page = join(dir, 'afterpatch.8');
    await run(process.execPath, [GENERATOR, '--bundle', CLI, '--out', page], { cwd: ROOT });
    source = readFileSync(page, 'utf8');
    // A wide page without hyphenation, so that no option name is broken across lines.
    const r = await run(
      'groff',
      ['-man', '-Tutf8', '-ww', '-rLL=250n', '-rHY=0', '-P-c', '-P-b', '-P-o', '-P-u', page],
      { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C.UTF-8' } },
    );
    rendered = r.stdout;
    renderWarnings = r.stderr;
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** The rendered text of one command's subsection (from its heading to the next). */
  function section(cmd: string): string {
    const lines = rendered.split('\n');
    const head = lines.findIndex(
      (l) => /^ {3}\S/.test(l) && norm(l).startsWith(`afterpatch ${cmd}`),
    );
    assert.ok(head >= 0, `no subsection for ${cmd} in the man page`);
    let end = head + 1;
    while (end < lines.length && !/^ {0,3}\S/.test(lines[end] ?? '')) end++;
    return norm(lines.slice(head + 1, end).join('\n'));
  }

  it('renders without warnings (groff -ww)', () => {
    assert.equal(renderWarnings, '');
    assert.match(rendered, /^AFTERPATCH\(8\)/);
  });

  it('passes mandoc -T lint at warning level', {
    skip: !hasTool('mandoc') && 'mandoc',
  }, async () => {
    const r = await run('mandoc', ['-T', 'lint', '-W', 'warning', page]).catch(
      (e: { stdout: string; stderr: string }) => e,
    );
    assert.equal(`${r.stdout}${r.stderr}`, '');
  });

  it('renders with man -l', { skip: !hasTool('man') && 'man-db' }, async () => {
    const r = await run('man', ['--warnings', '-l', page], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', MANWIDTH: '80', MANPAGER: 'cat' },
    });
    assert.equal(r.stderr, '');
    assert.match(r.stdout, /EXIT STATUS/);
  });

  it('has every command of --help, each with an EXIT STATUS entry', async () => {
    const help = await runCli(['--help']);
    assert.equal(help.code, 0);
    const commands = parseCommands(help.stdout);
    assert.ok(commands.includes('scan') && commands.includes('check'), help.stdout);
    const exitSection = /^\.SH EXIT STATUS\n([\s\S]*?)^\.SH /m.exec(source)?.[1] ?? '';
    for (const c of commands) {
      section(c);
      assert.match(
        exitSection,
        new RegExp(`^\\.TP\\n\\.B ${c.replaceAll('-', '\\\\-')}$`, 'm'),
        `EXIT STATUS: ${c}`,
      );
    }
    // The program's own options (--version, --help) too.
    for (const o of parseOptions(help.stdout))
      for (const n of o.names) assert.ok(norm(rendered).includes(n));
  });

  it('has every option of every command, with the description, choices and default of --help', async () => {
    const commands = parseCommands((await runCli(['--help'])).stdout).filter((c) => c !== 'help');
    for (const c of commands) {
      const help = await runCli([c, '--help']);
      assert.equal(help.code, 0, help.stderr);
      const text = section(c);
      const options = parseOptions(help.stdout);
      assert.ok(options.length > 1, `${c}: no options parsed`);
      for (const o of options) {
        const term = `${o.names.join(', ')}${o.arg ? ` ${o.arg}` : ''}`;
        assert.ok(text.includes(term), `${c}: man page lacks option ${term}`);
        assert.ok(text.includes(norm(o.description)), `${c} ${term}: "${o.description}"`);
      }
      // No option in the page that --help does not show (e.g. hidden test options).
      const heading = `"afterpatch ${c.replaceAll('-', '\\-')}"`;
      // The heading may name the command's arguments: "afterpatch report [files]".
      const block =
        source
          .split(/^\.SS /m)
          .find((s) => s.startsWith(heading) || s.startsWith(`${heading.slice(0, -1)} `)) ?? '';
      assert.equal((block.match(/^\.TP$/gm) ?? []).length, options.length, `${c}: option count`);
      const tail = epilogue(help.stdout);
      assert.ok(tail.includes('Exit status'), `${c}: --help has no exit status`);
      assert.ok(text.includes(norm(tail)), `${c}: man page lacks the help epilogue:\n${tail}`);
    }
  });

  it('documents every environment variable afterpatch and its apt hook read', () => {
    const names = new Set<string>(['NO_COLOR', 'AFTERPATCH_DEBUG', 'AFTERPATCH_SKIP']);
    const hook = readFileSync(join(ROOT, 'integrations/apt/afterpatch-apt-hook'), 'utf8');
    for (const m of hook.matchAll(/\$\{(AFTERPATCH_[A-Z_]+)/g)) if (m[1]) names.add(m[1]);
    for (const f of readdirSync(join(ROOT, 'src'), { recursive: true })) {
      if (!String(f).endsWith('.ts')) continue;
      const text = readFileSync(join(ROOT, 'src', String(f)), 'utf8');
      for (const m of text.matchAll(/\benv\.([A-Z][A-Z0-9_]+)/g)) if (m[1]) names.add(m[1]);
    }
    const env = norm(/^ENVIRONMENT\n([\s\S]*?)^FILES/m.exec(rendered)?.[1] ?? '');
    for (const n of [...names].filter((x) => x !== 'PATH')) {
      assert.ok(env.includes(n), `ENVIRONMENT lacks ${n}`);
    }
  });

  it('documents the files afterpatch reads and writes', () => {
    const files = norm(/^FILES\n([\s\S]*?)^EXAMPLES/m.exec(rendered)?.[1] ?? '');
    for (const f of [
      '/etc/afterpatch/afterpatch.toml',
      '/var/lib/afterpatch/state.json',
      '/var/lib/afterpatch/lock',
      '/run/reboot-required',
      '/run/reboot-required.pkgs',
      '/run/reboot-needed',
      '/etc/apt/apt.conf.d/50afterpatch',
      '/usr/lib/afterpatch/apt-hook',
      '/proc/PID/maps',
      'afterpatch-metrics.timer',
      'afterpatch-restart.service',
    ]) {
      assert.ok(files.includes(f), `FILES lacks ${f}`);
    }
  });

  it('refuses to generate a page whose EXIT STATUS misses a command', async () => {
    const template = readFileSync(join(ROOT, 'docs/man/afterpatch.8.in'), 'utf8');
    const bad = join(dir, 'bad.8.in');
    writeFileSync(bad, template.replace(/^\.TP\n\.B check\n/m, ''));
    const r = await run(process.execPath, [
      GENERATOR,
      '--bundle',
      CLI,
      '--template',
      bad,
      '--out',
      join(dir, 'bad.8'),
    ]).catch((e: { code: number; stderr: string }) => e);
    assert.ok('code' in r && r.code !== 0);
    assert.match(r.stderr, /EXIT STATUS: missing check/);
  });
});
