/**
 * Upstream connections for stateless (2026-07-28) requests. They are keyed by who asks, so a stateless call
 * gets what a session would: the caller's own credentials (userSecrets, task leases), and only the messages
 * its own calls caused (a log line one principal's call set off is never relayed into another's response).
 * Idle sets are closed; at most `max` are kept, the least recently used idle one making room.
 *
 * The sets are sessions of the gateway like any other: their upstream connections come from the pool
 * (connections.ts), shared as each upstream's `share` mode allows.
 */
import { principalKey, type Principal } from '../identity/index.js';
import { JsonRpcCode, WardenError } from '../protocol/errors.js';
import type { GatewaySession } from './session.js';

export class StatelessSessions {
  private readonly byKey = new Map<string, GatewaySession>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly open: (owner: Principal | null) => GatewaySession,
    private readonly idleMs: number,
    private readonly max: number,
  ) {
    this.sweeper = setInterval(() => void this.sweep(), Math.min(60_000, Math.max(1_000, Math.floor(idleMs / 2))));
    this.sweeper.unref();
  }

  get size(): number {
    return this.byKey.size;
  }

  /** The connections of `owner` (null: unauthenticated requests, which are refused before any upstream). */
  for(owner: Principal | null): GatewaySession {
    const key = owner === null ? '' : principalKey(owner);
    let session = this.byKey.get(key);
    if (session !== undefined && !session.isClosed) {
      // Most recently used last: the map's order is the eviction order.
      this.byKey.delete(key);
      this.byKey.set(key, session);
      return session;
    }
    if (this.byKey.size >= this.max) this.evictOne();
    session = this.open(owner);
    this.byKey.set(key, session);
    return session;
  }

  private evictOne(): void {
    for (const [key, s] of this.byKey) {
      if (s.inFlight > 0) continue;
      this.byKey.delete(key);
      void s.close();
      return;
    }
    // The gateway-wide cap says what it is (config limits.maxSessions), as the session cap does.
    const message = `The gateway serves its maximum of ${this.max} stateless clients at once; try again later`;
    throw new WardenError('session_limit', message, JsonRpcCode.LimitExceeded, 503, { retryAfter: 1 });
  }

  private async sweep(now = Date.now()): Promise<void> {
    for (const [key, s] of this.byKey) {
      if (s.inFlight === 0 && now - s.lastSeen > this.idleMs) {
        this.byKey.delete(key);
        await s.close().catch(() => undefined);
      }
    }
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    const all = [...this.byKey.values()];
    this.byKey.clear();
    await Promise.all(all.map((s) => s.close().catch(() => undefined)));
  }
}
