/** The audit table on SQLite. Statements are prepared once; better-sqlite3 is synchronous, so each call is too. */
import type Database from 'better-sqlite3';
import type { AuditEvent } from '../../audit/event.js';
import { AUDIT_COLUMNS, checkQuery, fromRow, toRow, type AuditRow } from '../audit-rows.js';
import { toStoreError } from '../errors.js';
import type { AuditQuery, AuditStore } from '../types.js';
import { lazy } from './lazy.js';

const COLS = AUDIT_COLUMNS.join(', ');

export class SqliteAuditStore implements AuditStore {
  private readonly insertMany: () => (events: readonly AuditEvent[]) => void;
  private readonly tailAll: () => Database.Statement<[number], AuditRow>;
  private readonly tailAfter: () => Database.Statement<[string, number], AuditRow>;
  private readonly countAll: () => Database.Statement<[], { n: number }>;

  /** `ensureOpen` throws once the store is closed, so no call reaches a closed handle. */
  constructor(db: Database.Database, private readonly ensureOpen: () => void) {
    this.insertMany = lazy(() => {
      const insert = db.prepare<[AuditRow]>(
        `INSERT INTO warden_audit_events (${COLS}) VALUES (${AUDIT_COLUMNS.map((c) => '@' + c).join(', ')})`,
      );
      // One transaction for the whole batch: all events are stored or none are.
      return db.transaction((events: readonly AuditEvent[]) => {
        for (const e of events) insert.run(toRow(e));
      });
    });
    // Newest first to apply the limit, then flipped so callers read oldest first.
    this.tailAll = lazy(() =>
      db.prepare(`SELECT * FROM (SELECT ${COLS} FROM warden_audit_events ORDER BY id DESC LIMIT ?) ORDER BY id ASC`),
    );
    this.tailAfter = lazy(() =>
      db.prepare(
        `SELECT * FROM (SELECT ${COLS} FROM warden_audit_events WHERE id > ? ORDER BY id DESC LIMIT ?) ORDER BY id ASC`,
      ),
    );
    this.countAll = lazy(() => db.prepare('SELECT count(*) AS n FROM warden_audit_events'));
  }

  async append(events: readonly AuditEvent[]): Promise<void> {
    this.ensureOpen();
    if (events.length === 0) return;
    try {
      this.insertMany()(events);
    } catch (err) {
      throw toStoreError(err, 'store_unavailable', 'audit append failed');
    }
  }

  async tail(query: AuditQuery): Promise<AuditEvent[]> {
    this.ensureOpen();
    checkQuery(query);
    try {
      const rows =
        query.afterId === undefined ? this.tailAll().all(query.limit) : this.tailAfter().all(query.afterId, query.limit);
      return rows.map(fromRow);
    } catch (err) {
      throw toStoreError(err, 'store_unavailable', 'audit tail failed');
    }
  }

  async count(): Promise<number> {
    this.ensureOpen();
    try {
      return this.countAll().get()!.n;
    } catch (err) {
      throw toStoreError(err, 'store_unavailable', 'audit count failed');
    }
  }
}
