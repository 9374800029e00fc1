// `afterpatch metrics`: one snapshot as Prometheus text, on stdout or into node_exporter's
// textfile collector directory (DIR/afterpatch.prom, replaced atomically).
import { statSync } from 'node:fs';
import { join } from 'node:path';
import {
  gatherHealth,
  type Health,
  type HealthCliOptions,
  healthOptions,
} from '../check/health.ts';
import type { CliIo } from '../cli/io.ts';
import { errnoCode, errnoOf, UserError } from '../errors.ts';
import { EXIT } from '../exit.ts';
import { writeFileAtomic } from '../io/fs-atomic.ts';
import { formatPrometheus } from '../output/prometheus.ts';

/** What `metrics` and `serve` share: the health flags and the exposition's own. */
export interface ExpositionCliOptions extends HealthCliOptions {
  maxUnitSeries: number;
  nodeRebootRequired: boolean;
  procRoot: string;
  root: string;
}

export interface MetricsCliOptions extends ExpositionCliOptions {
  textfile?: string;
  quiet?: true;
}

export const TEXTFILE_NAME = 'afterpatch.prom';

export async function runMetrics(o: MetricsCliOptions, io: CliIo): Promise<number> {
  // Check the directory before scanning: a usage error should not cost a scan.
  if (o.textfile !== undefined) checkDir(o.textfile);
  const hopts = healthOptions(o);
  let health: Health | null = null;
  let error: string | null = null;
  try {
    health = await gatherHealth(hopts);
  } catch (e) {
    error = e instanceof Error ? e.message : String(e);
  }
  const text = formatPrometheus(health, {
    maxUnitSeries: o.maxUnitSeries,
    nodeRebootRequired: o.nodeRebootRequired,
    scanErrors: error === null ? 0 : 1,
    lastScanSuccess: error === null,
  });
  if (o.textfile === undefined) {
    if (!o.quiet) io.stdout.write(text);
  } else {
    const path = join(o.textfile, TEXTFILE_NAME);
    try {
      writeFileAtomic(path, text);
    } catch (e) {
      const code = errnoOf(e);
      throw new UserError(`cannot write ${path} (${code}); the previous file is unchanged.`);
    }
  }
  if (health?.restart.error) {
    // Exported as afterpatch_restart_state_error 1; said here too for the timer's journal.
    io.stderr.write(
      `afterpatch: ${health.restart.error.replace(/\s+/g, ' ')} (exported afterpatch_restart_state_error 1)\n`,
    );
  }
  if (error !== null) {
    // The exposition (with afterpatch_scan_errors_total 1) is out; the exit status still tells.
    io.stderr.write(`afterpatch: scan failed: ${error.replace(/\s+/g, ' ')}\n`);
    return EXIT.error;
  }
  return EXIT.ok;
}

function checkDir(dir: string): void {
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(dir);
  } catch (e) {
    const code = errnoCode(e);
    throw new UserError(
      code === 'ENOENT'
        ? `--textfile ${dir}: no such directory (create it, or use node_exporter's --collector.textfile.directory).`
        : `--textfile ${dir}: cannot access it (${code}).`,
    );
  }
  if (!st.isDirectory()) throw new UserError(`--textfile ${dir}: not a directory.`);
}
