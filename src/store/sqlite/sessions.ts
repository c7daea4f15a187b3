/** Sessions on SQLite: one node, so no signals between replicas (every session is local to the one gateway). */
import { SESSION_COLUMNS, sessionFromRow, sessionsMigrationSql, sessionToRow, type SessionRow } from '../session-rows.js';
import type { SessionRecord, SessionStore } from '../types.js';
import { SqliteStatements } from './statements.js';

const COLS = SESSION_COLUMNS.join(', ');
const INSERT = `INSERT INTO warden_sessions (${COLS}) VALUES (${SESSION_COLUMNS.map((c) => '@' + c).join(', ')})`;
const GET = `SELECT ${COLS} FROM warden_sessions WHERE id = ?`;
const TOUCH = 'UPDATE warden_sessions SET last_seen_at = ? WHERE id = ? AND last_seen_at < ?';
const EXISTS = 'SELECT 1 FROM warden_sessions WHERE id = ?';
const END = 'DELETE FROM warden_sessions WHERE id = ?';
const STALE = 'SELECT id FROM warden_sessions WHERE last_seen_at < ?';
const PRUNE = 'DELETE FROM warden_sessions WHERE last_seen_at < ?';

export class SqliteSessionStore extends SqliteStatements implements SessionStore {
  async create(r: SessionRecord): Promise<void> {
    this.guard('session create', () => this.stmt(INSERT).run(sessionToRow(r)));
  }

  async get(id: string): Promise<SessionRecord | undefined> {
    const row = this.guard('session read', () => this.stmt(GET).get(id) as SessionRow | undefined);
    return row === undefined ? undefined : sessionFromRow(row);
  }

  async touch(id: string, at: string): Promise<boolean> {
    return this.guard('session touch', () => this.stmt(TOUCH).run(at, id, at).changes === 1 || this.stmt(EXISTS).get(id) !== undefined);
  }

  async end(id: string): Promise<boolean> {
    return this.guard('session end', () => this.stmt(END).run(id).changes === 1);
  }

  async prune(before: string): Promise<string[]> {
    return this.guard('session prune', () =>
      this.transaction(() => {
        const ids = (this.stmt(STALE).all(before) as { id: string }[]).map((r) => r.id);
        this.stmt(PRUNE).run(before);
        return ids;
      }),
    );
  }
}

export const sessionsMigration = { version: 24, name: 'downstream sessions and their signals', sql: sessionsMigrationSql('') };
