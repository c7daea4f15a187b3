/** Live downstream sessions: lookup by id, a cap on how many, and closing those left idle. */
import type { GatewaySession } from '../gateway/session.js';
import type { ResponseStream } from './response-stream.js';

export interface SessionEntry {
  session: GatewaySession;
  /** principalKey of the principal that opened it: the only one that may use it. */
  owner: string;
  /** In-flight POSTed requests by JSON-RPC id, so notifications/cancelled can find them. */
  inflight: Map<string | number, ResponseStream>;
  closeStandalone?: () => void;
}

export class SessionRegistry {
  private readonly entries = new Map<string, SessionEntry>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly idleMs: number, readonly max: number) {
    this.sweeper = setInterval(() => void this.sweep(), Math.min(60_000, Math.max(1_000, Math.floor(idleMs / 2))));
    this.sweeper.unref();
  }

  get size(): number {
    return this.entries.size;
  }

  add(id: string, session: GatewaySession, owner: string): SessionEntry {
    const entry: SessionEntry = { session, owner, inflight: new Map() };
    this.entries.set(id, entry);
    return entry;
  }

  get(id: string): SessionEntry | undefined {
    return this.entries.get(id);
  }

  async remove(id: string): Promise<void> {
    const entry = this.entries.get(id);
    if (!entry) return;
    this.entries.delete(id);
    entry.closeStandalone?.();
    await entry.session.close();
  }

  private async sweep(): Promise<void> {
    const cutoff = Date.now() - this.idleMs;
    for (const [id, e] of this.entries) if (e.session.lastSeen < cutoff && e.inflight.size === 0) await this.remove(id);
  }

  async closeAll(): Promise<void> {
    clearInterval(this.sweeper);
    await Promise.all([...this.entries.keys()].map((id) => this.remove(id)));
  }
}
