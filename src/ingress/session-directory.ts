/**
 * Where a session lives: this replica's registry in front of the shared store. A 2025-11-25 session works
 * whichever replica each request lands on. The store holds what any replica needs (the digest of the
 * principal it is bound to, the version, the client's info and capabilities); a replica that has not seen a
 * session builds it from there, for the same principal only, and opens upstream connections lazily.
 *
 * Replicas tell each other (PostgreSQL LISTEN/NOTIFY, session-signal rows) that a session ended, that a
 * message waits for the client's GET stream, and of a client's answer or cancellation that reached another
 * replica than the request it concerns. A local copy is checked against the store every `revalidateMs`, so an
 * end that a lost notification did not announce still takes effect within that window.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Gateway } from '../gateway/gateway.js';
import type { SessionInit } from '../gateway/session.js';
import { principalKey, type Principal } from '../identity/index.js';
import { JsonRpcCode, WardenError } from '../protocol/errors.js';
import type { JsonRpcMessage, JsonRpcResponse } from '../protocol/jsonrpc.js';
import type { SessionSignal, SessionSignalFeed, SessionSignalKind, SessionStore } from '../store/index.js';
import type { Logger } from '../telemetry/log.js';
import { limitKey } from './limits.js';
import type { SessionEntry, SessionRegistry } from './sessions.js';

export interface DirectoryOptions {
  registry: SessionRegistry;
  gateway: Gateway;
  log: Logger;
  idleMs: number;
  /** Absent: sessions live in this process only. */
  store?: SessionStore;
  /** How often a local copy of a shared session is checked against the store (default 2 s). */
  revalidateMs?: number;
}

const ownerDigest = (p: Principal): string => createHash('sha256').update(principalKey(p)).digest('hex');
const iso = (ms: number): string => new Date(ms).toISOString();

export const sessionNotFound = (): WardenError => new WardenError('session_not_found', 'Session not found', JsonRpcCode.SessionNotFound, 404);
const storeDown = (): WardenError =>
  new WardenError('session_store_unavailable', 'The session store is unavailable; try again shortly', JsonRpcCode.SessionStoreUnavailable, 503, { retryAfter: 1 });

export class SessionDirectory {
  private feed: SessionSignalFeed | undefined;
  private readonly checked = new Map<string, number>();
  private readonly touched = new Map<string, number>();
  private readonly adopting = new Map<string, Promise<SessionEntry>>();
  private readonly timers: { prune?: NodeJS.Timeout; reconnect?: NodeJS.Timeout } = {};
  private stopped = false;
  private attempts = 0;

  constructor(private readonly opts: DirectoryOptions) {
    opts.registry.onIdle = (id) => {
      // One node: a session idle here is idle everywhere. Several: the store's own prune decides.
      if (!this.distributed) void opts.store?.end(id, iso(Date.now())).catch(() => undefined);
    };
    // A GET stream held here for a session whose requests go to other replicas: kept while the store says
    // the session is in use.
    opts.registry.stillWanted = async (id, entry) => {
      if (!this.distributed || entry.localStream === undefined) return false;
      const record = await opts.store!.get(id);
      return record !== undefined && Date.parse(record.lastSeenAt) > Date.now() - opts.idleMs;
    };
  }

  /** True when replicas share the store and signal each other (PostgreSQL). */
  get distributed(): boolean {
    return this.opts.store?.subscribe !== undefined;
  }

  /** Subscribes to other replicas' signals and starts pruning sessions idle everywhere. */
  async start(): Promise<void> {
    const { store } = this.opts;
    if (store === undefined) return;
    const every = Math.min(60_000, Math.max(1_000, Math.floor(this.opts.idleMs / 4)));
    this.timers.prune = setInterval(() => void this.prune(), every);
    this.timers.prune.unref();
    if (this.distributed) await this.listen();
  }

  private async listen(): Promise<void> {
    try {
      this.feed = await this.opts.store!.subscribe!(
        (s) => this.onSignal(s),
        (err) => {
          this.feed = undefined;
          this.opts.log.warn({ reason: err.message }, 'session signal feed lost; reconnecting');
          this.reconnect();
        },
      );
      this.attempts = 0;
    } catch (err) {
      this.opts.log.warn({ reason: (err as Error).message }, 'session signal feed unavailable; retrying');
      this.reconnect();
    }
  }

  private reconnect(): void {
    if (this.stopped) return;
    const delay = Math.min(5_000, 100 * 2 ** this.attempts++);
    this.timers.reconnect = setTimeout(() => void this.listen(), delay);
    this.timers.reconnect.unref();
  }

  /** Registers a new session on this replica (`store` then shares it). */
  openLocal(id: string, init: SessionInit, principal: Principal): SessionEntry {
    const session = this.opts.gateway.openSession(init);
    const entry = this.opts.registry.add(id, session, principalKey(principal), limitKey(principal));
    this.attachRemote(entry, id);
    return entry;
  }

  /** Writes an accepted session to the store; when it cannot, the session is closed and refused (fail closed). */
  async store(id: string, init: SessionInit, principal: Principal): Promise<void> {
    const now = Date.now();
    try {
      await this.opts.store?.create({
        id,
        ownerDigest: ownerDigest(principal),
        protocolVersion: init.protocolVersion,
        clientInfo: init.clientInfo,
        clientCapabilities: init.clientCapabilities,
        createdAt: iso(now),
        lastSeenAt: iso(now),
      });
    } catch (err) {
      this.opts.log.warn({ reason: (err as Error).message }, 'session could not be stored: refused');
      await this.opts.registry.remove(id);
      throw storeDown();
    }
    this.checked.set(id, now);
    this.touched.set(id, now);
  }

  /** The session `sid` if it exists and is bound to `principal`; another principal's session does not exist for it. */
  async find(sid: string, principal: Principal): Promise<SessionEntry> {
    const local = this.opts.registry.get(sid);
    if (local !== undefined) {
      if (local.owner !== principalKey(principal)) throw sessionNotFound();
      await this.revalidate(sid);
      return local;
    }
    if (this.opts.store === undefined) throw sessionNotFound();
    let pending = this.adopting.get(sid);
    if (pending === undefined) {
      pending = this.adopt(sid, principal).finally(() => this.adopting.delete(sid));
      this.adopting.set(sid, pending);
    }
    const entry = await pending;
    // Two principals racing for one id: each is checked against the binding, whoever adopted it.
    if (entry.owner !== principalKey(principal)) throw sessionNotFound();
    return entry;
  }

  private async adopt(sid: string, principal: Principal): Promise<SessionEntry> {
    const record = await this.opts.store!.get(sid).catch(() => {
      throw storeDown();
    });
    // The binding is read from the store: a session id is never a credential.
    if (record === undefined || record.ownerDigest !== ownerDigest(principal)) throw sessionNotFound();
    const again = this.opts.registry.get(sid);
    if (again !== undefined) return again;
    const session = this.opts.gateway.openSession({
      id: sid,
      protocolVersion: record.protocolVersion,
      clientInfo: record.clientInfo,
      clientCapabilities: record.clientCapabilities,
      owner: principal,
    });
    const entry = this.opts.registry.add(sid, session, principalKey(principal), limitKey(principal));
    this.attachRemote(entry, sid);
    this.checked.set(sid, Date.now());
    await this.touch(sid);
    return entry;
  }

  /** A local copy of a shared session: still in the store? (an end elsewhere whose notification was lost). */
  private async revalidate(sid: string): Promise<void> {
    const now = Date.now();
    if (this.distributed && now - (this.checked.get(sid) ?? 0) >= (this.opts.revalidateMs ?? 2_000)) {
      const record = await this.opts.store!.get(sid).catch(() => {
        throw storeDown();
      });
      if (record === undefined) {
        await this.forget(sid);
        throw sessionNotFound();
      }
      this.checked.set(sid, now);
    }
    await this.touch(sid);
  }

  /** Records a use in the store, at most every quarter of the idle timeout (the store prunes by it). */
  private async touch(sid: string): Promise<void> {
    const now = Date.now();
    if (this.opts.store === undefined || now - (this.touched.get(sid) ?? 0) < Math.min(60_000, this.opts.idleMs / 4)) return;
    this.touched.set(sid, now);
    await this.opts.store.touch(sid, iso(now)).catch((err: unknown) => this.opts.log.warn({ reason: (err as Error).message }, 'session use not recorded'));
  }

  /** Ends a session here and (through the store) on every replica. */
  async end(sid: string): Promise<void> {
    try {
      await this.opts.store?.end(sid, iso(Date.now()));
    } catch {
      throw storeDown();
    }
    await this.forget(sid);
  }

  private async forget(sid: string): Promise<void> {
    this.checked.delete(sid);
    this.touched.delete(sid);
    await this.opts.registry.remove(sid);
  }

  /** Tells the other replicas (no-op on one node). Returns false when it could not. */
  async signal(sid: string, kind: SessionSignalKind, message?: JsonRpcMessage): Promise<boolean> {
    const { store } = this.opts;
    if (!this.distributed || store?.publish === undefined) return false;
    try {
      await store.publish({ id: randomUUID(), sessionId: sid, kind, payload: message === undefined ? '' : JSON.stringify(message) }, iso(Date.now()));
      return true;
    } catch (err) {
      this.opts.log.warn({ reason: (err as Error).message, kind }, 'session signal not sent');
      return false;
    }
  }

  /** While no GET stream of the session is open here, its messages go to the replica that has one. */
  private attachRemote(entry: SessionEntry, sid: string): void {
    if (!this.distributed) return;
    entry.remote = { send: (m) => (void this.signal(sid, 'stream', m), true) };
    entry.session.standalone = entry.remote;
  }

  private onSignal(s: SessionSignal): void {
    const entry = this.opts.registry.get(s.sessionId);
    if (entry === undefined) return;
    try {
      const message = s.payload === '' ? undefined : (JSON.parse(s.payload) as JsonRpcMessage);
      if (s.kind === 'end') void this.forget(s.sessionId);
      else if (s.kind === 'stream' && message) entry.localStream?.send(message);
      else if (s.kind === 'response' && message) entry.session.acceptClientResponse(message as JsonRpcResponse);
      else if (s.kind === 'cancel' && message && 'params' in message) {
        const id = (message.params as Record<string, unknown> | undefined)?.requestId;
        if (typeof id === 'string' || typeof id === 'number') entry.inflight.get(id)?.cancel();
      }
    } catch (err) {
      this.opts.log.warn({ reason: (err as Error).message, kind: s.kind }, 'session signal not applied');
    }
  }

  private async prune(): Promise<void> {
    const now = Date.now();
    try {
      const gone = await this.opts.store!.prune(iso(now - this.opts.idleMs), iso(now - 60_000));
      for (const id of gone) if (this.opts.registry.get(id)?.inflight.size === 0) await this.forget(id);
    } catch (err) {
      this.opts.log.warn({ reason: (err as Error).message }, 'session prune failed');
    }
  }

  async close(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timers.prune);
    clearTimeout(this.timers.reconnect);
    await this.feed?.close();
  }
}
