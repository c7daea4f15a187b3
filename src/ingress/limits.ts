/**
 * The ingress's resource limits per principal: sessions held, sessions opened a minute, requests in flight.
 * A refusal is a WardenError with a stable code, HTTP 429 (this principal's limit) or 503 (the gateway's),
 * and `retryAfter` seconds, which the answer carries as Retry-After.
 *
 * Limits are counted per person, not per token shape: the user when there is one (else the agent), in its
 * tenant, under its issuer. A client id, a delegation chain or a task is not a new budget, so registering
 * more OAuth clients or exchanging more tokens does not multiply what one person may take.
 */
import type { LimitsConfig } from '../config/limits.js';
import { ConcurrencyLimit, RateLimit } from '../core/limits.js';
import type { Principal } from '../identity/index.js';
import { JsonRpcCode, WardenError, type WardenErrorCode } from '../protocol/errors.js';
import type { SessionRegistry } from './sessions.js';

/** Who a limit counts against (see above). */
export function limitKey(p: Principal): string {
  const who = p.user === null ? ['agent', p.agent] : ['user', p.user];
  return JSON.stringify([p.method === 'gateway-token' ? 'gw' : p.issuer, who, p.tenant]);
}

function limitError(code: WardenErrorCode, message: string, status: 429 | 503, retryAfterSeconds: number): WardenError {
  const retryAfter = Math.max(1, Math.ceil(retryAfterSeconds));
  return new WardenError(code, message, JsonRpcCode.LimitExceeded, status, { retryAfter });
}

export class PrincipalLimits {
  private readonly sessionRate: RateLimit;
  private readonly calls: ConcurrencyLimit;

  constructor(private readonly limits: LimitsConfig, now: () => number = Date.now) {
    this.sessionRate = new RateLimit(limits.sessionsPerMinutePerPrincipal, now);
    this.calls = new ConcurrencyLimit(limits.maxConcurrentCallsPerPrincipal);
  }

  /** Throws unless `key` may open one more session now; takes a token of its session rate when it may. */
  admitSession(key: string, sessions: SessionRegistry): void {
    const { maxSessions, maxSessionsPerPrincipal, sessionIdleMs } = this.limits;
    const held = sessions.countFor(key);
    if (held >= maxSessionsPerPrincipal) {
      // Its oldest idle session is the first to be reaped: that is when one frees up at the latest.
      const waitMs = sessions.oldestSeenFor(key) + sessionIdleMs - Date.now();
      const message = `Too many open sessions for this principal (at most ${maxSessionsPerPrincipal}); end one (DELETE) or try again later`;
      throw limitError('principal_session_limit', message, 429, waitMs / 1000);
    }
    if (sessions.size >= maxSessions) {
      const message = `The gateway holds its maximum of ${maxSessions} sessions; try again later`;
      throw limitError('session_limit', message, 503, 30);
    }
    const waitMs = this.sessionRate.take(key);
    if (waitMs > 0) {
      const message = `Sessions are being opened too fast for this principal (at most ${this.limits.sessionsPerMinutePerPrincipal} a minute)`;
      throw limitError('session_rate_limit', message, 429, waitMs / 1000);
    }
  }

  /** Takes one of `key`'s request slots: the function that gives it back; throws when all are in use. */
  admitCall(key: string): () => void {
    const release = this.calls.tryAcquire(key);
    if (release === undefined) {
      const message = `Too many requests in flight for this principal (at most ${this.calls.max}); try again shortly`;
      throw limitError('principal_call_limit', message, 429, 1);
    }
    return release;
  }
}
