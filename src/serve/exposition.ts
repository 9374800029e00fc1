// What `serve` answers with: the Prometheus exposition of the latest good scan, refreshed through
// the cache; a failed scan is counted and exported, the last good numbers stay.
import type { Health } from '../check/health.ts';
import { formatPrometheus } from '../output/prometheus.ts';
import { ScanCache } from './cache.ts';

export interface ExpositionSourceOptions {
  gather: () => Promise<Health>;
  intervalMs: number;
  maxUnitSeries: number;
  nodeRebootRequired: boolean;
  log: (line: string) => void;
}

/** Scans through the cache; a failed scan is counted, logged and exported, never thrown. */
export function expositionSource(o: ExpositionSourceOptions): ScanCache<string> {
  let errors = 0;
  let lastGood: Health | null = null;
  return new ScanCache<string>({
    intervalMs: o.intervalMs,
    produce: async () => {
      let ok = true;
      try {
        lastGood = await o.gather();
      } catch (e) {
        ok = false;
        errors++;
        o.log(
          `afterpatch: scan failed: ${String((e as Error)?.message ?? e).replace(/\s+/g, ' ')}`,
        );
      }
      return formatPrometheus(lastGood, {
        maxUnitSeries: o.maxUnitSeries,
        nodeRebootRequired: o.nodeRebootRequired,
        scanErrors: errors,
        lastScanSuccess: ok,
      });
    },
  });
}
