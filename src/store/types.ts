/** Store interfaces. Two backends (SQLite, PostgreSQL) implement them and pass one shared test suite. */
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
  /** Events matching a trace query, by seq ascending (the newest `limit` matches). */
  trace(query: TraceQuery): Promise<AuditEvent[]>;
  /** Deletes chained events with seq <= throughSeq (retention; the caller picks a checkpoint's seq); returns how many. */
  prune(throughSeq: number): Promise<number>;
  /** Every recorded checkpoint key, oldest first. */
  keys(): Promise<AuditKeyRecord[]>;
}

/** A gateway signing key. The private JWK never leaves the gateway; only the public one is published. */
export interface SigningKeyRecord {
  kid: string;
  alg: string;
  publicJwk: Record<string, unknown>;
  privateJwk: Record<string, unknown>;
  /** ISO-8601 times: created, last moment it signs, last moment it is published (after its last token expired). */
  createdAt: string;
  retireAt: string;
  expireAt: string;
}

export interface KeyStore {
  /** Keys whose expireAt is after `now` (ISO-8601), newest createdAt first. */
  list(now: string): Promise<SigningKeyRecord[]>;
  insert(key: SigningKeyRecord): Promise<void>;
  /** Deletes keys whose expireAt is at or before `now`; returns how many. */
  prune(now: string): Promise<number>;
}

/** Single-use markers (for example the jti of an actor assertion), so a replay is refused on every replica. */
export interface ReplayStore {
  /** Records `key` until `expiresAt` (ISO-8601). True the first time; false if it is already recorded and unexpired. */
  claimOnce(key: string, expiresAt: string): Promise<boolean>;
  /** Deletes expired markers; returns how many. */
  prune(now: string): Promise<number>;
}

/** A token the gateway issued, recorded so its delegation chain is trusted from the store, not from the token. */
export interface IssuedTokenRecord {
  jti: string;
  /** The human subject, or null. */
  user: string | null;
  agent: string;
  tenant: string | null;
  /** Agents that delegated, nearest first. */
  chain: string[];
  scopes: string[];
  task: string | null;
  /** The gateway token it was exchanged from, if any. */
  parentJti: string | null;
  issuedAt: string;
  expiresAt: string;
}

export interface TokenStore {
  record(token: IssuedTokenRecord): Promise<void>;
  get(jti: string): Promise<IssuedTokenRecord | undefined>;
}

export interface Store {
  readonly kind: 'sqlite' | 'postgres';
  /** Where it lives, safe to print (a PostgreSQL URL has its password removed). */
  readonly location: string;
  readonly audit: AuditStore;
  readonly keys: KeyStore;
  readonly replay: ReplayStore;
  readonly tokens: TokenStore;
  /** False once closed. Cheap and synchronous: checked before a call is forwarded, so a closed store refuses it. */
  isOpen(): boolean;
  /** The schema version after migrations. */
  schemaVersion(): Promise<number>;
  close(): Promise<void>;
}
