import { basename } from 'node:path';
import type { CliIo } from '../cli/io.ts';
import { errnoOf } from '../errors.ts';
import {
  FleetInputError,
  fleetExitCode,
  mergeFleet,
  parseInput,
  type RawDocument,
} from '../fleet/merge.ts';
import { fleetToJson, formatFleet } from '../output/fleet.ts';
import { styleFor } from '../output/style.ts';
import { RefusedFileError, readFileBounded } from '../procfs/reader.ts';

export interface ReportCliOptions {
  json?: true;
  format?: 'text' | 'json';
  quiet?: true;
}

async function readStdin(stdin: CliIo['stdin']): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * The most bytes read from one input file: a 500-host fleet of full scan documents stays far
 * below, and JSON.parse of a larger string would exhaust memory first.
 */
const MAX_INPUT_BYTES = 256 * 1024 * 1024;

/**
 * An input file: opened non-blocking, a regular file only (a FIFO, a device such as /dev/zero
 * through a symlink, a socket or a directory is refused, never waited on) and capped.
 */
function readInputFile(file: string): string {
  try {
    return readFileBounded(file, MAX_INPUT_BYTES).toString('utf8');
  } catch (e) {
    if (e instanceof RefusedFileError && e.code === 'EREFUSED') {
      const why = /longer than/.test(e.message)
        ? `larger than ${MAX_INPUT_BYTES / 1024 / 1024} MiB`
        : 'not a regular file; for a pipe, give - and feed it on standard input';
      throw new FleetInputError(file, null, `cannot read (${why})`);
    }
    throw new FleetInputError(file, null, `cannot read (${errnoOf(e)})`);
  }
}

/** `web1.json`, `web1.jsonl`, `web1` (ansible --tree) → `web1`: the host of a reboot-only document. */
const hostFromFile = (file: string) => basename(file).replace(/\.(json|jsonl|ndjson)$/, '') || null;

export async function runReport(
  files: readonly string[],
  o: ReportCliOptions,
  io: CliIo,
): Promise<number> {
  const inputs = files.length === 0 ? ['-'] : files;
  if (files.length === 0 && io.stdin.isTTY === true) {
    // Not a silent wait: someone typed `afterpatch report` expecting it to find results itself.
    io.stderr.write(
      'afterpatch: reading host documents from standard input (end with Ctrl-D); name files to read them instead.\n',
    );
  }
  const docs: (RawDocument & { fallbackHost: string | null })[] = [];
  for (const file of inputs) {
    let text: string;
    if (file === '-') {
      try {
        text = await readStdin(io.stdin);
      } catch (e) {
        throw new FleetInputError(file, null, `cannot read (${errnoOf(e)})`);
      }
    } else text = readInputFile(file);
    const fallbackHost = file === '-' ? null : hostFromFile(file);
    for (const d of parseInput(text, file === '-' ? '(stdin)' : file))
      docs.push({ ...d, fallbackHost });
  }
  const view = mergeFleet(docs);
  if (!o.quiet)
    io.stdout.write(
      o.json || o.format === 'json'
        ? `${JSON.stringify(fleetToJson(view), null, 2)}\n`
        : formatFleet(view, styleFor(io.stdout, io.env)),
    );
  return fleetExitCode(view);
}
