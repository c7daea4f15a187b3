/** The audit table on PostgreSQL. Queries are named, so each pooled connection prepares them once. */
import type pg from 'pg';
import type { AuditEvent } from '../../audit/event.js';
import { AUDIT_COLUMNS, checkQuery, fromRow, toRow, type AuditRow } from '../audit-rows.js';
import type { AuditQuery, AuditStore } from '../types.js';

const COLS = AUDIT_COLUMNS.join(', ');

// One statement for any batch size: each column travels as one array and unnest zips them into rows.
// A single statement is atomic, so the batch is stored whole or not at all.
// Statement names carry the schema version: a name must never be reused for different text.
const INSERT = {
  name: 'warden_audit_append_v2',
  text:
    `INSERT INTO warden_audit_events (${COLS}) SELECT * FROM unnest(` +
    AUDIT_COLUMNS.map((c, i) => `$${i + 1}::${c === 'latency_ms' ? 'double precision' : 'text'}[]`).join(', ') +
    ')',
};
const TAIL_ALL = {
  name: 'warden_audit_tail_v2',
  text: `SELECT * FROM (SELECT ${COLS} FROM warden_audit_events ORDER BY id DESC LIMIT $1) t ORDER BY id ASC`,
};
const TAIL_AFTER = {
  name: 'warden_audit_tail_after_v2',
  text: `SELECT * FROM (SELECT ${COLS} FROM warden_audit_events WHERE id > $1 ORDER BY id DESC LIMIT $2) t ORDER BY id ASC`,
};
const COUNT = { name: 'warden_audit_count_v2', text: 'SELECT count(*) AS n FROM warden_audit_events' };

/** Runs a query; the store supplies it so it can check for close and turn failures into StoreErrors. */
export type Run = <R extends pg.QueryResultRow>(what: string, q: { name: string; text: string }, values: unknown[]) => Promise<R[]>;

export class PostgresAuditStore implements AuditStore {
  /** `ensureOpen` throws once the store is closed. */
  constructor(
    private readonly run: Run,
    private readonly ensureOpen: () => void,
  ) {}

  async append(events: readonly AuditEvent[]): Promise<void> {
    this.ensureOpen();
    if (events.length === 0) return;
    const rows = events.map(toRow);
    await this.run('audit append', INSERT, AUDIT_COLUMNS.map((c) => rows.map((r) => r[c])));
  }

  async tail(query: AuditQuery): Promise<AuditEvent[]> {
    checkQuery(query);
    const rows =
      query.afterId === undefined
        ? await this.run<AuditRow>('audit tail', TAIL_ALL, [query.limit])
        : await this.run<AuditRow>('audit tail', TAIL_AFTER, [query.afterId, query.limit]);
    return rows.map(fromRow);
  }

  async count(): Promise<number> {
    // count(*) is bigint, which pg returns as a string.
    const rows = await this.run<{ n: string }>('audit count', COUNT, []);
    return Number(rows[0]!.n);
  }
}
