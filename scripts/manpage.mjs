// Generates afterpatch(8) from one source: the commander program in the built bundle (commands,
// options with their choices and defaults, each command's help epilogue with its exit status)
// plus the hand-written prose in docs/man/afterpatch.8.in (DESCRIPTION, EXIT STATUS,
// ENVIRONMENT, FILES, EXAMPLES, SEE ALSO).
//
//   node scripts/manpage.mjs [--bundle dist/afterpatch.cjs] [--out dist/afterpatch.8]
//
// The date is SOURCE_DATE_EPOCH, else the last commit's date, else today (reproducible builds).
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { loadProgram, programModel } from './cli-model.mjs';

const TEMPLATE = new URL('../docs/man/afterpatch.8.in', import.meta.url);

/** Text for a troff text line or macro argument: backslashes, minus signs, leading control chars. */
export function esc(s) {
  const t = s.replaceAll('\\', '\\e').replaceAll('-', '\\-').replaceAll('"', '\\(dq');
  return /^[.']/.test(t) ? `\\&${t}` : t;
}

/** An option's term: bold names, italic argument, e.g. \fB\-w\fR, \fB\-\-warning\fR \fIrange\fR. */
function optionTerm(o) {
  const names = o.names.map((n) => `\\fB${esc(n)}\\fR`).join(', ');
  if (o.arg === undefined) return names;
  const arg = `\\fI${esc(o.arg)}\\fR`;
  return `${names} ${o.argOptional ? `[${arg}]` : arg}`;
}

/**
 * Help epilogues are wrapped by hand at about 100 columns: a line that does not end a sentence
 * continues the paragraph. Each paragraph becomes a .PP.
 */
function paragraphs(text) {
  const out = [];
  let cur = '';
  for (const line of text.split('\n').map((l) => l.trim())) {
    if (line === '') {
      if (cur) out.push(cur);
      cur = '';
      continue;
    }
    cur = cur ? `${cur} ${line}` : line;
    if (/[.:)]$/.test(line)) {
      out.push(cur);
      cur = '';
    }
  }
  if (cur) out.push(cur);
  return out;
}

function synopsis(model) {
  const lines = [
    `.B ${esc(model.name)}`,
    model.options.map((o) => `[${o.names.map((n) => `\\fB${esc(n)}\\fR`).join('|')}]`).join(' '),
  ];
  for (const c of model.commands) {
    const required = c.options
      .filter((o) => o.mandatory)
      .map((o) => `${optionTerm({ ...o, names: [o.long ?? o.names[0]] })}`);
    const rest = [
      ...required,
      ...(c.options.some((o) => !o.mandatory) ? ['[\\fIoptions\\fR]'] : []),
      ...(c.args ? [esc(c.args).replace(/\[(\w+)\]/g, '[\\fI$1\\fR]')] : []),
    ];
    lines.push('.br', `.B ${esc(`${model.name} ${c.name}`)}`, rest.join(' '));
  }
  return lines.join('\n');
}

function commands(model) {
  const out = [];
  out.push('.SS Options of every command');
  for (const o of model.options) out.push('.TP', optionTerm(o), esc(o.help));
  for (const c of model.commands) {
    out.push(`.SS "${esc(`${model.name} ${c.name}`)}${c.args ? ` ${esc(c.args)}` : ''}"`);
    out.push(`${esc(c.description.charAt(0).toUpperCase() + c.description.slice(1))}.`);
    for (const o of c.options) out.push('.TP', optionTerm(o), esc(o.help));
    if (c.epilogue) for (const p of paragraphs(c.epilogue)) out.push('.PP', esc(p));
  }
  return out.join('\n');
}

function buildDate() {
  const epoch = process.env.SOURCE_DATE_EPOCH;
  if (epoch && /^\d+$/.test(epoch))
    return new Date(Number(epoch) * 1000).toISOString().slice(0, 10);
  try {
    const d = execFileSync('git', ['log', '-1', '--format=%cs'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    if (/^\d{4}-\d\d-\d\d$/.test(d)) return d;
  } catch {
    // not a git checkout: fall through
  }
  return new Date().toISOString().slice(0, 10);
}

/** The man page text for a program model. Throws when the prose misses a command. */
export function renderManPage(
  model,
  template = readFileSync(TEMPLATE, 'utf8'),
  date = buildDate(),
) {
  // EXIT STATUS must have a paragraph (.TP, then .B NAME) for every command, and none for
  // commands that do not exist: a new or renamed command fails the build until it is documented.
  const section = /^\.SH EXIT STATUS\n([\s\S]*?)^\.SH /m.exec(template)?.[1] ?? '';
  const documented = [...section.matchAll(/^\.TP\n\.B (\S+)$/gm)].map((m) =>
    (m[1] ?? '').replaceAll('\\-', '-'),
  );
  const names = model.commands.map((c) => c.name);
  const missing = names.filter((n) => !documented.includes(n));
  const extra = documented.filter((n) => !names.includes(n));
  if (missing.length || extra.length) {
    throw new Error(
      `docs/man/afterpatch.8.in, EXIT STATUS: ${missing.length ? `missing ${missing.join(', ')}` : ''}${
        extra.length ? ` unknown ${extra.join(', ')}` : ''
      }`,
    );
  }
  const fills = {
    '@DATE@': date,
    '@VERSION@': model.version,
    '@SYNOPSIS@': synopsis(model),
    '@COMMANDS@': commands(model),
  };
  let text = template;
  for (const [k, v] of Object.entries(fills)) text = text.replaceAll(k, v);
  const left = /@[A-Z]+@/.exec(text);
  if (left) throw new Error(`docs/man/afterpatch.8.in: unknown placeholder ${left[0]}`);
  return text;
}

const isMain = process.argv[1] && new URL(import.meta.url).pathname === process.argv[1];
if (isMain) {
  const { values } = parseArgs({
    options: {
      bundle: { type: 'string', default: 'dist/afterpatch.cjs' },
      out: { type: 'string', default: 'dist/afterpatch.8' },
      template: { type: 'string', default: TEMPLATE.pathname },
    },
  });
  const template = readFileSync(values.template, 'utf8');
  const text = renderManPage(programModel(loadProgram(values.bundle)), template);
  mkdirSync(dirname(values.out), { recursive: true });
  writeFileSync(values.out, text);
  console.log(`wrote ${values.out}`);
}
