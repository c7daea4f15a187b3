/**
 * Liveness and readiness. Live: the process answers. Ready: it can serve a call now, meaning its store answered
 * a round trip within the deadline, its revocation list is confirmed current, its audit log is being written,
 * and it is not draining for shutdown. A load balancer takes a replica out of rotation on the first 503 of
 * /readyz; a replica whose link to PostgreSQL goes silent turns 503 within the deadline, and back once it answers.
 *
 *   GET /livez   200 {"status":"ok"}                      (/healthz: the same, plus the session count)
 *   GET /readyz  200 {"status":"ready","checks":{...}}    or 503 {"status":"not ready","checks":{...}}
 */
import { type Clock, systemClock } from '../core/ids.js';

export interface HealthChecks {
  /** One round trip to the store (rejects when it fails); raced against the deadline. */
  store: () => Promise<unknown>;
  /** Whether the revocation list is confirmed current (RevocationList.status). */
  revocations: () => { fresh: boolean; ageMs: number };
  /** Whether the audit log is being written (no failed or stuck append). */
  audit: () => boolean;
  /**
   * Tried once the store answers again while the audit is failing: appends a record of the restoration.
   * Without it a replica out of rotation would get no call whose record could show the log works again.
   */
  restoreAudit?: () => Promise<unknown>;
}

export interface Readiness {
  ready: boolean;
  draining: boolean;
  checks: {
    store: { ok: boolean; ageMs: number | null };
    revocations: { ok: boolean; ageMs: number | null };
    audit: { ok: boolean };
  };
}

const age = (ms: number): number | null => (Number.isFinite(ms) ? Math.round(ms) : null);

export class Health {
  private storeOkAt = -Infinity;
  private draining = false;
  private timer: NodeJS.Timeout | undefined;
  private probing = false;
  private readonly clock: Clock;

  /** `deadlineMs`: how long the store may go unconfirmed (revocation.maxStalenessSeconds); probed every `everyMs`. */
  constructor(
    private readonly checks: HealthChecks,
    private readonly opts: { deadlineMs: number; everyMs?: number; clock?: Clock },
  ) {
    this.clock = opts.clock ?? systemClock;
  }

  async start(): Promise<void> {
    await this.probe();
    const every = this.opts.everyMs ?? Math.max(100, Math.min(1000, this.opts.deadlineMs / 4));
    this.timer = setInterval(() => void this.probe(), every);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Readiness turns 503 for good: the replica is shutting down. */
  drain(): void {
    this.draining = true;
  }

  /** The store answered within the deadline: what the gateway checks before it forwards anything. */
  storeOk(): boolean {
    return this.clock.now() - this.storeOkAt <= this.opts.deadlineMs;
  }

  status(): Readiness {
    const now = this.clock.now();
    const rev = this.checks.revocations();
    const store = { ok: this.storeOk(), ageMs: age(now - this.storeOkAt) };
    const revocations = { ok: rev.fresh, ageMs: age(rev.ageMs) };
    const audit = { ok: this.checks.audit() };
    return { ready: !this.draining && store.ok && revocations.ok && audit.ok, draining: this.draining, checks: { store, revocations, audit } };
  }

  /** One round trip with a deadline; a probe still waiting is not doubled (a silent link would pile them up). */
  private async probe(): Promise<void> {
    if (this.probing) return;
    this.probing = true;
    const started = this.clock.now();
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.checks.store(),
        new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('store probe timed out')), this.opts.deadlineMs))),
      ]);
      this.storeOkAt = Math.max(this.storeOkAt, started);
      if (!this.checks.audit() && this.checks.restoreAudit) await this.checks.restoreAudit();
    } catch {
      // Not confirmed: storeOk() turns false once the last confirmation is older than the deadline.
    } finally {
      clearTimeout(timer);
      this.probing = false;
    }
  }
}
