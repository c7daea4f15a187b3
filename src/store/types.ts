/** Store interfaces. Two backends (SQLite, PostgreSQL) implement them and pass one shared test suite. */
import type { AuditEvent } from '../audit/event.js';

export interface AuditQuery {
  /** At most this many events, newest last. */
  limit: number;
  /** Only events with an id greater than this one (ids are time-sortable). */
  afterId?: string;
}

export interface AuditStore {
  /** Appends events durably, in order, in one transaction. Rejects if they could not be stored. */
  append(events: readonly AuditEvent[]): Promise<void>;
  /** The newest `limit` events (after `afterId` when given), oldest first. */
  tail(query: AuditQuery): Promise<AuditEvent[]>;
  count(): Promise<number>;
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
