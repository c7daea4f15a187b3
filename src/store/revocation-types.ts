/** Revocation store interfaces: what every replica refuses from the next request on. */

export type RevocationKind = 'task' | 'agent' | 'user' | 'token';

/**
 * A revocation: from the next request on, every replica refuses a principal whose task, agent, user, token
 * id (jti) or delegation chain names it. One record per (kind, value).
 */
export interface RevocationRecord {
  /** UUIDv7. */
  id: string;
  kind: RevocationKind;
  /** The task id, agent id, user (subject) or token jti. */
  value: string;
  /** ISO-8601. */
  revokedAt: string;
  /** Who revoked it (`cli`, an operator name). */
  by: string;
  reason: string | null;
  /** ISO-8601 after which the record may be dropped (a token's or task's expiry: it is refused anyway); null: kept. */
  expiresAt: string | null;
  /**
   * Position in the store's revocation log, assigned by `add`: strictly increasing in commit order (never
   * reused), so a reader that remembers the last seq it saw and reads `since` it misses nothing.
   */
  seq: number;
}

/** What `add` stores; the store assigns `seq`. */
export type NewRevocation = Omit<RevocationRecord, 'seq'>;

/**
 * A dedicated connection that hears of new revocations as they commit (PostgreSQL LISTEN). Reads go over the
 * same connection, so a successful read also proves that the channel is alive.
 */
export interface RevocationFeed {
  /** As RevocationStore.since, over the feed's connection. */
  since(afterSeq: number, limit: number): Promise<RevocationRecord[]>;
  close(): Promise<void>;
}

export interface RevocationFilter {
  kind?: RevocationKind;
  inForceAt?: string;
  limit?: number;
}

export interface RevocationStore {
  /**
   * Stores a revocation, idempotent per (kind, value): when that pair is revoked already, nothing is written
   * and the stored record comes back with created false. A record of the pair that expired at or before
   * `r.revokedAt` (a lifted one) counts as absent: it is replaced. On PostgreSQL a new record is announced with
   * pg_notify('warden_revocations', id) in the inserting transaction (delivered when it commits).
   */
  add(r: NewRevocation): Promise<{ record: RevocationRecord; created: boolean }>;
  /** Newest first; `kind` filters; `inForceAt` (ISO-8601) keeps records not expired at that time; limit 1..10000 (default 100). */
  list(filter?: RevocationFilter): Promise<RevocationRecord[]>;
  /** Up to `limit` records with seq > afterSeq, by seq ascending: load with 0, then follow the log. */
  since(afterSeq: number, limit: number): Promise<RevocationRecord[]>;
  /** Deletes records whose expiresAt is at or before `now` (ISO-8601); returns how many. */
  prune(now: string): Promise<number>;
  /**
   * Undoes the revocation of (kind, value) in force at `at` (ISO-8601): its record is replaced by a copy that
   * expires at its own revokedAt (marked lifted, whatever a reader's clock), appended to the log (a new seq,
   * and on PostgreSQL a notification), so every reader following `since` learns of it and stops refusing.
   * Undefined when nothing is revoked under that pair at `at`. `add` treats an expired record as absent,
   * so the pair can be revoked again.
   */
  lift(kind: RevocationKind, value: string, at: string): Promise<RevocationRecord | undefined>;
  /**
   * PostgreSQL only (absent on SQLite, where readers poll): opens a feed on its own connection. `onNotify`
   * gets the id of each revocation as it commits; `onLost` is called once if the connection fails (not after
   * close). Rejects with a StoreError when it cannot connect.
   */
  subscribe?(onNotify: (id: string) => void, onLost: (err: Error) => void): Promise<RevocationFeed>;
}
