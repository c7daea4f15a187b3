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

/** A gateway signing key. The private JWK never leaves the gateway; only the public one is published. */
export interface SigningKeyRecord {
  kid: string;
  alg: string;
  publicJwk: Record<string, unknown>;
  /**
   * The private key sealed under the vault master key (`wk1.<masterKeyId>....`, see identity/sealed-key.ts).
   * A store written before keys were sealed holds a clear JWK's JSON here until the gateway seals it at start.
   */
  privateKey: string;
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
  /** Replaces the private key of `kid` if it is still `expected` (compare-and-set); true if it was replaced. */
  replacePrivate(kid: string, expected: string, next: string): Promise<boolean>;
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
  /**
   * The issuer that vouched for the agent when the token was minted (the actor token's issuer, or
   * spiffe://<trustDomain>); null for tokens minted before it was recorded. See src/config/agent-issuers.ts.
   */
  agentIssuer: string | null;
  /**
   * The gateway tokens it was derived from by exchange, oldest first (its parent last): revoking any of them
   * refuses it. Null for tokens minted before it was recorded (then read by following parentJti).
   */
  ancestors: string[] | null;
}

export interface TokenStore {
  record(token: IssuedTokenRecord): Promise<void>;
  get(jti: string): Promise<IssuedTokenRecord | undefined>;
}

/** Where a secret applies. null: unscoped in that dimension. Scope strings are never empty. */
export interface SecretIdentity {
  name: string;
  tenant: string | null;
  environment: string | null;
  upstream: string | null;
}

/** What `list` shows of a secret: its latest version's metadata, never its value or key material. */
export interface SecretMetadata extends SecretIdentity {
  /** The latest version (1 for a new secret, n+1 after each rotation). */
  version: number;
  /** Fingerprint of the master key that wrapped the latest version's data key (never the key). */
  keyId: string;
  /** ISO-8601: when version 1 still stored was written, and when the latest version was. */
  createdAt: string;
  updatedAt: string;
}

/** One stored version of a secret: an envelope (see src/credentials/envelope.ts). Never the plaintext. */
export interface SecretRecord extends SecretIdentity {
  version: number;
  keyId: string;
  /** The data key wrapped by the master key: its IV, ciphertext and tag, concatenated. */
  wrappedKey: Buffer;
  iv: Buffer;
  ciphertext: Buffer;
  tag: Buffer;
  /** ISO-8601: when this version was written, and when the row last changed (a re-wrap). */
  createdAt: string;
  updatedAt: string;
}

/** A version's wrapped data key, as master key rotation reads and compares it. */
export type SecretWrap = SecretIdentity & Pick<SecretRecord, 'version' | 'keyId' | 'wrappedKey'>;

/** Each field given must match exactly; null matches only unscoped rows. */
export interface SecretFilter {
  name?: string;
  tenant?: string | null;
  environment?: string | null;
  upstream?: string | null;
}

export interface SecretStore {
  /** The highest stored version of a secret, or undefined. */
  latest(id: SecretIdentity): Promise<SecretRecord | undefined>;
  /** Stores a new version; false (nothing written) when that identity and version exist already. */
  insert(record: SecretRecord): Promise<boolean>;
  /** The latest version of every secret matching the filter, by name then scope. */
  list(filter?: SecretFilter): Promise<SecretMetadata[]>;
  /** Deletes every version of a secret; returns how many rows went. */
  remove(id: SecretIdentity): Promise<number>;
  /** Every master key id that wraps a stored row, with how many rows, by id. */
  keyIds(): Promise<{ keyId: string; rows: number }[]>;
  /** Up to `limit` rows whose data key is wrapped by a master key other than `keyId`, in a stable order. */
  wrappedByOther(keyId: string, limit: number): Promise<SecretWrap[]>;
  /**
   * Replaces one row's wrapped data key, atomically and only if it still holds `from`'s key id and wrapped
   * key (a compare-and-set: a concurrent rotation or a rewritten row is left alone). True if it changed.
   */
  rewrap(from: SecretWrap, keyId: string, wrappedKey: Buffer, updatedAt: string): Promise<boolean>;
}

export type TaskState = 'active' | 'ended' | 'revoked';

/** A task: a unit of authority with a purpose, a grant (servers and tools, by exposed name) and an expiry. */
export interface TaskRecord {
  /** UUIDv7. */
  id: string;
  /** The agent the task belongs to, the human it acts for, and the tenant. */
  agent: string;
  user: string | null;
  tenant: string | null;
  purpose: string;
  /** What was granted (possibly narrower than what was asked). */
  servers: string[];
  tools: string[];
  /** ISO-8601. */
  createdAt: string;
  expiresAt: string;
  state: TaskState;
  /** ISO-8601 when the task stopped being active, and who stopped it (an agent id, `cli`, or `expired`). */
  endedAt: string | null;
  endedBy: string | null;
}

export interface TaskFilter {
  state?: TaskState;
  agent?: string;
  tenant?: string;
  /** Newest first; default 100. */
  limit?: number;
}

export interface TaskStore {
  /** Stores a new task; throws if the id exists. */
  create(task: TaskRecord): Promise<void>;
  get(id: string): Promise<TaskRecord | undefined>;
  /** Newest first (by id, which sorts by creation time). */
  list(filter?: TaskFilter): Promise<TaskRecord[]>;
  /**
   * Moves an active task to `ended` or `revoked`, atomically (compare-and-set on state = 'active').
   * Returns the updated record, or undefined when the task does not exist or is no longer active.
   */
  finish(id: string, state: 'ended' | 'revoked', at: string, by: string): Promise<TaskRecord | undefined>;
}

export type ApprovalState = 'pending' | 'approved' | 'denied' | 'consumed';

/**
 * A human approval for one call: bound to the call's digest (principal, task, tool, params), decided once,
 * and consumed by the one call it authorises. The record holds a redacted view of the arguments; the complete
 * call is kept apart, encrypted, only while the request is pending (ApprovalStore.sealedCall).
 */
export interface ApprovalRecord {
  /** UUIDv7. */
  id: string;
  /** sha256 hex over the canonical call (see src/approvals/digest.ts). */
  digest: string;
  agent: string;
  user: string | null;
  tenant: string | null;
  /** Delegating agents, nearest first. */
  chain: string[];
  task: string | null;
  upstream: string;
  /** The tool as clients name it. */
  tool: string;
  /** A redacted JSON view of the arguments, for the approver; null when not kept. */
  arguments: string | null;
  /** Why approval is needed (the policy's reason) and which policies said so. */
  reason: string;
  policyIds: string[];
  /** ISO-8601. The request (and an approval given for it) is void after expiresAt. */
  createdAt: string;
  expiresAt: string;
  state: ApprovalState;
  decidedBy: string | null;
  decidedAt: string | null;
  decisionReason: string | null;
  consumedAt: string | null;
}

export interface ApprovalStore {
  /**
   * Stores a new pending request; throws if the id exists. `sealedCall` is the complete call as approvers see
   * it, encrypted under the master key (src/approvals/sealed-call.ts); it is kept only while the request is
   * pending and unexpired.
   */
  create(r: ApprovalRecord, sealedCall?: string | null): Promise<void>;
  /** The sealed call of a request still pending and unexpired at `at`; undefined once decided or expired, or when none was kept. */
  sealedCall(id: string, at: string): Promise<string | undefined>;
  /** Deletes the sealed calls of requests decided or expired at `at` (decide deletes its own at once); returns how many. */
  forgetCalls(at: string): Promise<number>;
  get(id: string): Promise<ApprovalRecord | undefined>;
  /** Newest first; `state` filters; default limit 100. */
  list(filter?: { state?: ApprovalState; limit?: number }): Promise<ApprovalRecord[]>;
  /**
   * pending -> approved | denied, atomically, only while unexpired at `at`. Returns the updated record, or
   * undefined when it does not exist, is no longer pending, or has expired.
   */
  decide(id: string, state: 'approved' | 'denied', by: string, reason: string | null, at: string): Promise<ApprovalRecord | undefined>;
  /**
   * approved -> consumed for one approved, unexpired record with this digest (the oldest), atomically: of
   * two concurrent calls exactly one gets it. Returns the consumed record or undefined.
   */
  consume(digest: string, at: string): Promise<ApprovalRecord | undefined>;
  /** The newest pending, unexpired request with this digest, so a retried call waits on the same request. */
  pendingFor(digest: string, at: string): Promise<ApprovalRecord | undefined>;
}

/** A credential issued for a task (a database role, ...): recorded by id and handle, never its value. */
export interface LeaseRecord {
  /** UUIDv7. */
  id: string;
  task: string;
  /** The configured lease (config `leases.<name>`). */
  name: string;
  provider: string;
  /** What the provider revokes by (a role name); never a secret. */
  handle: string;
  createdAt: string;
  expiresAt: string;
  state: 'active' | 'revoked';
  revokedAt: string | null;
}

export interface LeaseStore {
  create(r: LeaseRecord): Promise<void>;
  /** Active leases, oldest first; of one task when given. */
  active(task?: string): Promise<LeaseRecord[]>;
  /** active -> revoked (compare-and-set); false when it was not active. */
  revoke(id: string, at: string): Promise<boolean>;
}

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

/** A downstream session as any replica needs it; bound to the digest of the principal that opened it. */
export interface SessionRecord {
  id: string;
  /** sha256 (hex) of the opener's principal key: only the same principal may use the session. */
  ownerDigest: string;
  protocolVersion: string;
  clientInfo: Record<string, unknown>;
  clientCapabilities: Record<string, unknown>;
  createdAt: string;
  lastSeenAt: string;
}

/** What one replica tells the others about a session: it ended, a message for its GET stream, a client's answer or cancel. */
export type SessionSignalKind = 'end' | 'stream' | 'response' | 'cancel';
export interface SessionSignal {
  id: string;
  sessionId: string;
  kind: SessionSignalKind;
  /** JSON text (the message), '' for end. */
  payload: string;
  createdAt: string;
}

export interface SessionSignalFeed {
  close(): Promise<void>;
}

export interface SessionStore {
  create(r: SessionRecord): Promise<void>;
  get(id: string): Promise<SessionRecord | undefined>;
  /** Records a use; false when the session is gone. */
  touch(id: string, at: string): Promise<boolean>;
  /** Ends the session (every replica hears of it where signals are supported); false when it was not there. */
  end(id: string, at: string): Promise<boolean>;
  /** Deletes sessions last used before `before`, and signals older than `signalsBefore`; returns the sessions' ids. */
  prune(before: string, signalsBefore: string): Promise<string[]>;
  /** Where several replicas share the store (PostgreSQL): a signal to every replica. */
  publish?(s: Omit<SessionSignal, 'createdAt'>, at: string): Promise<void>;
  subscribe?(onSignal: (s: SessionSignal) => void, onLost: (err: Error) => void): Promise<SessionSignalFeed>;
}

export type PinKind = 'tool' | 'prompt';
/** approved: the pin (one per name); pending: waits for an operator; rejected: refused; superseded: an earlier pin. */
export type PinState = 'approved' | 'pending' | 'rejected' | 'superseded';

/** A tool or prompt definition an upstream served, by digest (see src/integrity/). */
export interface PinRecord {
  upstream: string;
  kind: PinKind;
  /** The name as the upstream knows it. */
  name: string;
  /** sha256 over the canonical JSON of the definition. */
  digest: string;
  /** The canonical JSON of the definition, for `warden tools diff`. */
  definition: string;
  /** Finding ids of the poisoning checks when it was first seen. */
  findings: string[];
  state: PinState;
  firstSeenAt: string;
  decidedAt: string | null;
  /** Who decided: an operator, or `trust-on-first-use`. */
  decidedBy: string | null;
}

export interface PinFilter {
  upstream?: string;
  state?: PinState;
}

/** Tool integrity pins, shared by every replica (migration 19). */
export interface IntegrityStore {
  /** By upstream, kind, name, then first seen. */
  list(filter?: PinFilter): Promise<PinRecord[]>;
  /**
   * Records a definition seen for the first time (nothing happens for a digest already recorded). A record
   * offered as `approved` (trust on first use) is kept as `pending` when the name has an approved pin already.
   * Returns the stored record and whether it was created.
   */
  observe(r: PinRecord): Promise<{ record: PinRecord; created: boolean }>;
  /**
   * An operator's decision on one recorded digest. Approving it supersedes the pin it replaces (one statement);
   * rejecting applies only to a pending one. Undefined when there was nothing to decide.
   */
  decide(upstream: string, kind: PinKind, name: string, digest: string, state: 'approved' | 'rejected', by: string, at: string): Promise<PinRecord | undefined>;
  /** A cheap fingerprint of every pin's state: it changes whenever a definition is recorded or decided. */
  version(): Promise<string>;
}

export interface Store {
  readonly kind: 'sqlite' | 'postgres';
  readonly sessions: SessionStore;
  /** Where it lives, safe to print (a PostgreSQL URL has its password removed). */
  readonly location: string;
  readonly audit: AuditStore;
  readonly keys: KeyStore;
  readonly replay: ReplayStore;
  readonly tokens: TokenStore;
  readonly secrets: SecretStore;
  readonly tasks: TaskStore;
  readonly approvals: ApprovalStore;
  readonly leases: LeaseStore;
  readonly revocations: RevocationStore;
  readonly integrity: IntegrityStore;
  /** False once closed. Cheap and synchronous: checked before a call is forwarded, so a closed store refuses it. */
  isOpen(): boolean;
  /** The schema version after migrations. */
  schemaVersion(): Promise<number>;
  close(): Promise<void>;
}
