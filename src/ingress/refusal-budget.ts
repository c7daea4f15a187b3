/**
 * How many limit refusals are audited one by one. A refusal is cheap to send and a flood of them is exactly
 * what a limit is for, so writing each to the audit log would turn the flood into one against the store.
 * Within a one-second window the first few refusals per key (a principal or a client address, with the
 * reason) and a bounded number in total are recorded; the rest are counted and logged once per window.
 */
import type { Logger } from '../telemetry/log.js';

export class RefusalBudget {
  private second = -1;
  private readonly perKey = new Map<string, number>();
  private total = 0;
  private suppressed = 0;

  constructor(
    private readonly log: Logger,
    private readonly perKeyPerSecond = 5,
    private readonly totalPerSecond = 100,
    private readonly now: () => number = Date.now,
  ) {}

  /** True when this refusal is to be audited; false when it is only counted. */
  take(key: string, code: string): boolean {
    const second = Math.floor(this.now() / 1000);
    if (second !== this.second) {
      if (this.suppressed > 0) {
        this.log.warn({ suppressed: this.suppressed }, 'limit refusals over the audit budget were not recorded one by one');
      }
      this.second = second;
      this.perKey.clear();
      this.total = 0;
      this.suppressed = 0;
    }
    const k = `${code}\u0000${key}`;
    const n = this.perKey.get(k) ?? 0;
    if (n >= this.perKeyPerSecond || this.total >= this.totalPerSecond) {
      this.suppressed++;
      return false;
    }
    this.perKey.set(k, n + 1);
    this.total++;
    return true;
  }
}
