/**
 * The revocation list each replica keeps in memory, so `check` costs a few map lookups on every request.
 *
 * It loads every stored revocation at start, then follows the store's log by seq (`since`): a lifted
 * revocation comes back on the log as a copy marked lifted, which drops it here. On PostgreSQL a
 * LISTEN feed on a dedicated connection (reconnected with backoff) triggers a catch-up read on every
 * notification, and a read every `pollMs` doubles as a heartbeat; on SQLite the table is read every `pollMs`.
 *
 * Fail closed: the list is confirmed current as of the start of each successful catch-up read (on PostgreSQL
 * those go over the feed's own connection, so they succeed only while the channel is up). When the last
 * confirmation is older than `maxStalenessMs`, every check throws `revocation_unavailable` until a read
 * succeeds again: a replica that cannot hear of revocations stops serving within a bounded window.
 *
 *   const list = new RevocationList({ store: store.revocations, maxStalenessMs: 5000, pollMs: 500 });
 *   await list.start();
 *   list.check(principal); // throws WardenError('revoked' | 'revocation_unavailable')
 */
import { systemClock, type Clock } from '../core/ids.js';
import type { Principal } from '../identity/principal.js';
import { JsonRpcCode, WardenError } from '../protocol/errors.js';
import type { RevocationFeed, RevocationKind, RevocationRecord, RevocationStore } from '../store/types.js';
import { silentLogger, type Logger } from '../telemetry/log.js';

export interface RevocationListOptions {
  store: RevocationStore;
  /** Longest time requests are served on a list not confirmed current. */
  maxStalenessMs: number;
  /** Interval of catch-up reads (SQLite: the only channel; PostgreSQL: heartbeat and safety net). */
  pollMs: number;
  log?: Logger;
  clock?: Clock;
  /** Reconnect backoff of the PostgreSQL feed, doubling from minMs to maxMs (default 100 ms to 2 s). */
  backoff?: { minMs: number; maxMs: number };
  /** How often expired records are pruned from the store and from memory (default an hour). */
  pruneEveryMs?: number;
  /** Called with every batch of records applied (tests and benchmarks time propagation with it). */
  onApplied?: (records: readonly RevocationRecord[]) => void;
}

export interface RevocationStatus {
  /** Confirmed current within the staleness window. */
  fresh: boolean;
  /** Milliseconds since the list was last confirmed current (Infinity: never). */
  ageMs: number;
  /** The last seq applied, and how many revocations are held. */
  seq: number;
  size: number;
  /** `listening`: PostgreSQL feed up; `down`: PostgreSQL feed lost; `polling`: SQLite. */
  channel: 'listening' | 'down' | 'polling';
}

const PAGE = 1000;

/** A lifted record (the store's `lift`) expires at the moment it was made: marked, whatever this replica's clock says. */
export const isLifted = (r: Pick<RevocationRecord, 'revokedAt' | 'expiresAt'>): boolean => r.expiresAt !== null && r.expiresAt <= r.revokedAt;
const key = (kind: RevocationKind, value: string): string => `${kind}\u0000${value}`;

/** The error a revoked principal gets: names what was revoked, never a token (nor, for a token, its id). */
export function revokedError(r: RevocationRecord, viaChain = false): WardenError {
  const what =
    r.kind === 'token' ? (viaChain ? 'a token this one was exchanged from' : 'this token') : r.kind === 'task' ? `task ${r.value}` : `${r.kind} "${r.value}"${viaChain ? ' in the delegation chain' : ''}`;
  const data = { kind: r.kind, ...(r.kind === 'token' ? {} : { subject: r.value }), revokedAt: r.revokedAt };
  return new WardenError('revoked', `Access revoked: ${what} has been revoked`, JsonRpcCode.Unauthorized, 403, data);
}

export class RevocationList {
  private readonly entries = new Map<string, RevocationRecord>();
  private readonly clock: Clock;
  private readonly log: Logger;
  private seq = 0;
  private confirmedAt = -Infinity;
  private feed: RevocationFeed | undefined;
  private connecting = false;
  private attempts = 0;
  private stopped = false;
  private failing = false;
  private running: Promise<boolean> | undefined;
  private queued: Promise<boolean> | undefined;
  private readonly timers: { poll?: NodeJS.Timeout; prune?: NodeJS.Timeout; reconnect?: NodeJS.Timeout } = {};

  constructor(private readonly opts: RevocationListOptions) {
    this.clock = opts.clock ?? systemClock;
    this.log = opts.log ?? silentLogger();
  }

  /** Loads the list (on PostgreSQL: opens the feed first) and starts following. Never rejects: until the first read succeeds, checks fail closed. */
  async start(): Promise<void> {
    if (this.opts.store.subscribe) await this.connect();
    else await this.refresh();
    if (this.stopped) return;
    this.timers.poll = setInterval(() => void this.refresh(), this.opts.pollMs).unref();
    this.timers.prune = setInterval(() => void this.prune(), this.opts.pruneEveryMs ?? 3600_000).unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.confirmedAt = -Infinity;
    for (const t of Object.values(this.timers)) clearTimeout(t);
    const feed = this.feed;
    this.feed = undefined;
    await feed?.close();
    await this.running;
  }

  /**
   * Throws WardenError('revoked') if the principal's token id, task, agent, user or any agent of its
   * delegation chain is revoked, and WardenError('revocation_unavailable') if the list is stale.
   */
  check(p: Principal): void {
    if (this.clock.now() - this.confirmedAt > this.opts.maxStalenessMs) {
      throw new WardenError(
        'revocation_unavailable',
        'Revocations could not be confirmed current on this gateway, so the request was refused; retry shortly',
        JsonRpcCode.Unauthorized,
        503,
      );
    }
    if (this.entries.size === 0) return;
    let now: string | undefined;
    // A record past its expiry refuses nothing (a lifted revocation, or a token or task that expired anyway).
    const hit = (kind: RevocationKind, value: string | null): RevocationRecord | undefined => {
      const r = value === null ? undefined : this.entries.get(key(kind, value));
      if (r === undefined || r.expiresAt === null) return r;
      now ??= new Date(this.clock.now()).toISOString();
      return r.expiresAt > now ? r : undefined;
    };
    const direct = hit('token', p.tokenId) ?? hit('task', p.task) ?? hit('agent', p.agent) ?? hit('user', p.user);
    if (direct) throw revokedError(direct);
    for (const agent of p.chain) {
      const r = hit('agent', agent);
      if (r) throw revokedError(r, true);
    }
    // A revoked token cuts off every token exchanged from it, however many exchanges down (the cascade).
    for (const jti of p.tokenAncestors ?? []) {
      const r = hit('token', jti);
      if (r) throw revokedError(r, true);
    }
  }

  /** The revocation naming this kind and value, if held and in force. */
  get(kind: RevocationKind, value: string): RevocationRecord | undefined {
    const r = this.entries.get(key(kind, value));
    return r === undefined || r.expiresAt === null || r.expiresAt > new Date(this.clock.now()).toISOString() ? r : undefined;
  }

  status(): RevocationStatus {
    const ageMs = this.clock.now() - this.confirmedAt;
    const channel = this.opts.store.subscribe ? (this.feed ? 'listening' : 'down') : 'polling';
    return { fresh: ageMs <= this.opts.maxStalenessMs, ageMs, seq: this.seq, size: this.entries.size, channel };
  }

  /**
   * Reads everything after the last seq now; true if the read succeeded (confirming the list current).
   * Calls made while a read runs share one follow-up read, so a burst of notifications costs two reads.
   */
  refresh(): Promise<boolean> {
    this.queued ??= (this.running ?? Promise.resolve(true)).then(() => {
      this.queued = undefined;
      this.running = this.catchUp().finally(() => (this.running = undefined));
      return this.running;
    });
    return this.queued;
  }

  private async catchUp(): Promise<boolean> {
    const reader = this.opts.store.subscribe ? this.feed : this.opts.store;
    if (this.stopped || reader === undefined) return false;
    const startedAt = this.clock.now();
    try {
      for (;;) {
        const page = await reader.since(this.seq, PAGE);
        this.apply(page);
        if (page.length < PAGE) break;
      }
    } catch (err) {
      if (!this.failing) this.log.warn({ err }, `revocation list: read failed; requests are refused after ${this.opts.maxStalenessMs} ms without a good read`);
      this.failing = true;
      if (reader === this.feed) this.dropFeed();
      return false;
    }
    if (this.stopped) return false;
    this.confirmedAt = Math.max(this.confirmedAt, startedAt);
    if (this.failing) this.log.info('revocation list: current again');
    this.failing = false;
    return true;
  }

  private apply(records: readonly RevocationRecord[]): void {
    if (records.length === 0) return;
    const now = new Date(this.clock.now()).toISOString();
    for (const r of records) {
      // A lifted revocation (`warden revoke undo`), or one past its expiry, replaces the one held and refuses nothing.
      if (isLifted(r) || (r.expiresAt !== null && r.expiresAt <= now)) this.entries.delete(key(r.kind, r.value));
      else this.entries.set(key(r.kind, r.value), r);
      if (r.seq > this.seq) this.seq = r.seq;
      if (records.length <= 10) this.log.info({ kind: r.kind, subject: r.kind === 'token' ? undefined : r.value, revocation: r.id }, 'revocation applied');
    }
    if (records.length > 10) this.log.info({ count: records.length, seq: this.seq }, 'revocations loaded');
    this.opts.onApplied?.(records);
  }

  /** PostgreSQL: opens the feed, then reads what was missed while it was down; on failure, retries with backoff. */
  private async connect(): Promise<void> {
    if (this.stopped || this.feed !== undefined || this.connecting) return;
    this.connecting = true;
    const slot: { feed?: RevocationFeed; lost?: boolean } = {};
    try {
      slot.feed = await this.opts.store.subscribe!(
        () => void this.refresh(),
        (err) => {
          slot.lost = true;
          if (this.feed !== undefined && this.feed === slot.feed) {
            this.log.warn({ err }, 'revocation list: feed lost, reconnecting');
            this.dropFeed();
          }
        },
      );
    } catch (err) {
      this.log.warn({ err }, 'revocation list: cannot open the feed, retrying');
      this.scheduleReconnect();
      return;
    } finally {
      this.connecting = false;
    }
    if (this.stopped || slot.lost) {
      await slot.feed.close();
      if (!this.stopped) this.scheduleReconnect();
      return;
    }
    this.feed = slot.feed;
    if (await this.refresh()) this.attempts = 0;
  }

  private dropFeed(): void {
    const feed = this.feed;
    this.feed = undefined;
    void feed?.close().catch(() => {});
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.timers.reconnect !== undefined) return;
    const { minMs, maxMs } = this.opts.backoff ?? { minMs: 100, maxMs: 2000 };
    const ceiling = Math.min(maxMs, minMs * 2 ** Math.min(this.attempts, 20));
    this.attempts++;
    // Jitter in [ceiling/2, ceiling]: replicas that lost the server together do not reconnect in lockstep.
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    this.timers.reconnect = setTimeout(() => {
      this.timers.reconnect = undefined;
      void this.connect();
    }, delay).unref();
  }

  /** Drops expired records from the store (best effort: every replica does it) and from memory. */
  private async prune(): Promise<void> {
    const now = new Date(this.clock.now()).toISOString();
    for (const [k, r] of this.entries) if (r.expiresAt !== null && r.expiresAt <= now) this.entries.delete(k);
    await this.opts.store.prune(now).catch((err: unknown) => this.log.warn({ err }, 'revocation list: prune failed'));
  }
}
