// An executable that stands in for `afterpatch` where a program under test runs it (the Ansible
// modules): the built CLI with fixture roots put after the subcommand. The stand-in is a bash
// script that hands its arguments and environment over a loopback socket to this process,
// which runs the bundle in-process (harness/cli.ts) and sends back the exit status and output:
// a bash start instead of a Node.js start and a bundle load per call. With
// AFTERPATCH_TEST_SPAWN=1 it runs the CLI as a child process instead, as it did before.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, runCli } from './cli.ts';

/** Arguments put right after a subcommand, by subcommand (e.g. scan: ['--proc-root', dir]). */
export type StandInExtras = Readonly<Record<string, readonly string[]>>;

const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

/** argv with the subcommand's extras after it. */
export function withExtras(argv: readonly string[], extras: StandInExtras): string[] {
  const [sub, ...rest] = argv;
  if (sub === undefined) return [];
  return [sub, ...(extras[sub] ?? []), ...rest];
}

/** Writes the stand-in to `file` (mode 0755). */
export async function writeCliStandIn(file: string, extras: StandInExtras = {}): Promise<void> {
  if (process.env.AFTERPATCH_TEST_SPAWN === '1') {
    const cases = Object.entries(extras).map(
      ([sub, a]) =>
        `  ${quote(sub)}) shift; exec ${quote(process.execPath)} ${quote(CLI)} ${quote(sub)} ${a.map(quote).join(' ')} "$@" ;;`,
    );
    const body = `#!/bin/sh\ncase "$1" in\n${cases.join('\n')}\n  *) exec ${quote(process.execPath)} ${quote(CLI)} "$@" ;;\nesac\n`;
    writeFileSync(file, body);
  } else {
    const b = await bridge();
    const id = String(b.extras.push(extras) - 1);
    writeFileSync(file, standInScript(b.port, id, b.dir));
  }
  chmodSync(file, 0o755);
}

/**
 * The request: id, the environment (count, NAME=value…), the arguments (count, each), every field
 * ended by NUL. The answer: a line "STATUS STDERR-FILE" (the file only when there is stderr), then
 * standard output until the connection closes.
 */
function standInScript(port: number, id: string, dir: string): string {
  return `#!/bin/bash
# A stand-in for afterpatch in tests (harness/cli-stand-in.ts): the CLI runs in the test process.
exec 3<>/dev/tcp/127.0.0.1/${port} || { echo "afterpatch stand-in: no test process on port ${port}" >&2; exit 127; }
e=()
for v in $(compgen -e); do e+=("$v=\${!v}"); done
printf '%s\\0' ${id} "\${#e[@]}" "\${e[@]}" "$#" "$@" >&3
IFS=' ' read -r status err <&3
cat <&3
if [ -n "$err" ]; then cat -- ${quote(dir)}/"$err" >&2; rm -f -- ${quote(dir)}/"$err"; fi
exit "$status"
`;
}

interface Bridge {
  server: Server;
  port: number;
  /** Stderr files are written here (per answer, removed by the stand-in). */
  dir: string;
  extras: StandInExtras[];
}

let started: Promise<Bridge> | null = null;

function bridge(): Promise<Bridge> {
  started ??= new Promise((resolve, reject) => {
    const dir = mkdtempSync(join(tmpdir(), 'afterpatch-stand-in-'));
    const extras: StandInExtras[] = [];
    let n = 0;
    const server = createServer((socket) => serve(socket, extras, dir, () => `err-${n++}`));
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => {
      server.unref(); // the test process ends when its tests do
      process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
      const address = server.address();
      resolve({
        server,
        port: typeof address === 'object' && address ? address.port : 0,
        dir,
        extras,
      });
    });
  });
  return started;
}

function serve(socket: Socket, extras: StandInExtras[], dir: string, errName: () => string): void {
  let buf = Buffer.alloc(0);
  let done = false;
  socket.on('error', () => {});
  socket.on('data', (chunk: Buffer) => {
    if (done) return;
    buf = Buffer.concat([buf, chunk]);
    const request = parseRequest(buf);
    if (request === null) return;
    done = true;
    const argv = withExtras(request.args, extras[Number(request.id)] ?? {});
    void runCli(argv, { env: request.env }).then((r) => {
      let err = '';
      if (r.stderr !== '') {
        err = errName();
        writeFileSync(join(dir, err), r.stderr);
      }
      socket.end(`${r.code} ${err}\n${r.stdout}`);
    });
  });
}

/** The whole request, or null while part of it has not arrived. */
export function parseRequest(
  buf: Buffer,
): { id: string; env: NodeJS.ProcessEnv; args: string[] } | null {
  const fields: string[] = [];
  let start = 0;
  const next = (): string | null => {
    const end = buf.indexOf(0, start);
    if (end < 0) return null;
    const s = buf.toString('utf8', start, end);
    start = end + 1;
    fields.push(s);
    return s;
  };
  const id = next();
  const envCount = next();
  if (id === null || envCount === null) return null;
  const env: NodeJS.ProcessEnv = {};
  for (let i = 0; i < Number(envCount); i++) {
    const kv = next();
    if (kv === null) return null;
    const eq = kv.indexOf('=');
    env[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  const argCount = next();
  if (argCount === null) return null;
  const args: string[] = [];
  for (let i = 0; i < Number(argCount); i++) {
    const a = next();
    if (a === null) return null;
    args.push(a);
  }
  return { id, env, args };
}
