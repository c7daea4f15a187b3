/** Audit store interfaces: the hash-chained event log, its checkpoints, keys, export cursors and leases. */
import type { AuditEvent } from '../audit/event.js';

export interface AuditQuery {
  /** At most this many events, newest last. */
  limit: number;
  /** Only events with an id greater than this one (ids are time-sortable). */
  afterId?: string;
}

/** The last link of the audit chain. */
export interface AuditChainHead {
  seq: number;
  hash: string;
}

/** A signed statement that the audit chain had `hash` at `seq` (see src/audit/checkpoints.ts). */
export interface AuditCheckpoint {
  seq: number;
  hash: string;
  /** ISO-8601 time it was signed. */
  createdAt: string;
  /** The gateway instance that signed it. */
  instance: string;
  kid: string;
  /** The public JWK of the signing key, kept so the checkpoint stays verifiable after the key is pruned. */
  publicJwk: Record<string, unknown>;
  /** Compact JWS over the canonical JSON of { seq, hash, createdAt, instance }. */
  signature: string;
}

/** A key that has signed checkpoints. Never pruned: the record that the kid existed. */
export interface AuditKeyRecord {
  kid: string;
  alg: string;
  publicJwk: Record<string, unknown>;
  /** ISO-8601 time of its first checkpoint. */
  firstUsedAt: string;
}

/** Which events a trace shows: every filter given must match (agent matches the acting agent or one in the chain). */
export interface TraceQuery {
  task?: string;
  session?: string;
  user?: string;
  agent?: string;
  /** Only events with this outcome (`ok`, `error`, `denied`, `timeout`, `cancelled`). */
  outcome?: string;
  /** ISO-8601: only events at or after this time. */
  since?: string;
  /** At most this many: the newest matches, returned oldest first. */
  limit: number;
}

export interface AuditStore {
  /**
   * Appends events durably, in order, in one transaction, linking them to the store's hash chain (seq,
   * prevHash, hash) under the store's write lock. Rejects if they could not be stored.
   */
  append(events: readonly AuditEvent[]): Promise<void>;
  /** The newest `limit` events (after `afterId` when given), oldest first, with their chain fields. */
  tail(query: AuditQuery): Promise<AuditEvent[]>;
  count(): Promise<number>;
  /** The chain's last link, or undefined when no event is chained. */
  head(): Promise<AuditChainHead | undefined>;
  /** Up to `limit` chained events with seq > `afterSeq`, by seq ascending. */
  readChain(afterSeq: number, limit: number): Promise<AuditEvent[]>;
  /**
   * The first row (by id) that has no chain position: never written by warden, which always chains. With
   * `nextSeq`, the smallest seq stored after it by id (null when none).
   */
  firstUnchained(): Promise<{ id: string; nextSeq: number | null } | undefined>;
  /** Stores a checkpoint; false (and nothing written) when one exists at its seq already. */
  addCheckpoint(checkpoint: AuditCheckpoint): Promise<boolean>;
  /** Up to `limit` checkpoints with seq > `afterSeq`, by seq ascending. */
  checkpoints(afterSeq: number, limit: number): Promise<AuditCheckpoint[]>;
  /** The checkpoint with the highest seq, if any. */
  lastCheckpoint(): Promise<AuditCheckpoint | undefined>;
  /** Records a checkpoint key; a kid already recorded keeps its first record. */
  registerKey(key: AuditKeyRecord): Promise<void>;
  /** The last seq delivered to an export sink; 0 when it has received nothing yet. */
  getSinkCursor(sink: string): Promise<number>;
  /** Moves a sink's cursor forward to `seq` (never back: a stale writer cannot rewind it). */
  setSinkCursor(sink: string, seq: number): Promise<void>;
  /**
   * Takes or renews the lease `name` for `holder` for `ttlMs`; true while `holder` holds it. Another holder
   * gets it only once it has lapsed (its holder died or stopped renewing). SQLite: always true (one process).
   */
  holdLease(name: string, holder: string, ttlMs: number): Promise<boolean>;
  /** Gives up the lease if `holder` holds it, so another replica can take it at once. */
  releaseLease(name: string, holder: string): Promise<void>;
  /** Events matching a trace query, by seq ascending (the newest `limit` matches). */
  trace(query: TraceQuery): Promise<AuditEvent[]>;
  /** Deletes chained events with seq <= throughSeq (retention; the caller picks a checkpoint's seq); returns how many. */
  prune(throughSeq: number): Promise<number>;
  /** Every recorded checkpoint key, oldest first. */
  keys(): Promise<AuditKeyRecord[]>;
}
