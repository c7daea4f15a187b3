/**
 * Rows of downstream sessions (2025-11-25 Mcp-Session-Id) and of the signals replicas send each other about
 * them, shared by both backends. A session row is what any replica needs to serve the session: the digest of
 * the principal it is bound to, the negotiated version and the client's declared info and capabilities.
 */
import type { SessionRecord, SessionSignal, SessionSignalKind } from './types.js';

export const SESSION_COLUMNS = ['id', 'owner_digest', 'protocol_version', 'client_info', 'client_capabilities', 'created_at', 'last_seen_at'] as const;
export type SessionRow = Record<(typeof SESSION_COLUMNS)[number], string>;
export const SIGNAL_COLUMNS = ['id', 'session_id', 'kind', 'payload', 'created_at'] as const;
export type SignalRow = Record<(typeof SIGNAL_COLUMNS)[number], string>;
const KINDS: readonly SessionSignalKind[] = ['end', 'stream', 'response', 'cancel'];

/** The PostgreSQL NOTIFY channel: its payload is a signal id, read back from the signals table of the listener's own schema. */
export const SESSION_CHANNEL = 'warden_session_signals';

export function sessionToRow(r: SessionRecord): SessionRow {
  return {
    id: r.id,
    owner_digest: r.ownerDigest,
    protocol_version: r.protocolVersion,
    client_info: JSON.stringify(r.clientInfo),
    client_capabilities: JSON.stringify(r.clientCapabilities),
    created_at: r.createdAt,
    last_seen_at: r.lastSeenAt,
  };
}

const object = (text: string): Record<string, unknown> => {
  const v = JSON.parse(text) as unknown;
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
};

export function sessionFromRow(row: SessionRow): SessionRecord {
  return {
    id: row.id,
    ownerDigest: row.owner_digest,
    protocolVersion: row.protocol_version,
    clientInfo: object(row.client_info),
    clientCapabilities: object(row.client_capabilities),
    createdAt: row.created_at,
    lastSeenAt: row.last_seen_at,
  };
}

export function checkSignalKind(kind: string): SessionSignalKind {
  if (!(KINDS as readonly string[]).includes(kind)) throw new Error(`unknown session signal kind: ${kind}`);
  return kind as SessionSignalKind;
}

export function signalFromRow(row: SignalRow): SessionSignal {
  return { id: row.id, sessionId: row.session_id, kind: checkSignalKind(row.kind), payload: row.payload, createdAt: row.created_at };
}

/** Migration 24 (both backends): sessions, found by id and pruned by last use; signals, pruned by age. */
export function sessionsMigrationSql(collate: string): string {
  return `
    CREATE TABLE warden_sessions (
      id                  TEXT${collate} PRIMARY KEY,
      owner_digest        TEXT NOT NULL,
      protocol_version    TEXT NOT NULL,
      client_info         TEXT NOT NULL,
      client_capabilities TEXT NOT NULL,
      created_at          TEXT${collate} NOT NULL,
      last_seen_at        TEXT${collate} NOT NULL
    );
    CREATE INDEX warden_sessions_seen ON warden_sessions (last_seen_at);
    CREATE TABLE warden_session_signals (
      id          TEXT${collate} PRIMARY KEY,
      session_id  TEXT NOT NULL,
      kind        TEXT NOT NULL,
      payload     TEXT NOT NULL,
      created_at  TEXT${collate} NOT NULL
    );
    CREATE INDEX warden_session_signals_created ON warden_session_signals (created_at);
  `;
}
