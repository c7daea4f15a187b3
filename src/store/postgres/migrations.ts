/** PostgreSQL schema migrations. Append new versions at the end; never edit one that has shipped. */
import type { Migration } from '../migration.js';

export const postgresMigrations: readonly Migration[] = [
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
];
