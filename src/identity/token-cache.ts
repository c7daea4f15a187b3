/**
 * Verified tokens, kept until they expire, so a request with a token seen before costs a map lookup
 * instead of a signature check. Bounded: the oldest entries go first. Revocation clears entries.
 */
import type { Principal } from './principal.js';

export class TokenCache {
  private readonly entries = new Map<string, Principal>();

  constructor(private readonly max = 10_000) {}

  get(token: string, nowSeconds: number, skewSeconds: number): Principal | undefined {
    const p = this.entries.get(token);
    if (!p) return undefined;
    if (p.expiresAt !== null && p.expiresAt + skewSeconds <= nowSeconds) {
      this.entries.delete(token);
      return undefined;
    }
    return p;
  }

  set(token: string, principal: Principal): void {
    if (this.entries.size >= this.max) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(token, principal);
  }

  /** Drops every cached principal matching `predicate` (a revoked task, agent, user or jti). */
  evict(predicate: (p: Principal) => boolean): void {
    for (const [k, p] of this.entries) if (predicate(p)) this.entries.delete(k);
  }

  clear(): void {
    this.entries.clear();
  }
}
