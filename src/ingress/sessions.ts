/** Live downstream sessions: lookup by id, counts per limit key (ingress/limits.ts), and closing those left idle. */
import type { Outbound } from '../gateway/channel.js';
import type { GatewaySession } from '../gateway/session.js';
import type { ResponseStream } from './response-stream.js';

export interface SessionEntry {
  session: GatewaySession;
  /** principalKey of the principal that opened it: the only one that may use it. */
  owner: string;
  /** Whom the session counts against for limits.maxSessionsPerPrincipal. */
  limitKey: string;
  /** In-flight POSTed requests by JSON-RPC id, so notifications/cancelled can find them. */
  inflight: Map<string | number, ResponseStream>;
  /** The session's latest POST streams by stream id, for a client that resumes one (GET with Last-Event-ID). */
  streams: Map<string, ResponseStream>;
  closeStandalone?: () => void;
  /** The GET stream open on this replica, if any. */
  localStream?: Outbound;
  /** Where stream messages go while no GET stream is open here: the replica that has one (several replicas only). */
  remote?: Outbound;
}

export class SessionRegistry {
  private readonly entries = new Map<string, SessionEntry>();
  /** Session ids by limit key. */
  private readonly byKey = new Map<string, Set<string>>();
  private readonly sweeper: NodeJS.Timeout;
  /** Hears of a session closed here for being idle (the directory ends it in a single-node store). */
  onIdle?: (id: string) => void;
  /** Asked before an idle session is closed here: true keeps it (its GET stream is here, its requests elsewhere). */
  stillWanted?: (id: string, entry: SessionEntry) => Promise<boolean>;

  constructor(private readonly idleMs: number) {
    this.sweeper = setInterval(() => void this.sweep(), Math.min(60_000, Math.max(1_000, Math.floor(idleMs / 2))));
    this.sweeper.unref();
  }

  get size(): number {
    return this.entries.size;
  }

  add(id: string, session: GatewaySession, owner: string, limitKey: string = owner): SessionEntry {
    const entry: SessionEntry = { session, owner, limitKey, inflight: new Map(), streams: new Map() };
    this.entries.set(id, entry);
    let ids = this.byKey.get(limitKey);
    if (ids === undefined) this.byKey.set(limitKey, (ids = new Set()));
    ids.add(id);
    return entry;
  }

  /** Sessions open under one limit key. */
  countFor(limitKey: string): number {
    return this.byKey.get(limitKey)?.size ?? 0;
  }

  /** When the least recently used session under `limitKey` was last used (now when there is none). */
  oldestSeenFor(limitKey: string): number {
    let oldest = Date.now();
    for (const id of this.byKey.get(limitKey) ?? []) oldest = Math.min(oldest, this.entries.get(id)?.session.lastSeen ?? oldest);
    return oldest;
  }

  get(id: string): SessionEntry | undefined {
    return this.entries.get(id);
  }

  async remove(id: string): Promise<void> {
    const entry = this.entries.get(id);
    if (!entry) return;
    this.entries.delete(id);
    const ids = this.byKey.get(entry.limitKey);
    ids?.delete(id);
    if (ids?.size === 0) this.byKey.delete(entry.limitKey);
    entry.closeStandalone?.();
    await entry.session.close();
  }

  private async sweep(): Promise<void> {
    const cutoff = Date.now() - this.idleMs;
    for (const [id, e] of this.entries) {
      if (e.session.lastSeen < cutoff && e.inflight.size === 0) {
        if (await this.stillWanted?.(id, e).catch(() => false)) continue;
        await this.remove(id);
        this.onIdle?.(id);
      }
    }
  }

  async closeAll(): Promise<void> {
    clearInterval(this.sweeper);
    await Promise.all([...this.entries.keys()].map((id) => this.remove(id)));
  }
}
