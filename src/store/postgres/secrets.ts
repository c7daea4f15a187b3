/**
 * Vault secrets on PostgreSQL: envelopes only (see src/credentials/envelope.ts), never a plaintext. Every
 * write is one statement, so it is atomic across replicas without an explicit transaction; a re-wrap is a
 * compare-and-set on the row's key id and wrapped key.
 */
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
import type { Run } from './audit.js';

const p = (i: number): string => `$${i}`;
const COLS = SECRET_COLUMNS.join(', ');

// Statement names carry the schema version: a name must never be reused for different text.
const LATEST = {
  name: 'warden_secrets_latest_v5',
  text: `SELECT ${COLS} FROM warden_secrets WHERE ${identityWhere(p)} ORDER BY version DESC LIMIT 1`,
};
// No conflict target: the unique index is on expressions; a duplicate identity and version inserts nothing.
const INSERT = {
  name: 'warden_secrets_insert_v5',
  text: `INSERT INTO warden_secrets (${COLS}) VALUES (${SECRET_COLUMNS.map((_, i) => p(i + 1)).join(', ')}) ON CONFLICT DO NOTHING RETURNING version`,
};
const REMOVE = {
  name: 'warden_secrets_remove_v5',
  text: `WITH d AS (DELETE FROM warden_secrets WHERE ${identityWhere(p)} RETURNING 1) SELECT count(*)::int AS n FROM d`,
};
const KEY_IDS = {
  name: 'warden_secrets_key_ids_v5',
  text: 'SELECT key_id, count(*)::int AS n FROM warden_secrets GROUP BY key_id ORDER BY key_id',
};
const WRAPPED_BY_OTHER = {
  name: 'warden_secrets_wrapped_by_other_v5',
  text: `SELECT name, tenant, environment, upstream, version, key_id, wrapped_key FROM warden_secrets
    WHERE key_id <> $1 ORDER BY ${WRAP_ORDER} LIMIT $2`,
};
const REWRAP = {
  name: 'warden_secrets_rewrap_v5',
  text: `UPDATE warden_secrets SET key_id = $1, wrapped_key = $2, updated_at = $3
    WHERE ${identityWhere((i) => p(i + 3))} AND version = $8 AND key_id = $9 AND wrapped_key = $10 RETURNING version`,
};

export class PostgresSecretStore implements SecretStore {
  /** `run` checks for close and turns failures into StoreErrors with the password scrubbed. */
  constructor(private readonly run: Run) {}

  async latest(id: SecretIdentity): Promise<SecretRecord | undefined> {
    const rows = await this.run<SecretRow>('secret read', LATEST, identityParams(id));
    return rows[0] === undefined ? undefined : secretFromRow(rows[0]);
  }

  async insert(record: SecretRecord): Promise<boolean> {
    const row = secretToRow(record);
    return (await this.run('secret insert', INSERT, SECRET_COLUMNS.map((c) => row[c]))).length === 1;
  }

  async list(filter: SecretFilter = {}): Promise<SecretMetadata[]> {
    const f = filterWhere(filter, p);
    const q = { name: `warden_secrets_list_${f.mask}_v5`, text: listSql(f.where) };
    return (await this.run<MetadataRow>('secret list', q, f.values)).map(metadataFromRow);
  }

  async remove(id: SecretIdentity): Promise<number> {
    return (await this.run<{ n: number }>('secret remove', REMOVE, identityParams(id)))[0]!.n;
  }

  async keyIds(): Promise<{ keyId: string; rows: number }[]> {
    return (await this.run<{ key_id: string; n: number }>('secret key ids', KEY_IDS, [])).map((r) => ({ keyId: r.key_id, rows: r.n }));
  }

  async wrappedByOther(keyId: string, limit: number): Promise<SecretWrap[]> {
    checkLimit(limit);
    return (await this.run<WrapRow>('secret rewrap read', WRAPPED_BY_OTHER, [keyId, limit])).map(wrapFromRow);
  }

  async rewrap(from: SecretWrap, keyId: string, wrappedKey: Buffer, updatedAt: string): Promise<boolean> {
    const params = identityParams(from);
    checkIso(updatedAt, 'updatedAt');
    const values = [keyId, wrappedKey, updatedAt, ...params, from.version, from.keyId, from.wrappedKey];
    return (await this.run('secret rewrap', REWRAP, values)).length === 1;
  }
}

/**
 * Migration 5. Scope columns are NULL when unscoped, never ''; the unique index is on COALESCE(scope, '') so
 * an unscoped secret is one identity (NULLs would otherwise never conflict). COLLATE "C": names sort bytewise,
 * as in SQLite. bytea columns hold the envelope only.
 */
export const secretsMigration = {
  version: 5,
  name: 'vault secrets',
  sql: `
    CREATE TABLE warden_secrets (
      name        text COLLATE "C" NOT NULL CHECK (name <> ''),
      tenant      text COLLATE "C" CHECK (tenant <> ''),
      environment text COLLATE "C" CHECK (environment <> ''),
      upstream    text COLLATE "C" CHECK (upstream <> ''),
      version     integer NOT NULL CHECK (version >= 1),
      key_id      text NOT NULL,
      wrapped_key bytea NOT NULL,
      iv          bytea NOT NULL,
      ciphertext  bytea NOT NULL,
      tag         bytea NOT NULL,
      created_at  text COLLATE "C" NOT NULL,
      updated_at  text COLLATE "C" NOT NULL
    );
    CREATE UNIQUE INDEX warden_secrets_identity
      ON warden_secrets (name, COALESCE(tenant, ''), COALESCE(environment, ''), COALESCE(upstream, ''), version);
    CREATE INDEX warden_secrets_key_id ON warden_secrets (key_id);
  `,
} as const;
