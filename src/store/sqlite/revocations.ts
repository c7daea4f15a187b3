/**
 * Revocations on SQLite. SQLite serializes writers on the file, so seq (AUTOINCREMENT: never reused, even
 * after the newest row is pruned) grows in commit order and a reader following `since` misses nothing.
 * There is no notification channel: gateways poll `since` (the CLI that revokes is another process).
 */
import { SqliteStatements } from './statements.js';
import {
  checkKind,
  checkSince,
  liftedRow,
  listWhere,
  REVOCATION_COLS,
  REVOCATION_INSERT_COLUMNS,
  revocationFromRow,
  revocationListSql,
  revocationsMigrationSql,
  revocationToRow,
  type RevocationRow,
} from '../revocation-rows.js';
import { checkIso } from '../identity-rows.js';
import type { NewRevocation, RevocationFilter, RevocationKind, RevocationRecord, RevocationStore } from '../types.js';

// The conflict target is (kind, value) only: a duplicate id is a caller bug and still throws.
const INSERT = `INSERT INTO warden_revocations (${REVOCATION_INSERT_COLUMNS.join(', ')}) VALUES (${REVOCATION_INSERT_COLUMNS.map((c) => '@' + c).join(', ')})
  ON CONFLICT (kind, value) DO NOTHING RETURNING ${REVOCATION_COLS}`;
const BY_SUBJECT = `SELECT ${REVOCATION_COLS} FROM warden_revocations WHERE kind = ? AND value = ?`;
const SINCE = `SELECT ${REVOCATION_COLS} FROM warden_revocations WHERE seq > ? ORDER BY seq LIMIT ?`;
const PRUNE = 'DELETE FROM warden_revocations WHERE expires_at IS NOT NULL AND expires_at <= ?';
/** An expired record of the pair is no revocation: `add` replaces it. */
const DROP_EXPIRED = 'DELETE FROM warden_revocations WHERE kind = ? AND value = ? AND expires_at IS NOT NULL AND expires_at <= ?';
const TAKE_IN_FORCE = `DELETE FROM warden_revocations WHERE kind = ? AND value = ? AND (expires_at IS NULL OR expires_at > ?) RETURNING ${REVOCATION_COLS}`;

export class SqliteRevocationStore extends SqliteStatements implements RevocationStore {
  async add(r: NewRevocation): Promise<{ record: RevocationRecord; created: boolean }> {
    const row = revocationToRow(r);
    return this.guard('revocation add', () =>
      this.transaction(() => {
        this.stmt(DROP_EXPIRED).run(r.kind, r.value, r.revokedAt);
        const inserted = this.stmt(INSERT).get(row) as RevocationRow | undefined;
        if (inserted !== undefined) return { record: revocationFromRow(inserted), created: true };
        const existing = this.stmt(BY_SUBJECT).get(r.kind, r.value) as RevocationRow;
        return { record: revocationFromRow(existing), created: false };
      }),
    );
  }

  async list(filter: RevocationFilter = {}): Promise<RevocationRecord[]> {
    const q = listWhere(filter, () => '?');
    return this.guard('revocation list', () => (this.stmt(revocationListSql(q.where)).all(...q.values) as RevocationRow[]).map(revocationFromRow));
  }

  async lift(kind: RevocationKind, value: string, at: string): Promise<RevocationRecord | undefined> {
    checkKind(kind);
    checkIso(at, 'at');
    // Deleted and inserted again in one transaction: the copy draws the next seq (AUTOINCREMENT never reuses one).
    return this.guard('revocation lift', () =>
      this.transaction(() => {
        const taken = this.stmt(TAKE_IN_FORCE).get(kind, value, at) as RevocationRow | undefined;
        if (taken === undefined) return undefined;
        return revocationFromRow(this.stmt(INSERT).get(liftedRow(taken)) as RevocationRow);
      }),
    );
  }

  async since(afterSeq: number, limit: number): Promise<RevocationRecord[]> {
    checkSince(afterSeq, limit);
    return this.guard('revocation read', () => (this.stmt(SINCE).all(afterSeq, limit) as RevocationRow[]).map(revocationFromRow));
  }

  async prune(now: string): Promise<number> {
    checkIso(now, 'now');
    return this.guard('revocation prune', () => this.stmt(PRUNE).run(now).changes);
  }
}

export const revocationsMigration = {
  version: 8,
  name: 'revocations',
  sql: revocationsMigrationSql('INTEGER PRIMARY KEY AUTOINCREMENT', ''),
} as const;
