/** SQLite schema migrations. Append new versions at the end; never edit one that has shipped. */
import type { Migration } from '../migration.js';

export const sqliteMigrations: readonly Migration[] = [
  {
    version: 1,
    name: 'audit events',
    // time is kept as the ISO-8601 text it arrived as, so events round-trip exactly.
    sql: `
      CREATE TABLE warden_audit_events (
        id               TEXT PRIMARY KEY,
        time             TEXT NOT NULL,
        instance         TEXT NOT NULL,
        session_id       TEXT,
        protocol_version TEXT,
        method           TEXT NOT NULL,
        upstream         TEXT,
        target           TEXT,
        args_digest      TEXT,
        outcome          TEXT NOT NULL,
        error_code       TEXT,
        latency_ms       REAL NOT NULL
      );
      CREATE INDEX warden_audit_events_time ON warden_audit_events (time);
    `,
  },
  {
    version: 2,
    name: 'identity: audit principal, signing keys, replay markers, issued tokens',
    // Times are canonical toISOString() text (see identity-rows.ts), so text order is time order.
    // JWKs, chains and scopes are JSON text. Old audit rows get chain '[]' and NULL identity columns.
    // The audit indexes lead with agent / session_id and end with id, so "by agent, newest first" is one scan.
    sql: `
      ALTER TABLE warden_audit_events ADD COLUMN agent TEXT;
      ALTER TABLE warden_audit_events ADD COLUMN user_subject TEXT;
      ALTER TABLE warden_audit_events ADD COLUMN tenant TEXT;
      ALTER TABLE warden_audit_events ADD COLUMN chain TEXT NOT NULL DEFAULT '[]';
      ALTER TABLE warden_audit_events ADD COLUMN auth_method TEXT;
      CREATE INDEX warden_audit_events_agent ON warden_audit_events (agent, id);
      CREATE INDEX warden_audit_events_session ON warden_audit_events (session_id, id);

      CREATE TABLE warden_signing_keys (
        kid         TEXT PRIMARY KEY,
        alg         TEXT NOT NULL,
        public_jwk  TEXT NOT NULL,
        private_jwk TEXT NOT NULL,
        created_at  TEXT NOT NULL,
        retire_at   TEXT NOT NULL,
        expire_at   TEXT NOT NULL
      );
      CREATE INDEX warden_signing_keys_expire ON warden_signing_keys (expire_at);

      CREATE TABLE warden_replay_markers (
        key        TEXT PRIMARY KEY,
        expires_at TEXT NOT NULL
      );
      CREATE INDEX warden_replay_markers_expires ON warden_replay_markers (expires_at);

      CREATE TABLE warden_issued_tokens (
        jti          TEXT PRIMARY KEY,
        user_subject TEXT,
        agent        TEXT NOT NULL,
        tenant       TEXT,
        chain        TEXT NOT NULL,
        scopes       TEXT NOT NULL,
        task         TEXT,
        parent_jti   TEXT,
        issued_at    TEXT NOT NULL,
        expires_at   TEXT NOT NULL
      );
      CREATE INDEX warden_issued_tokens_expires ON warden_issued_tokens (expires_at);
    `,
  },
];
