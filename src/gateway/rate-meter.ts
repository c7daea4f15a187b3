/**
 * Calls per minute per agent, the first risk signal policies can read (`context.risk.callsPerMinute`).
 * Sixty one-second buckets per agent; counts are per gateway replica.
 */
const WINDOW = 60;
const MAX_AGENTS = 10_000;

interface Meter {
  buckets: Uint32Array;
  /** The second each bucket belongs to. */
  seconds: Float64Array;
  lastSecond: number;
}

export class RateMeter {
  private readonly meters = new Map<string, Meter>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Counts one call and returns the calls in the last minute, this one included. */
  hit(agent: string): number {
    const second = Math.floor(this.now() / 1000);
    let m = this.meters.get(agent);
    if (m === undefined) {
      if (this.meters.size >= MAX_AGENTS) this.evict(second);
      m = { buckets: new Uint32Array(WINDOW), seconds: new Float64Array(WINDOW).fill(-1), lastSecond: second };
      this.meters.set(agent, m);
    }
    const i = second % WINDOW;
    if (m.seconds[i] !== second) {
      m.seconds[i] = second;
      m.buckets[i] = 0;
    }
    m.buckets[i] = (m.buckets[i] ?? 0) + 1;
    m.lastSecond = second;
    return this.count(m, second);
  }

  /** Calls in the last minute without counting one. */
  peek(agent: string): number {
    const m = this.meters.get(agent);
    return m === undefined ? 0 : this.count(m, Math.floor(this.now() / 1000));
  }

  private count(m: Meter, second: number): number {
    let n = 0;
    for (let i = 0; i < WINDOW; i++) if (second - (m.seconds[i] as number) < WINDOW) n += m.buckets[i] as number;
    return n;
  }

  private evict(second: number): void {
    for (const [agent, m] of this.meters) if (second - m.lastSecond >= WINDOW) this.meters.delete(agent);
    // Still full of active agents: forget the oldest entry rather than grow without bound.
    if (this.meters.size >= MAX_AGENTS) this.meters.delete(this.meters.keys().next().value as string);
  }
}
