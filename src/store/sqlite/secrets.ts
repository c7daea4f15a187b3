/**
 * Vault secrets on SQLite: envelopes only (see src/credentials/envelope.ts), never a plaintext. Every write
 * is one statement, so it is atomic; SQLite serializes writers on the file.
 */
import { SqliteStatements } from './statements.js';
import { checkIso } from '../identity-rows.js';
import {
  checkLimit,
  filterWhere,
  identityParams,
  identityWhere,
  listSql,
  metadataFromRow,
  SECRET_COLUMNS,
  secretFromRow,
  secretToRow,
  WRAP_ORDER,
  wrapFromRow,
  type MetadataRow,
  type SecretRow,
  type WrapRow,
} from '../secret-rows.js';
import type { SecretFilter, SecretIdentity, SecretMetadata, SecretRecord, SecretStore, SecretWrap } from '../types.js';

const q = (): string => '?';
const COLS = SECRET_COLUMNS.join(', ');

const LATEST = `SELECT ${COLS} FROM warden_secrets WHERE ${identityWhere(q)} ORDER BY version DESC LIMIT 1`;
// No conflict target: the unique index is on expressions; a duplicate identity and version inserts nothing.
const INSERT = `INSERT INTO warden_secrets (${COLS}) VALUES (${SECRET_COLUMNS.map((c) => '@' + c).join(', ')}) ON CONFLICT DO NOTHING`;
const REMOVE = `DELETE FROM warden_secrets WHERE ${identityWhere(q)}`;
const KEY_IDS = 'SELECT key_id, count(*) AS n FROM warden_secrets GROUP BY key_id ORDER BY key_id';
const WRAPPED_BY_OTHER = `SELECT name, tenant, environment, upstream, version, key_id, wrapped_key FROM warden_secrets
  WHERE key_id <> ? ORDER BY ${WRAP_ORDER} LIMIT ?`;
const REWRAP = `UPDATE warden_secrets SET key_id = ?, wrapped_key = ?, updated_at = ?
  WHERE ${identityWhere(q)} AND version = ? AND key_id = ? AND wrapped_key = ?`;

export class SqliteSecretStore extends SqliteStatements implements SecretStore {
  async latest(id: SecretIdentity): Promise<SecretRecord | undefined> {
    const params = identityParams(id);
    return this.guard('secret read', () => {
      const row = this.stmt(LATEST).get(...params) as SecretRow | undefined;
      return row === undefined ? undefined : secretFromRow(row);
    });
  }

  async insert(record: SecretRecord): Promise<boolean> {
    const row = secretToRow(record);
    return this.guard('secret insert', () => this.stmt(INSERT).run(row).changes === 1);
  }

  async list(filter: SecretFilter = {}): Promise<SecretMetadata[]> {
    const f = filterWhere(filter, q);
    return this.guard('secret list', () => (this.stmt(listSql(f.where)).all(...f.values) as MetadataRow[]).map(metadataFromRow));
  }

  async remove(id: SecretIdentity): Promise<number> {
    const params = identityParams(id);
    return this.guard('secret remove', () => this.stmt(REMOVE).run(...params).changes);
  }

  async keyIds(): Promise<{ keyId: string; rows: number }[]> {
    return this.guard('secret key ids', () =>
      (this.stmt(KEY_IDS).all() as { key_id: string; n: number }[]).map((r) => ({ keyId: r.key_id, rows: r.n })),
    );
  }

  async wrappedByOther(keyId: string, limit: number): Promise<SecretWrap[]> {
    checkLimit(limit);
    return this.guard('secret rewrap read', () => (this.stmt(WRAPPED_BY_OTHER).all(keyId, limit) as WrapRow[]).map(wrapFromRow));
  }

  async rewrap(from: SecretWrap, keyId: string, wrappedKey: Buffer, updatedAt: string): Promise<boolean> {
    const params = identityParams(from);
    checkIso(updatedAt, 'updatedAt');
    return this.guard(
      'secret rewrap',
      () => this.stmt(REWRAP).run(keyId, wrappedKey, updatedAt, ...params, from.version, from.keyId, from.wrappedKey).changes === 1,
    );
  }
}

/**
 * Migration 5. Scope columns are NULL when unscoped, never ''; the unique index is on COALESCE(scope, '') so
 * an unscoped secret is one identity (NULLs would otherwise never conflict). Blobs hold the envelope only.
 */
export const secretsMigration = {
  version: 5,
  name: 'vault secrets',
  sql: `
    CREATE TABLE warden_secrets (
      name        TEXT NOT NULL CHECK (name <> ''),
      tenant      TEXT CHECK (tenant <> ''),
      environment TEXT CHECK (environment <> ''),
      upstream    TEXT CHECK (upstream <> ''),
      version     INTEGER NOT NULL CHECK (version >= 1),
      key_id      TEXT NOT NULL,
      wrapped_key BLOB NOT NULL,
      iv          BLOB NOT NULL,
      ciphertext  BLOB NOT NULL,
      tag         BLOB NOT NULL,
      created_at  TEXT NOT NULL,
      updated_at  TEXT NOT NULL
    );
    CREATE UNIQUE INDEX warden_secrets_identity
      ON warden_secrets (name, COALESCE(tenant, ''), COALESCE(environment, ''), COALESCE(upstream, ''), version);
    CREATE INDEX warden_secrets_key_id ON warden_secrets (key_id);
  `,
} as const;
