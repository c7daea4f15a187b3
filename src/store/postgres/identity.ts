/**
 * Signing keys, replay markers and issued tokens on PostgreSQL. Times are canonical ISO text in COLLATE "C"
 * columns, compared as text (see identity-rows.ts). Every write is one statement, so it is atomic across
 * replicas without an explicit transaction.
 */
import {
  checkIso,
  KEY_COLUMNS,
  keyFromRow,
  keyToRow,
  nowIso,
  TOKEN_COLUMNS,
  tokenFromRow,
  tokenToRow,
  type KeyRow,
  type TokenRow,
} from '../identity-rows.js';
import type { IssuedTokenRecord, KeyStore, ReplayStore, SigningKeyRecord, TokenStore } from '../types.js';
import type { Run } from './audit.js';

const params = (n: number): string => Array.from({ length: n }, (_, i) => `$${i + 1}`).join(', ');
/** A DELETE that reports how many rows it removed, through the row-returning `Run`. */
const countingDelete = (table: string, column: string): string =>
  `WITH d AS (DELETE FROM ${table} WHERE ${column} <= $1 RETURNING 1) SELECT count(*)::int AS n FROM d`;

const KEYS_LIST = {
  name: 'warden_keys_list_v2',
  text: `SELECT ${KEY_COLUMNS.join(', ')} FROM warden_signing_keys WHERE expire_at > $1 ORDER BY created_at DESC, kid DESC`,
};
const KEYS_INSERT = {
  name: 'warden_keys_insert_v2',
  text: `INSERT INTO warden_signing_keys (${KEY_COLUMNS.join(', ')}) VALUES (${params(KEY_COLUMNS.length)})`,
};
const KEYS_REPLACE = {
  name: 'warden_keys_replace_v17',
  text: 'UPDATE warden_signing_keys SET private_jwk = $1 WHERE kid = $2 AND private_jwk = $3 RETURNING kid',
};
const KEYS_PRUNE = { name: 'warden_keys_prune_v2', text: countingDelete('warden_signing_keys', 'expire_at') };

// A new key inserts. An existing key is taken over only if its marker has expired; otherwise nothing is
// written and no row returns. Concurrent claims of one key serialize on its unique index (the losers wait
// for the winner's commit, then re-check the WHERE against the row it wrote), so exactly one returns a row.
const REPLAY_CLAIM = {
  name: 'warden_replay_claim_v2',
  text: `INSERT INTO warden_replay_markers (key, expires_at) VALUES ($1, $2)
         ON CONFLICT (key) DO UPDATE SET expires_at = EXCLUDED.expires_at
         WHERE warden_replay_markers.expires_at <= $3
         RETURNING key`,
};
const REPLAY_PRUNE = { name: 'warden_replay_prune_v2', text: countingDelete('warden_replay_markers', 'expires_at') };

const TOKENS_RECORD = {
  name: 'warden_tokens_record_v17',
  text: `INSERT INTO warden_issued_tokens (${TOKEN_COLUMNS.join(', ')}) VALUES (${params(TOKEN_COLUMNS.length)})`,
};
const TOKENS_GET = {
  name: 'warden_tokens_get_v17',
  text: `SELECT ${TOKEN_COLUMNS.join(', ')} FROM warden_issued_tokens WHERE jti = $1`,
};

export class PostgresKeyStore implements KeyStore {
  /** `run` checks for close and turns failures into StoreErrors with the password scrubbed. */
  constructor(private readonly run: Run) {}

  async list(now: string): Promise<SigningKeyRecord[]> {
    checkIso(now, 'now');
    return (await this.run<KeyRow>('signing key list', KEYS_LIST, [now])).map(keyFromRow);
  }

  async insert(key: SigningKeyRecord): Promise<void> {
    const row = keyToRow(key);
    await this.run('signing key insert', KEYS_INSERT, KEY_COLUMNS.map((c) => row[c]));
  }

  async prune(now: string): Promise<number> {
    checkIso(now, 'now');
    return (await this.run<{ n: number }>('signing key prune', KEYS_PRUNE, [now]))[0]!.n;
  }

  async replacePrivate(kid: string, expected: string, next: string): Promise<boolean> {
    return (await this.run('signing key replace', KEYS_REPLACE, [next, kid, expected])).length === 1;
  }
}

export class PostgresReplayStore implements ReplayStore {
  constructor(private readonly run: Run) {}

  /** Expiry is judged by this process's clock, the clock that produced `expiresAt`. */
  async claimOnce(key: string, expiresAt: string): Promise<boolean> {
    checkIso(expiresAt, 'expiresAt');
    return (await this.run('replay claim', REPLAY_CLAIM, [key, expiresAt, nowIso()])).length === 1;
  }

  async prune(now: string): Promise<number> {
    checkIso(now, 'now');
    return (await this.run<{ n: number }>('replay prune', REPLAY_PRUNE, [now]))[0]!.n;
  }
}

export class PostgresTokenStore implements TokenStore {
  constructor(private readonly run: Run) {}

  async record(token: IssuedTokenRecord): Promise<void> {
    const row = tokenToRow(token);
    await this.run('issued token record', TOKENS_RECORD, TOKEN_COLUMNS.map((c) => row[c]));
  }

  async get(jti: string): Promise<IssuedTokenRecord | undefined> {
    const rows = await this.run<TokenRow>('issued token get', TOKENS_GET, [jti]);
    return rows[0] === undefined ? undefined : tokenFromRow(rows[0]);
  }
}
