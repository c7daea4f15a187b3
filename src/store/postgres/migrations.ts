/** PostgreSQL schema migrations. Append new versions at the end; never edit one that has shipped. */
import { sessionsMigration } from './sessions.js';
import { chainLinkMigration } from './chain-link.js';
import type pg from 'pg';
import type { Migration } from '../migration.js';
import { approvalsMigration } from './approvals.js';
import { leasesMigration } from './leases.js';
import { backfillChain } from './audit.js';
import { secretsMigration } from './secrets.js';
import { tasksMigration } from './tasks.js';
import { revocationsMigration } from './revocations.js';
import { pinsMigration } from './pins.js';

/** A migration whose data step needs code: `run` follows `sql` in the same transaction. */
export interface PostgresMigration extends Migration {
  run?(client: pg.ClientBase): Promise<void>;
}

export const postgresMigrations: readonly PostgresMigration[] = [
  {
    version: 1,
    name: 'audit events',
    // COLLATE "C": ids and ISO times must sort bytewise (as in SQLite), whatever the database locale.
    // time stays text so events round-trip exactly; ISO-8601 UTC text sorts chronologically.
    sql: `
      CREATE TABLE warden_audit_events (
        id               text COLLATE "C" PRIMARY KEY,
        time             text COLLATE "C" NOT NULL,
        instance         text NOT NULL,
        session_id       text,
        protocol_version text,
        method           text NOT NULL,
        upstream         text,
        target           text,
        args_digest      text,
        outcome          text NOT NULL,
        error_code       text,
        latency_ms       double precision NOT NULL
      );
      CREATE INDEX warden_audit_events_time ON warden_audit_events (time);
    `,
  },
  {
    version: 2,
    name: 'identity: audit principal, signing keys, replay markers, issued tokens',
    // Times are canonical toISOString() text (see identity-rows.ts) in COLLATE "C", so text order is time
    // order. JWKs, chains and scopes are JSON text, read back exactly as written. Old audit rows get chain
    // '[]' (a constant default: no table rewrite) and NULL identity columns. `user` is a reserved word.
    // The audit indexes lead with agent / session_id and end with id, so "by agent, newest first" is one scan.
    sql: `
      ALTER TABLE warden_audit_events
        ADD COLUMN agent        text,
        ADD COLUMN user_subject text,
        ADD COLUMN tenant       text,
        ADD COLUMN chain        text NOT NULL DEFAULT '[]',
        ADD COLUMN auth_method  text;
      CREATE INDEX warden_audit_events_agent ON warden_audit_events (agent, id);
      CREATE INDEX warden_audit_events_session ON warden_audit_events (session_id, id);

      CREATE TABLE warden_signing_keys (
        kid         text PRIMARY KEY,
        alg         text NOT NULL,
        public_jwk  text NOT NULL,
        private_jwk text NOT NULL,
        created_at  text COLLATE "C" NOT NULL,
        retire_at   text COLLATE "C" NOT NULL,
        expire_at   text COLLATE "C" NOT NULL
      );
      CREATE INDEX warden_signing_keys_expire ON warden_signing_keys (expire_at);

      CREATE TABLE warden_replay_markers (
        key        text PRIMARY KEY,
        expires_at text COLLATE "C" NOT NULL
      );
      CREATE INDEX warden_replay_markers_expires ON warden_replay_markers (expires_at);

      CREATE TABLE warden_issued_tokens (
        jti          text PRIMARY KEY,
        user_subject text,
        agent        text NOT NULL,
        tenant       text,
        chain        text NOT NULL,
        scopes       text NOT NULL,
        task         text,
        parent_jti   text,
        issued_at    text COLLATE "C" NOT NULL,
        expires_at   text COLLATE "C" NOT NULL
      );
      CREATE INDEX warden_issued_tokens_expires ON warden_issued_tokens (expires_at);
    `,
  },
  {
    version: 3,
    name: 'audit hash chain and signed checkpoints',
    // seq/prev_hash/hash are filled inside every append transaction under an advisory lock (see audit.ts and
    // src/audit/chain.ts). Rows already stored are linked by `run` in id order, the order they were written,
    // which then sets the three columns NOT NULL. Replicas must be upgraded together: an older replica's
    // insert (without a seq) is refused from then on, and it fails closed.
    // warden_audit_keys is the never-pruned record of every key that signed a checkpoint.
    sql: `
      ALTER TABLE warden_audit_events
        ADD COLUMN seq       bigint,
        ADD COLUMN prev_hash text,
        ADD COLUMN hash      text;
      CREATE UNIQUE INDEX warden_audit_events_seq ON warden_audit_events (seq);

      CREATE TABLE warden_audit_checkpoints (
        seq        bigint PRIMARY KEY,
        hash       text NOT NULL,
        created_at text COLLATE "C" NOT NULL,
        instance   text NOT NULL,
        kid        text NOT NULL,
        public_jwk text NOT NULL,
        signature  text NOT NULL
      );

      CREATE TABLE warden_audit_keys (
        kid           text PRIMARY KEY,
        alg           text NOT NULL,
        public_jwk    text NOT NULL,
        first_used_at text COLLATE "C" NOT NULL
      );
    `,
    run: backfillChain,
  },
  {
    version: 4,
    name: 'audit decisions, tasks and leases; sink cursors',
    // The new event fields are nullable columns without a default (no table rewrite): rows written before
    // read back without them, which the hash leaves out (see src/audit/chain.ts), so their chain still
    // verifies. decision and lease_ids are JSON text, read back exactly as written. Traces select by task,
    // user, session or agent and read by seq, hence the (x, seq) indexes (built inside the migration's
    // transaction: on a large table, expect the upgrade to take a while and block appends meanwhile).
    // A sink cursor is the last seq delivered to an export sink; it only moves forward.
    sql: `
      ALTER TABLE warden_audit_events
        ADD COLUMN task            text,
        ADD COLUMN decision        text,
        ADD COLUMN approval_id     text,
        ADD COLUMN lease_ids       text,
        ADD COLUMN arguments       text,
        ADD COLUMN upstream_status text;
      CREATE INDEX warden_audit_events_task ON warden_audit_events (task, seq);
      CREATE INDEX warden_audit_events_user ON warden_audit_events (user_subject, seq);

      CREATE TABLE warden_audit_sink_cursors (
        sink       text PRIMARY KEY,
        seq        bigint NOT NULL,
        updated_at text COLLATE "C" NOT NULL
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
      ALTER TABLE warden_approvals ADD COLUMN sealed_call text;
      CREATE INDEX warden_approvals_sealed ON warden_approvals (expires_at) WHERE sealed_call IS NOT NULL;
      ALTER TABLE warden_issued_tokens ADD COLUMN agent_issuer text;
    `,
  },
  {
    version: 17,
    name: 'the tokens a gateway token was derived from',
    // ancestors: JSON array of the jtis of the tokens it was exchanged from, oldest first, so revoking any of
    // them refuses it (the revocation cascades). Null on rows written before: read by following parent_jti.
    sql: `
      ALTER TABLE warden_issued_tokens ADD COLUMN ancestors text;
    `,
  },
  pinsMigration,
  {
    version: 20,
    name: 'audit intents; leader leases',
    // intent_id: on a forwarded call's record, the intent record committed before it was forwarded (strict
    // audit); nullable, so older rows read back and verify as before. The partial index finds the record
    // that closes an intent. A leader lease names the one replica that runs a singleton job (the audit
    // export pump) until expires_at; another replica takes it over once it lapses.
    sql: `
      ALTER TABLE warden_audit_events ADD COLUMN intent_id text;
      CREATE INDEX warden_audit_events_intent ON warden_audit_events (intent_id) WHERE intent_id IS NOT NULL;
      CREATE TABLE warden_leader_leases (
        name       text PRIMARY KEY,
        holder     text NOT NULL,
        expires_at timestamptz NOT NULL
      );
    `,
  },
  chainLinkMigration,
  sessionsMigration,
  {
    version: 25,
    name: 'drop audit indexes no query uses',
    // Every append inserts into each of the table's indexes (pages and WAL), so an index no query reads
    // only costs. The agent filter is `agent = $n OR chain::jsonb @> ...`: with no index on the chain's
    // side no plan can use (agent, id), so it reads warden_audit_events_seq or another filter's index.
    // Nothing looks intent_id up: verify and trace fold intents in memory. warden_audit_events_time stays:
    // with statistics, the planner takes it for a trace with `since` over a recent window. The store's
    // search_path (its schema) decides which indexes the names are.
    sql: `
      DROP INDEX IF EXISTS warden_audit_events_agent;
      DROP INDEX IF EXISTS warden_audit_events_intent;
    `,
  },
];
