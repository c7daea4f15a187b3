/**
 * Sessions on PostgreSQL, shared by every replica, and the signals replicas send each other about them.
 *
 * A signal is a row, announced with pg_notify (its id) in the inserting statement's transaction: NOTIFY
 * payloads are small (8000 bytes) and a message for a client may be larger, so the listener reads the row.
 * Channels are per database, not per schema: a listener ignores ids it does not find in its own schema.
 */
import { randomUUID } from 'node:crypto';
import {
  SESSION_CHANNEL,
  SESSION_COLUMNS,
  SIGNAL_COLUMNS,
  checkSignalKind,
  sessionFromRow,
  sessionsMigrationSql,
  sessionToRow,
  signalFromRow,
  type SessionRow,
  type SignalRow,
} from '../session-rows.js';
import type { SessionRecord, SessionSignal, SessionSignalFeed, SessionStore } from '../types.js';
import type { Run } from './audit.js';
import { openListenFeed } from './listen-feed.js';
import type { PostgresTarget } from './url.js';

const COLS = SESSION_COLUMNS.join(', ');
const INSERT = { name: 'warden_sessions_insert_v24', text: `INSERT INTO warden_sessions (${COLS}) VALUES (${SESSION_COLUMNS.map((_, i) => `$${i + 1}`).join(', ')})` };
const GET = { name: 'warden_sessions_get_v24', text: `SELECT ${COLS} FROM warden_sessions WHERE id = $1` };
const TOUCH = { name: 'warden_sessions_touch_v24', text: 'UPDATE warden_sessions SET last_seen_at = greatest(last_seen_at, $2) WHERE id = $1 RETURNING id' };
const PRUNE = { name: 'warden_sessions_prune_v24', text: 'DELETE FROM warden_sessions WHERE last_seen_at < $1 RETURNING id' };
const PRUNE_SIGNALS = { name: 'warden_session_signals_prune_v24', text: 'DELETE FROM warden_session_signals WHERE created_at < $1' };
const SIGNAL_COLS = SIGNAL_COLUMNS.join(', ');
/** One statement: the row and its announcement commit together. */
const PUBLISH = {
  name: 'warden_session_signals_publish_v24',
  text: `WITH s AS (INSERT INTO warden_session_signals (${SIGNAL_COLS}) VALUES ($1, $2, $3, $4, $5) RETURNING id) SELECT pg_notify('${SESSION_CHANNEL}', id) FROM s`,
};
/** Ending is the delete and the `end` signal in one statement: no replica hears of an end that did not happen. */
const END = {
  name: 'warden_sessions_end_v24',
  text: `WITH d AS (DELETE FROM warden_sessions WHERE id = $1 RETURNING id),
    s AS (INSERT INTO warden_session_signals (${SIGNAL_COLS}) SELECT $2, id, 'end', '', $3 FROM d RETURNING id)
    SELECT pg_notify('${SESSION_CHANNEL}', id) FROM s`,
};
const READ_SIGNAL = `SELECT ${SIGNAL_COLS} FROM warden_session_signals WHERE id = $1`;

/** How long a signal read may take before the feed counts as lost. */

export class PostgresSessionStore implements SessionStore {
  constructor(
    private readonly run: Run,
    private readonly target: PostgresTarget,
    private readonly ensureOpen: () => void,
  ) {}

  async create(r: SessionRecord): Promise<void> {
    const row = sessionToRow(r);
    await this.run('session create', INSERT, SESSION_COLUMNS.map((c) => row[c]));
  }

  async get(id: string): Promise<SessionRecord | undefined> {
    const row = (await this.run<SessionRow>('session read', GET, [id]))[0];
    return row === undefined ? undefined : sessionFromRow(row);
  }

  async touch(id: string, at: string): Promise<boolean> {
    return (await this.run('session touch', TOUCH, [id, at])).length === 1;
  }

  async end(id: string, at: string): Promise<boolean> {
    return (await this.run('session end', END, [id, randomUUID(), at])).length === 1;
  }

  async prune(before: string, signalsBefore: string): Promise<string[]> {
    await this.run('session signal prune', PRUNE_SIGNALS, [signalsBefore]);
    return (await this.run<{ id: string }>('session prune', PRUNE, [before])).map((r) => r.id);
  }

  async publish(s: Omit<SessionSignal, 'createdAt'>, at: string): Promise<void> {
    checkSignalKind(s.kind);
    await this.run('session signal', PUBLISH, [s.id, s.sessionId, s.kind, s.payload, at]);
  }

  /** A dedicated client (LISTEN belongs to one connection) named `<application_name>:sessions`; `onLost` is called once. */
  async subscribe(onSignal: (s: SessionSignal) => void, onLost: (err: Error) => void): Promise<SessionSignalFeed> {
    this.ensureOpen();
    const feed = await openListenFeed(this.target, 'sessions', SESSION_CHANNEL, (payload, f) => {
      if (!payload) return;
      // Read over the feed's own connection, in notification order.
      f.client.query<SignalRow>(READ_SIGNAL, [payload]).then(
        (r) => {
          const row = r.rows[0];
          if (row !== undefined) onSignal(signalFromRow(row));
        },
        (err: unknown) => f.lose(err),
      );
    }, onLost);
    return { close: () => feed.close() };
  }
}

export const sessionsMigration = { version: 24, name: 'downstream sessions and their signals', sql: sessionsMigrationSql(' COLLATE "C"') };
