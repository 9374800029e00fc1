// At most one scan at a time and at most one per interval: scrapes within the interval get the
// cached result, scrapes during a scan wait for that scan.

export interface ScanCacheOptions<T> {
  produce: () => Promise<T>;
  /** Minimum time between the starts of two scans, in milliseconds. */
  intervalMs: number;
  now?: () => number;
}

export class ScanCache<T> {
  private readonly produce: () => Promise<T>;
  private readonly intervalMs: number;
  private readonly now: () => number;
  private last: { value: T; startedAt: number } | null = null;
  private inflight: Promise<T> | null = null;
  /** Scans started so far. */
  scans = 0;

  constructor(o: ScanCacheOptions<T>) {
    this.produce = o.produce;
    this.intervalMs = o.intervalMs;
    this.now = o.now ?? (() => performance.now());
  }

  /** The cached value when fresh, else the scan in flight, else a new scan. `produce` must not reject. */
  get(): Promise<T> {
    if (this.inflight) return this.inflight;
    const t = this.now();
    if (this.last && t - this.last.startedAt < this.intervalMs)
      return Promise.resolve(this.last.value);
    this.scans++;
    const p = this.produce().then((value) => {
      this.last = { value, startedAt: t };
      return value;
    });
    this.inflight = p;
    const clear = () => {
      if (this.inflight === p) this.inflight = null;
    };
    p.then(clear, clear);
    return p;
  }

  /** Resolves when no scan is running. */
  async idle(): Promise<void> {
    while (this.inflight) await this.inflight.catch(() => {});
  }
}
