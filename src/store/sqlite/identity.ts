/**
 * Signing keys, replay markers and issued tokens on SQLite. Times are canonical ISO text compared as text
 * (see identity-rows.ts). Every write is one statement, so it is atomic even with several processes on the file.
 */
import type Database from 'better-sqlite3';
import { toStoreError } from '../errors.js';
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
import { lazy } from './lazy.js';

const named = (cols: readonly string[]): string => cols.map((c) => '@' + c).join(', ');

/**
 * Runs `body` after the open check, turning any database failure into a StoreError (store_unavailable).
 * Arguments are checked before it, so a bad time is a RangeError (a caller bug), as for audit limits.
 */
function guard<T>(ensureOpen: () => void, what: string, body: () => T): T {
  ensureOpen();
  try {
    return body();
  } catch (err) {
    throw toStoreError(err, 'store_unavailable', `${what} failed`);
  }
}

export class SqliteKeyStore implements KeyStore {
  private readonly listStmt;
  private readonly insertStmt;
  private readonly pruneStmt;
  private readonly replaceStmt;

  constructor(db: Database.Database, private readonly ensureOpen: () => void) {
    this.replaceStmt = lazy(() => db.prepare<[string, string, string]>('UPDATE warden_signing_keys SET private_jwk = ? WHERE kid = ? AND private_jwk = ?'));
    this.listStmt = lazy(() =>
      db.prepare<[string], KeyRow>(
        `SELECT ${KEY_COLUMNS.join(', ')} FROM warden_signing_keys WHERE expire_at > ? ORDER BY created_at DESC, kid DESC`,
      ),
    );
    this.insertStmt = lazy(() =>
      db.prepare<[KeyRow]>(`INSERT INTO warden_signing_keys (${KEY_COLUMNS.join(', ')}) VALUES (${named(KEY_COLUMNS)})`),
    );
    this.pruneStmt = lazy(() => db.prepare<[string]>('DELETE FROM warden_signing_keys WHERE expire_at <= ?'));
  }

  async list(now: string): Promise<SigningKeyRecord[]> {
    checkIso(now, 'now');
    return guard(this.ensureOpen, 'signing key list', () => this.listStmt().all(now).map(keyFromRow));
  }

  async insert(key: SigningKeyRecord): Promise<void> {
    const row = keyToRow(key);
    guard(this.ensureOpen, 'signing key insert', () => this.insertStmt().run(row));
  }

  async prune(now: string): Promise<number> {
    checkIso(now, 'now');
    return guard(this.ensureOpen, 'signing key prune', () => this.pruneStmt().run(now).changes);
  }

  async replacePrivate(kid: string, expected: string, next: string): Promise<boolean> {
    return guard(this.ensureOpen, 'signing key replace', () => this.replaceStmt().run(next, kid, expected).changes === 1);
  }
}

export class SqliteReplayStore implements ReplayStore {
  private readonly claimStmt;
  private readonly pruneStmt;

  constructor(db: Database.Database, private readonly ensureOpen: () => void) {
    // One upsert: a new key inserts; an existing key is taken over only if its marker has expired.
    // `changes` is 1 exactly when this call recorded the key. SQLite serializes writers on the file.
    this.claimStmt = lazy(() =>
      db.prepare<[string, string, string]>(
        `INSERT INTO warden_replay_markers (key, expires_at) VALUES (?, ?)
         ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at
         WHERE warden_replay_markers.expires_at <= ?`,
      ),
    );
    this.pruneStmt = lazy(() => db.prepare<[string]>('DELETE FROM warden_replay_markers WHERE expires_at <= ?'));
  }

  async claimOnce(key: string, expiresAt: string): Promise<boolean> {
    checkIso(expiresAt, 'expiresAt');
    return guard(this.ensureOpen, 'replay claim', () => this.claimStmt().run(key, expiresAt, nowIso()).changes === 1);
  }

  async prune(now: string): Promise<number> {
    checkIso(now, 'now');
    return guard(this.ensureOpen, 'replay prune', () => this.pruneStmt().run(now).changes);
  }
}

export class SqliteTokenStore implements TokenStore {
  private readonly recordStmt;
  private readonly getStmt;

  constructor(db: Database.Database, private readonly ensureOpen: () => void) {
    this.recordStmt = lazy(() =>
      db.prepare<[TokenRow]>(
        `INSERT INTO warden_issued_tokens (${TOKEN_COLUMNS.join(', ')}) VALUES (${named(TOKEN_COLUMNS)})`,
      ),
    );
    this.getStmt = lazy(() =>
      db.prepare<[string], TokenRow>(`SELECT ${TOKEN_COLUMNS.join(', ')} FROM warden_issued_tokens WHERE jti = ?`),
    );
  }

  async record(token: IssuedTokenRecord): Promise<void> {
    const row = tokenToRow(token);
    guard(this.ensureOpen, 'issued token record', () => this.recordStmt().run(row));
  }

  async get(jti: string): Promise<IssuedTokenRecord | undefined> {
    return guard(this.ensureOpen, 'issued token get', () => {
      const row = this.getStmt().get(jti);
      return row === undefined ? undefined : tokenFromRow(row);
    });
  }
}
