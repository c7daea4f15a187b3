/** SQLite schema migrations. Append new versions at the end; never edit one that has shipped. */
import { sessionsMigration } from './sessions.js';
import type Database from 'better-sqlite3';
import type { Migration } from '../migration.js';
import { approvalsMigration } from './approvals.js';
import { leasesMigration } from './leases.js';
import { backfillChain } from './audit.js';
import { secretsMigration } from './secrets.js';
import { tasksMigration } from './tasks.js';
import { revocationsMigration } from './revocations.js';
import { pinsMigration } from './pins.js';

/** A migration whose data step needs code: `run` follows `sql` in the same transaction. */
export interface SqliteMigration extends Migration {
  run?(db: Database.Database): void;
}

export const sqliteMigrations: readonly SqliteMigration[] = [
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
  {
    version: 3,
    name: 'audit hash chain and signed checkpoints',
    // seq/prev_hash/hash are filled inside every append transaction (see audit.ts and src/audit/chain.ts).
    // Rows already stored are linked by `run` in id order, the order they were written, so the whole table
    // is one chain. The columns stay nullable (SQLite cannot add NOT NULL columns without a default), so
    // `audit verify` also looks for rows without a seq: warden never writes one.
    // warden_audit_keys is the never-pruned record of every key that signed a checkpoint.
    sql: `
      ALTER TABLE warden_audit_events ADD COLUMN seq INTEGER;
      ALTER TABLE warden_audit_events ADD COLUMN prev_hash TEXT;
      ALTER TABLE warden_audit_events ADD COLUMN hash TEXT;
      CREATE UNIQUE INDEX warden_audit_events_seq ON warden_audit_events (seq);

      CREATE TABLE warden_audit_checkpoints (
        seq        INTEGER PRIMARY KEY,
        hash       TEXT NOT NULL,
        created_at TEXT NOT NULL,
        instance   TEXT NOT NULL,
        kid        TEXT NOT NULL,
        public_jwk TEXT NOT NULL,
        signature  TEXT NOT NULL
      );

      CREATE TABLE warden_audit_keys (
        kid           TEXT PRIMARY KEY,
        alg           TEXT NOT NULL,
        public_jwk    TEXT NOT NULL,
        first_used_at TEXT NOT NULL
      );
    `,
    run: backfillChain,
  },
  {
    version: 4,
    name: 'audit decisions, tasks and leases; sink cursors',
    // The new event fields are nullable columns: rows written before read back without them, which the hash
    // leaves out (see src/audit/chain.ts), so their chain still verifies. decision and lease_ids are JSON
    // text. Traces select by task, user, session or agent and read by seq, hence the (x, seq) indexes.
    // A sink cursor is the last seq delivered to an export sink; it only moves forward.
    sql: `
      ALTER TABLE warden_audit_events ADD COLUMN task TEXT;
      ALTER TABLE warden_audit_events ADD COLUMN decision TEXT;
      ALTER TABLE warden_audit_events ADD COLUMN approval_id TEXT;
      ALTER TABLE warden_audit_events ADD COLUMN lease_ids TEXT;
      ALTER TABLE warden_audit_events ADD COLUMN arguments TEXT;
      ALTER TABLE warden_audit_events ADD COLUMN upstream_status TEXT;
      CREATE INDEX warden_audit_events_task ON warden_audit_events (task, seq);
      CREATE INDEX warden_audit_events_user ON warden_audit_events (user_subject, seq);

      CREATE TABLE warden_audit_sink_cursors (
        sink       TEXT PRIMARY KEY,
        seq        INTEGER NOT NULL,
        updated_at TEXT NOT NULL
      );
    `,
  },
  secretsMigration,
  tasksMigration,
  approvalsMigration,
  revocationsMigration,
  leasesMigration,
  {
    version: 16,
    name: 'sealed approval calls; the agent issuer of gateway tokens',
    // sealed_call: the complete call an approver is shown, encrypted under the master key, kept only while
    // the request is pending (decide clears it; expired ones are cleared by forgetCalls, found by the index).
    // agent_issuer: who vouched for a gateway token's agent; null on rows written before.
    sql: `
      ALTER TABLE warden_approvals ADD COLUMN sealed_call TEXT;
      CREATE INDEX warden_approvals_sealed ON warden_approvals (expires_at) WHERE sealed_call IS NOT NULL;
      ALTER TABLE warden_issued_tokens ADD COLUMN agent_issuer TEXT;
    `,
  },
  {
    version: 17,
    name: 'the tokens a gateway token was derived from',
    // ancestors: JSON array of the jtis of the tokens it was exchanged from, oldest first, so revoking any of
    // them refuses it (the revocation cascades). Null on rows written before: read by following parent_jti.
    sql: `
      ALTER TABLE warden_issued_tokens ADD COLUMN ancestors TEXT;
    `,
  },
  pinsMigration,
  {
    version: 20,
    name: 'audit intents',
    // intent_id: on a forwarded call's record, the intent record committed before it was forwarded (strict
    // audit); nullable, so older rows read back and verify as before. (Leader leases and the server-side
    // chain link are PostgreSQL's: one SQLite process is always the only writer and the only exporter.)
    sql: `
      ALTER TABLE warden_audit_events ADD COLUMN intent_id TEXT;
      CREATE INDEX warden_audit_events_intent ON warden_audit_events (intent_id) WHERE intent_id IS NOT NULL;
    `,
  },
  sessionsMigration,
  {
    version: 25,
    name: 'drop audit indexes no query uses',
    // Every append writes a page of each of the table's B-trees, so an index no query reads only costs. On
    // SQLite (no statistics: warden never runs ANALYZE) a trace with `since` is planned on
    // warden_audit_events_seq, for its ORDER BY seq DESC LIMIT, never on time; the agent filter is
    // `agent = ? OR <the chain holds it>`, which no index can serve, so it reads seq (or another filter's
    // index) too; and nothing looks intent_id up: verify and trace fold intents in memory.
    sql: `
      DROP INDEX IF EXISTS warden_audit_events_time;
      DROP INDEX IF EXISTS warden_audit_events_agent;
      DROP INDEX IF EXISTS warden_audit_events_intent;
    `,
  },
];
