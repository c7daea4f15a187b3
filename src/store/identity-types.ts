/** Identity store interfaces: gateway signing keys, single-use markers and issued tokens. */

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
