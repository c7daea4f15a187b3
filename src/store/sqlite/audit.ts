/**
 * The audit table, its hash chain and checkpoints on SQLite. Statements are prepared once; better-sqlite3 is
 * synchronous, so each call is too. An append reads the chain head and inserts the linked batch in one
 * IMMEDIATE transaction, which holds the file's write lock throughout: the chain stays single even with
 * several processes on one file.
 */
import type Database from 'better-sqlite3';
import { linkContents } from '../../audit/chain.js';
import type { AuditEvent } from '../../audit/event.js';
import {
  AUDIT_COLUMNS,
  BACKFILL_PAGE,
  checkQuery,
  fromRow,
  headFromRow,
  linkBatch,
  prepareBatch,
  prepareRows,
  READ_COLUMNS,
  V3_AUDIT_COLUMNS,
  type V3AuditRow,
  type PreparedBatch,
  type StoredAuditRow,
} from '../audit-rows.js';
import {
  AUDIT_KEY_COLUMNS,
  auditKeyFromRow,
  auditKeyToRow,
  CHECKPOINT_COLUMNS,
  checkpointFromRow,
  checkpointToRow,
  checkSeqQuery,
  type AuditKeyRow,
  type CheckpointRow,
} from '../checkpoint-rows.js';
import { checkCursor, checkPrune, traceWhere } from '../audit-queries.js';
import { toStoreError } from '../errors.js';
import type { AuditChainHead, AuditCheckpoint, AuditKeyRecord, AuditQuery, AuditStore, TraceQuery } from '../types.js';
import { lazy } from './lazy.js';

const COLS = READ_COLUMNS.join(', ');
// The row's columns, then its link: the order the append binds them in.
const INSERT_COLS = [...AUDIT_COLUMNS, 'seq', 'prev_hash', 'hash'] as const;
const named = (cols: readonly string[]): string => cols.map((c) => '@' + c).join(', ');
type HeadRow = { seq: number; hash: string };

export class SqliteAuditStore implements AuditStore {
  private readonly insertMany: () => Database.Transaction<(batch: PreparedBatch) => void>;
  private readonly stmt: (sql: string) => Database.Statement;

  /** `ensureOpen` throws once the store is closed, so no call reaches a closed handle. */
  constructor(db: Database.Database, private readonly ensureOpen: () => void) {
    const cache = new Map<string, Database.Statement>();
    this.stmt = (sql) => {
      let s = cache.get(sql);
      if (s === undefined) cache.set(sql, (s = db.prepare(sql)));
      return s;
    };
    this.insertMany = lazy(() => {
      // Positional parameters: binding an array is cheaper than binding an object by name.
      const insert = db.prepare<unknown[]>(`INSERT INTO warden_audit_events (${INSERT_COLS.join(', ')}) VALUES (${INSERT_COLS.map(() => '?').join(', ')})`);
      const head = db.prepare<[], HeadRow>(HEAD_SQL);
      // One transaction for the whole batch: all events are stored and linked, or none are.
      return db.transaction((batch: PreparedBatch) => {
        // The parameters straight from the row and its link (not a linked copy of each row: copying a
        // 25-field row was a few per cent of a call's CPU).
        const links = linkContents(headFromRow(head.get()), batch.contents);
        batch.rows.forEach((row, i) => {
          const link = links[i]!;
          const params: unknown[] = AUDIT_COLUMNS.map((c) => row[c]);
          params.push(link.seq, link.prevHash, link.hash);
          insert.run(params);
        });
      });
    });
  }

  async append(events: readonly AuditEvent[]): Promise<void> {
    this.ensureOpen();
    if (events.length === 0) return;
    try {
      // IMMEDIATE: the write lock is taken before the head is read, so no other writer can link in between.
      this.insertMany().immediate(prepareBatch(events));
    } catch (err) {
      throw toStoreError(err, 'store_unavailable', 'audit append failed');
    }
  }

  async tail(query: AuditQuery): Promise<AuditEvent[]> {
    checkQuery(query);
    // Newest first to apply the limit, then flipped so callers read oldest first.
    return this.guard('audit tail', () => {
      const rows =
        query.afterId === undefined
          ? this.all(`SELECT * FROM (SELECT ${COLS} FROM warden_audit_events ORDER BY id DESC LIMIT ?) ORDER BY id ASC`, query.limit)
          : this.all(`SELECT * FROM (SELECT ${COLS} FROM warden_audit_events WHERE id > ? ORDER BY id DESC LIMIT ?) ORDER BY id ASC`, query.afterId, query.limit);
      return (rows as StoredAuditRow[]).map(fromRow);
    });
  }

  async count(): Promise<number> {
    return this.guard('audit count', () => (this.stmt('SELECT count(*) AS n FROM warden_audit_events').get() as { n: number }).n);
  }

  async head(): Promise<AuditChainHead | undefined> {
    return this.guard('audit head', () => headFromRow(this.stmt(HEAD_SQL).get() as HeadRow | undefined));
  }

  async readChain(afterSeq: number, limit: number): Promise<AuditEvent[]> {
    checkSeqQuery(afterSeq, limit);
    return this.guard('audit chain read', () =>
      (this.all(`SELECT ${COLS} FROM warden_audit_events WHERE seq > ? ORDER BY seq LIMIT ?`, afterSeq, limit) as StoredAuditRow[]).map(fromRow),
    );
  }

  async firstUnchained(): Promise<{ id: string; nextSeq: number | null } | undefined> {
    return this.guard('audit chain check', () => {
      const r = this.stmt(UNCHAINED_SQL).get() as { id: string; next_seq: number | null } | undefined;
      return r === undefined ? undefined : { id: r.id, nextSeq: r.next_seq };
    });
  }

  async addCheckpoint(c: AuditCheckpoint): Promise<boolean> {
    const row = checkpointToRow(c);
    return this.guard('audit checkpoint add', () => {
      const sql = `INSERT INTO warden_audit_checkpoints (${CHECKPOINT_COLUMNS.join(', ')}) VALUES (${named(CHECKPOINT_COLUMNS)}) ON CONFLICT (seq) DO NOTHING`;
      return this.stmt(sql).run(row).changes === 1;
    });
  }

  async checkpoints(afterSeq: number, limit: number): Promise<AuditCheckpoint[]> {
    checkSeqQuery(afterSeq, limit);
    return this.guard('audit checkpoint read', () =>
      (this.all(`SELECT ${CHECKPOINT_COLUMNS.join(', ')} FROM warden_audit_checkpoints WHERE seq > ? ORDER BY seq LIMIT ?`, afterSeq, limit) as CheckpointRow[]).map(checkpointFromRow),
    );
  }

  async lastCheckpoint(): Promise<AuditCheckpoint | undefined> {
    return this.guard('audit checkpoint read', () => {
      const r = this.stmt(`SELECT ${CHECKPOINT_COLUMNS.join(', ')} FROM warden_audit_checkpoints ORDER BY seq DESC LIMIT 1`).get() as CheckpointRow | undefined;
      return r === undefined ? undefined : checkpointFromRow(r);
    });
  }

  async registerKey(key: AuditKeyRecord): Promise<void> {
    const row = auditKeyToRow(key);
    this.guard('audit key register', () =>
      this.stmt(`INSERT INTO warden_audit_keys (${AUDIT_KEY_COLUMNS.join(', ')}) VALUES (${named(AUDIT_KEY_COLUMNS)}) ON CONFLICT (kid) DO NOTHING`).run(row),
    );
  }

  async keys(): Promise<AuditKeyRecord[]> {
    return this.guard('audit key list', () =>
      (this.stmt(`SELECT ${AUDIT_KEY_COLUMNS.join(', ')} FROM warden_audit_keys ORDER BY first_used_at, kid`).all() as AuditKeyRow[]).map(auditKeyFromRow),
    );
  }

  /** One SQLite process is the only writer and exporter of its file: it always leads. */
  async holdLease(): Promise<boolean> {
    return true;
  }

  async releaseLease(): Promise<void> {}

  async getSinkCursor(sink: string): Promise<number> {
    checkCursor(sink);
    return this.guard('audit sink cursor read', () => (this.stmt(CURSOR_GET_SQL).get(sink) as { seq: number } | undefined)?.seq ?? 0);
  }

  async setSinkCursor(sink: string, seq: number): Promise<void> {
    checkCursor(sink, seq);
    this.guard('audit sink cursor write', () => this.stmt(CURSOR_SET_SQL).run(sink, seq, new Date().toISOString()));
  }

  async trace(query: TraceQuery): Promise<AuditEvent[]> {
    // Named parameters: the agent's is used twice. A chain that is not JSON (never written by warden) matches nothing.
    const t = traceWhere(query, (i) => `@p${i}`, (p) => `EXISTS (SELECT 1 FROM json_each(CASE WHEN json_valid(chain) THEN chain ELSE '[]' END) WHERE type = 'text' AND value = ${p})`);
    const params: Record<string, unknown> = Object.fromEntries(t.values.map((v, i) => [`p${i + 1}`, v]));
    params.limit = query.limit;
    const sql = `SELECT * FROM (SELECT ${COLS} FROM warden_audit_events WHERE ${t.where} ORDER BY seq DESC LIMIT @limit) ORDER BY seq ASC`;
    return this.guard('audit trace', () => (this.stmt(sql).all(params) as StoredAuditRow[]).map(fromRow));
  }

  async prune(throughSeq: number): Promise<number> {
    checkPrune(throughSeq, (await this.head())?.seq);
    // One statement, so one transaction: every event through the seq goes, or none does.
    return this.guard('audit prune', () => this.stmt('DELETE FROM warden_audit_events WHERE seq <= ?').run(throughSeq).changes);
  }

  private all(sql: string, ...params: unknown[]): unknown[] {
    return this.stmt(sql).all(...params);
  }

  /** Runs `body` after the open check, turning a database failure into a StoreError (store_unavailable). */
  private guard<T>(what: string, body: () => T): T {
    this.ensureOpen();
    try {
      return body();
    } catch (err) {
      throw toStoreError(err, 'store_unavailable', `${what} failed`);
    }
  }
}

const HEAD_SQL = 'SELECT seq, hash FROM warden_audit_events WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1';
const CURSOR_GET_SQL = 'SELECT seq FROM warden_audit_sink_cursors WHERE sink = ?';
// Forward only: a stale writer's lower seq leaves the row as it is.
const CURSOR_SET_SQL = `INSERT INTO warden_audit_sink_cursors (sink, seq, updated_at) VALUES (?, ?, ?)
  ON CONFLICT (sink) DO UPDATE SET seq = excluded.seq, updated_at = excluded.updated_at WHERE excluded.seq > warden_audit_sink_cursors.seq`;
const UNCHAINED_SQL = `SELECT u.id, (SELECT min(n.seq) FROM warden_audit_events n WHERE n.id > u.id AND n.seq IS NOT NULL) AS next_seq
  FROM warden_audit_events u WHERE u.seq IS NULL ORDER BY u.id LIMIT 1`;

/** Migration 3: links rows written before the chain existed, in id order (the order they were written). */
export function backfillChain(db: Database.Database): void {
  const select = db.prepare<[number], V3AuditRow>(
    `SELECT ${V3_AUDIT_COLUMNS.join(', ')} FROM warden_audit_events WHERE seq IS NULL ORDER BY id LIMIT ?`,
  );
  const update = db.prepare<[{ id: unknown; seq: number; prev_hash: string; hash: string }]>('UPDATE warden_audit_events SET seq = @seq, prev_hash = @prev_hash, hash = @hash WHERE id = @id');
  let head = headFromRow(db.prepare<[], HeadRow>(HEAD_SQL).get());
  for (;;) {
    const rows = select.all(BACKFILL_PAGE);
    if (rows.length === 0) return;
    const linked = linkBatch(head, prepareRows(rows));
    for (const r of linked) update.run(r);
    const last = linked[linked.length - 1]!;
    head = { seq: last.seq, hash: last.hash };
  }
}
