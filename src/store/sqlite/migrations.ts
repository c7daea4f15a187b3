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
];
