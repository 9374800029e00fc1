// Interpreted programs (Python, Perl, Ruby, Node.js, Java): the pure part of the detector.
// Recognises an interpreter from its executable's path and finds the program it runs from its
// argv, WITHOUT running anything: argv is only parsed, never trusted as configuration, and nothing
// it names is imported, executed or required (docs/interpreted.md).
import { posix } from 'node:path';
import { bounded, RecentBytes } from '../procfs/maps.ts';
import { statFields } from '../procfs/status.ts';

export type Interpreter = 'python' | 'perl' | 'ruby' | 'node' | 'java';

/** What the interpreter runs, as far as its argv tells. */
export type Program =
  /** A script file (path as given: relative paths are relative to the process's cwd). */
  | { type: 'script'; path: string }
  /** `python3 -m name`, `java -m name`: a module found through a search path we cannot know. */
  | { type: 'module'; name: string }
  /** `java -jar file` */
  | { type: 'jar'; path: string }
  /** `java Main`: a class on the class path. */
  | { type: 'class'; name: string }
  /** `-c`/`-e`/`--eval`: code on the command line, or the program comes from stdin. */
  | { type: 'inline' }
  | { type: 'none' };

const INTERPRETERS: readonly [RegExp, Interpreter][] = [
  [/^python(?:[23](?:\.\d+)?)?[dmu]?$/, 'python'],
  [/^perl(?:5(?:\.\d+)*)?$/, 'perl'],
  [/^ruby(?:\d+(?:\.\d+)*)?$/, 'ruby'],
  [/^(?:node|nodejs)$/, 'node'],
  [/^java$/, 'java'],
];

/** The interpreter an executable path stands for (by its base name), or null. */
export function interpreterOf(exePath: string): Interpreter | null {
  const path = exePath.endsWith(' (deleted)') ? exePath.slice(0, -' (deleted)'.length) : exePath;
  const base = path.slice(path.lastIndexOf('/') + 1);
  for (const [re, kind] of INTERPRETERS) if (re.test(base)) return kind;
  return null;
}

/**
 * The path of the first file mapping in a maps buffer (the executable: mappings are listed by
 * address and the program's image sits below every library and the stack), or null.
 * Reads only the first line(s); the kernel escapes a newline in a path as `\012`.
 */
export function firstMappedPath(buf: Buffer, len: number): string | null {
  const view = bounded(buf, len);
  const start = firstPathStart(view);
  return start === -1 ? null : decodePath(view, start, lineEnd(view, start));
}

/** An executable as the scan's threads see it: its path and the interpreter it stands for. */
export interface Executable {
  path: string;
  interpreter: Interpreter | null;
}

/**
 * firstMappedPath and interpreterOf for one thread's processes, remembering the last few
 * executables by their bytes: most processes run one of a few programs, and the path was decoded
 * and matched against the interpreters' patterns for each of 10,000 processes (~2 µs each).
 */
export class Executables {
  readonly #recent = new RecentBytes<Executable>();

  /** The executable of the maps buffer's first `len` bytes, or null when it maps no file. */
  of(buf: Buffer, len: number): Executable | null {
    const view = bounded(buf, len);
    const start = firstPathStart(view);
    if (start === -1) return null;
    const end = lineEnd(view, start);
    let exe = this.#recent.find(view, start, end);
    if (exe === undefined) {
      const path = decodePath(view, start, end);
      exe = { path, interpreter: interpreterOf(path) };
      this.#recent.add(view, start, end, exe);
    }
    return exe;
  }
}

// The typed array's own searches: Buffer's check their arguments in JavaScript first.
const u8IndexOf = Uint8Array.prototype.indexOf;

/** Where the first path of the first few lines starts, or -1. */
function firstPathStart(view: Uint8Array): number {
  // The executable is the first line in practice; look at a few in case of an odd layout.
  let start = 0;
  for (let line = 0; line < 4 && start < view.length; line++) {
    const end = lineEnd(view, start);
    const slash = pathStart(view, start, end);
    if (slash !== -1) return slash;
    start = end + 1;
  }
  return -1;
}

/** Where the path of the maps line [start, end) begins (no field before it holds a '/'), or -1. */
function pathStart(view: Uint8Array, start: number, end: number): number {
  const slash = u8IndexOf.call(view, 47, start);
  return slash !== -1 && slash < end ? slash : -1;
}

function lineEnd(view: Uint8Array, from: number): number {
  const end = u8IndexOf.call(view, 10, from);
  return end === -1 ? view.length : end;
}

function decodePath(view: Buffer, start: number, end: number): string {
  return view.toString('utf8', start, end).replaceAll('\\012', '\n');
}

/** At most this many distinct mapped code paths are kept per interpreter process. */
export const MAX_MAPPED_PATHS = 4096;

/**
 * The distinct paths of an interpreter's file mappings that are package code (`.so` extension
 * modules and libraries), deleted or not, as the process sees them. A mapping is exact evidence
 * (the process runs that very file), so the `package` heuristic never speaks for these paths.
 */
export function mappedCodePaths(buf: Buffer, len: number): string[] {
  const view = bounded(buf, len);
  const out = new Set<string>();
  let start = 0;
  while (start < view.length && out.size < MAX_MAPPED_PATHS) {
    const end = lineEnd(view, start);
    const slash = pathStart(view, start, end);
    if (slash !== -1) {
      let path = view.toString('utf8', slash, end);
      if (path.endsWith(' (deleted)')) path = path.slice(0, -' (deleted)'.length);
      if (isPackageCodePath(path)) out.add(path.replaceAll('\\012', '\n'));
    }
    start = end + 1;
  }
  return [...out];
}

// Options that take a value in the next argument when none is attached ("-W x" or "-Wx").
const PY_VALUE = new Set(['W', 'X', 'Q']);
const PY_LONG_VALUE = new Set(['--check-hash-based-pycs']);

function parsePython(args: readonly string[]): Program {
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === '--') return script(args[i + 1]);
    if (a === '-') return { type: 'inline' };
    if (a.startsWith('--')) {
      if (PY_LONG_VALUE.has(a)) i++;
      continue;
    }
    if (!a.startsWith('-')) return script(a);
    for (let j = 1; j < a.length; j++) {
      const c = a[j] as string;
      if (c === 'c') return { type: 'inline' };
      if (c === 'm') {
        const name = j + 1 < a.length ? a.slice(j + 1) : args[i + 1];
        return name === undefined ? { type: 'none' } : { type: 'module', name };
      }
      if (PY_VALUE.has(c)) {
        if (j + 1 === a.length) i++;
        break;
      }
    }
  }
  return { type: 'none' };
}

/** Perl switches whose value is attached only and takes the rest (`-i.bak`, `-d:Trace`, `-xdir`…). */
const PERL_ATTACHED = new Set(['i', 'd', 'D', 'x', 'V']);
/** Perl switches followed by optional digits, then more switches (`-0777`, `-l015`, `-wle`, `-CSD`). */
const PERL_DIGITS = new Set(['0', 'l', 'C']);
/** Perl switches whose value may be the next argument. */
const PERL_VALUE = new Set(['I', 'M', 'm']);

function parsePerl(args: readonly string[]): Program {
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === '--') return script(args[i + 1]);
    if (a === '-') return { type: 'inline' };
    if (!a.startsWith('-')) return script(a);
    for (let j = 1; j < a.length; j++) {
      const c = a[j] as string;
      if (c === 'e' || c === 'E') return { type: 'inline' };
      if (PERL_VALUE.has(c)) {
        if (j + 1 === a.length) i++;
        break;
      }
      if (PERL_ATTACHED.has(c)) break;
      if (PERL_DIGITS.has(c)) {
        const value = c === 'C' ? /[0-9IOEioSDAaL]/ : /[0-9]/;
        while (j + 1 < a.length && value.test(a[j + 1] as string)) j++;
      }
    }
  }
  return { type: 'none' };
}

const RUBY_VALUE = new Set(['I', 'r', 'C', 'E']);
const RUBY_ATTACHED = new Set(['0', 'K', 'T', 'W', 'x', 'F', 'l']);

function parseRuby(args: readonly string[]): Program {
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === '--') return script(args[i + 1]);
    if (a === '-') return { type: 'inline' };
    if (a.startsWith('--')) continue; // --disable-gems, --jit, --encoding=x …
    if (!a.startsWith('-')) return script(a);
    for (let j = 1; j < a.length; j++) {
      const c = a[j] as string;
      if (c === 'e') return { type: 'inline' };
      if (RUBY_VALUE.has(c)) {
        if (j + 1 === a.length) i++;
        break;
      }
      if (RUBY_ATTACHED.has(c)) break;
    }
  }
  return { type: 'none' };
}

/** Node options that take the next argument as their value (unless written `--opt=value`). */
const NODE_VALUE = new Set([
  '-r',
  '--require',
  '--import',
  '--loader',
  '--experimental-loader',
  '-C',
  '--conditions',
  '--title',
  '--inspect-port',
  '--debug-port',
  '--env-file',
  '--input-type',
  '--icu-data-dir',
  '--openssl-config',
  '--redirect-warnings',
  '--diagnostic-dir',
  '--report-dir',
  '--report-directory',
  '--report-filename',
  '--secure-heap',
  '--secure-heap-min',
  '--heapsnapshot-signal',
  '--unhandled-rejections',
  '--dns-result-order',
  '--max-http-header-size',
  '--disable-proto',
  '--experimental-policy',
  '--policy-integrity',
  '--cpu-prof-dir',
  '--heap-prof-dir',
  '--stack-trace-limit',
]);
const NODE_INLINE = new Set(['-e', '--eval', '-p', '--print', '-i', '--interactive']);

function parseNode(args: readonly string[]): Program {
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === '--') return script(args[i + 1]);
    if (a === '-') return { type: 'inline' };
    if (!a.startsWith('-')) return script(a);
    const name = a.includes('=') ? a.slice(0, a.indexOf('=')) : a;
    if (NODE_INLINE.has(name)) return { type: 'inline' };
    if (/^-[a-zA-Z]*[ep]$/.test(a) && a.length > 2) return { type: 'inline' }; // -pe
    if (NODE_VALUE.has(a)) i++;
  }
  return { type: 'none' };
}

const JAVA_VALUE = new Set([
  '-cp',
  '-classpath',
  '--class-path',
  '-p',
  '--module-path',
  '--upgrade-module-path',
  '--add-modules',
  '--add-exports',
  '--add-opens',
  '--add-reads',
  '--limit-modules',
  '--patch-module',
  '--enable-native-access',
]);

function parseJava(args: readonly string[]): Program {
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === '-jar') return args[i + 1] === undefined ? { type: 'none' } : jar(args[i + 1]);
    if (a === '-m' || a === '--module') {
      const name = args[i + 1];
      return name === undefined ? { type: 'none' } : { type: 'module', name };
    }
    if (a.startsWith('--module=')) return { type: 'module', name: a.slice('--module='.length) };
    if (JAVA_VALUE.has(a)) {
      i++;
      continue;
    }
    if (a.startsWith('-')) continue;
    // `java File.java` runs a single source file.
    if (a.endsWith('.java')) return script(a);
    return { type: 'class', name: a };
  }
  return { type: 'none' };
}

function script(path: string | undefined): Program {
  return path === undefined || path === '' ? { type: 'none' } : { type: 'script', path };
}

function jar(path: string | undefined): Program {
  return path === undefined || path === '' ? { type: 'none' } : { type: 'jar', path };
}

/** The program an interpreter's argv (argv[0] included) runs. Pure: nothing is looked up. */
export function parseProgram(interp: Interpreter, argv: readonly string[]): Program {
  const args = argv.slice(1);
  switch (interp) {
    case 'python':
      return parsePython(args);
    case 'perl':
      return parsePerl(args);
    case 'ruby':
      return parseRuby(args);
    case 'node':
      return parseNode(args);
    case 'java':
      return parseJava(args);
  }
}

/**
 * An argv path made absolute against the process's working directory (both as the process sees
 * them, i.e. relative to its own root); null when it cannot be (relative path, unknown cwd).
 */
export function resolveProgramPath(path: string, cwd: string | null): string | null {
  if (path.startsWith('/')) return posix.normalize(path);
  if (cwd === null || !cwd.startsWith('/')) return null;
  return posix.join(cwd, path);
}

/** A path as the process sees it, seen from the host through the process's root. */
export function hostPathOf(path: string, root: string): string {
  return root === '/' ? path : `${root}${path}`;
}

/** Source and bytecode files worth reporting when a process holds them open. */
const SOURCE_EXT =
  /\.(?:py|pyc|pyo|pyw|pm|pl|pmc|js|mjs|cjs|node|json|rb|jar|war|ear|class|java|ts)$/;

export function isSourcePath(path: string): boolean {
  return SOURCE_EXT.test(path);
}

/** Package files that count as code for the `package` evidence (docs/interpreted.md). */
const PACKAGE_CODE_EXT = /\.(?:py|pyc|pm|pl|js|mjs|cjs|node|rb|jar|class|so(?:\.\d+)*)$/;

export function isPackageCodePath(path: string): boolean {
  return PACKAGE_CODE_EXT.test(path);
}

/** The kernel's USER_HZ: /proc/PID/stat counts in it, and it is 100 on every Linux ABI. */
export const CLK_TCK = 100;
/** ctime and the start time have one-second granularity at best (btime is whole seconds). */
export const TOLERANCE_MS = 2000;

/** Field 22 (starttime, clock ticks since boot) of /proc/PID/stat; null when malformed. */
export function parseStartTicks(stat: string): number | null {
  // Field 3 (state) comes first, so field 22 is the 20th.
  const v = statFields(stat)?.[19];
  return v !== undefined && /^\d+$/.test(v) ? Number(v) : null;
}

/** `btime` (boot time, seconds since the epoch) from /proc/stat; null when absent. */
export function parseBtime(procStat: string): number | null {
  const m = /^btime (\d+)$/m.exec(procStat);
  return m?.[1] === undefined ? null : Number(m[1]);
}

/** A process's start, in milliseconds since the epoch. */
export function startTimeMs(startTicks: number, btimeSec: number): number {
  return btimeSec * 1000 + (startTicks * 1000) / CLK_TCK;
}

/** Whether a change at `ctimeMs` certainly happened after the process started. */
export function changedAfterStart(ctimeMs: number, startMs: number): boolean {
  return ctimeMs > startMs + TOLERANCE_MS;
}

/** A device number as /proc/PID/maps prints it ("fe:01", "00:2a"). */
export function formatDevice(dev: number): string {
  const major = Math.floor(dev / 256) & 0xfff;
  const minor = (dev & 0xff) | (Math.floor(dev / 4096) & ~0xff & 0xfffff);
  return `${major.toString(16).padStart(2, '0')}:${minor.toString(16).padStart(2, '0')}`;
}

/** Where Debian's interpreters keep packaged modules: a `-m name` is looked for only here. */
export const PYTHON_MODULE_DIRS: readonly string[] = ['/usr/lib/python3/dist-packages'];

/** Candidate files for `python -m a.b` in the packaged module directories (never PYTHONPATH). */
export function pythonModuleCandidates(name: string): string[] {
  if (!/^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*$/.test(name)) return [];
  const rel = name.replaceAll('.', '/');
  return PYTHON_MODULE_DIRS.flatMap((d) => [
    `${d}/${rel}.py`,
    `${d}/${rel}/__main__.py`,
    `${d}/${rel}/__init__.py`,
  ]);
}
