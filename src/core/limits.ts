/**
 * Two small counters for resource limits, keyed by whoever the limit is for (a principal, an upstream). Both
 * refuse at once instead of queueing: the caller answers 429 or 503 with Retry-After. Both keep memory
 * bounded whatever the number of keys: a counter at zero is forgotten, a full bucket may be.
 *
 *   const calls = new ConcurrencyLimit(2)
 *   const release = calls.tryAcquire('alice') // undefined when alice has 2 in flight
 *   release?.()
 */

/** In-flight work per key, at most `max` at once. */
export class ConcurrencyLimit {
  private readonly counts = new Map<string, number>();

  constructor(readonly max: number) {}

  /** Takes a slot: the function that gives it back (once; later calls do nothing), or undefined when full. */
  tryAcquire(key: string): (() => void) | undefined {
    const n = this.counts.get(key) ?? 0;
    if (n >= this.max) return undefined;
    this.counts.set(key, n + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.counts.get(key) ?? 1) - 1;
      if (left <= 0) this.counts.delete(key);
      else this.counts.set(key, left);
    };
  }

  active(key: string): number {
    return this.counts.get(key) ?? 0;
  }
}

interface Bucket {
  tokens: number;
  at: number;
}

/** A token bucket per key: `perMinute` a minute, in bursts of up to `perMinute`. */
export class RateLimit {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    readonly perMinute: number,
    private readonly now: () => number = Date.now,
    private readonly maxKeys = 100_000,
  ) {}

  /** Takes one token: 0 when there was one, else the milliseconds until there is. */
  take(key: string): number {
    const t = this.now();
    let b = this.buckets.get(key);
    if (b === undefined) {
      if (this.buckets.size >= this.maxKeys) this.prune(t);
      b = { tokens: this.perMinute, at: t };
      this.buckets.set(key, b);
    }
    b.tokens = Math.min(this.perMinute, b.tokens + ((t - b.at) * this.perMinute) / 60_000);
    b.at = t;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - b.tokens) * 60_000) / this.perMinute);
  }

  /** Forgets buckets that have refilled (a fresh one is the same); if none has, the oldest. */
  private prune(t: number): void {
    for (const [key, b] of this.buckets) {
      if (b.tokens + ((t - b.at) * this.perMinute) / 60_000 >= this.perMinute) this.buckets.delete(key);
    }
    if (this.buckets.size >= this.maxKeys) this.buckets.delete(this.buckets.keys().next().value as string);
  }
}
