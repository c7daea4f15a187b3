/**
 * The audit table, its hash chain and checkpoints on PostgreSQL. Queries are named, so each pooled
 * connection prepares them once. Several replicas append to one chain: each append is one statement that
 * links and inserts its batch server-side under an advisory lock (chain-link.ts), so links are made one
 * batch at a time across every replica and no lock is held across a round trip.
 */
import type pg from 'pg';
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
import { APPEND_LINKED } from './chain-link.js';
import { checkCursor, checkPrune, traceWhere } from '../audit-queries.js';
import type { AuditChainHead, AuditCheckpoint, AuditKeyRecord, AuditQuery, AuditStore, TraceQuery } from '../types.js';

const COLS = READ_COLUMNS.join(', ');
const params = (n: number): string => Array.from({ length: n }, (_, i) => `$${i + 1}`).join(', ');

// IS NOT NULL: PostgreSQL sorts NULLs first in DESC order (only reachable if someone dropped NOT NULL).
const HEAD_SQL = 'SELECT seq, hash FROM warden_audit_events WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1';
const HEAD = { name: 'warden_audit_head_v3', text: HEAD_SQL };
const TAIL_ALL = {
  name: 'warden_audit_tail_v20',
  text: `SELECT * FROM (SELECT ${COLS} FROM warden_audit_events ORDER BY id DESC LIMIT $1) t ORDER BY id ASC`,
};
const TAIL_AFTER = {
  name: 'warden_audit_tail_after_v20',
  text: `SELECT * FROM (SELECT ${COLS} FROM warden_audit_events WHERE id > $1 ORDER BY id DESC LIMIT $2) t ORDER BY id ASC`,
};
const COUNT = { name: 'warden_audit_count_v2', text: 'SELECT count(*) AS n FROM warden_audit_events' };
const READ_CHAIN = {
  name: 'warden_audit_read_chain_v20',
  text: `SELECT ${COLS} FROM warden_audit_events WHERE seq > $1 ORDER BY seq LIMIT $2`,
};
const UNCHAINED = {
  name: 'warden_audit_unchained_v3',
  text: `SELECT u.id, (SELECT min(n.seq) FROM warden_audit_events n WHERE n.id > u.id AND n.seq IS NOT NULL) AS next_seq
    FROM warden_audit_events u WHERE u.seq IS NULL ORDER BY u.id LIMIT 1`,
};
const CP_COLS = CHECKPOINT_COLUMNS.join(', ');
const CP_ADD = {
  name: 'warden_audit_checkpoint_add_v3',
  text: `INSERT INTO warden_audit_checkpoints (${CP_COLS}) VALUES (${params(CHECKPOINT_COLUMNS.length)}) ON CONFLICT (seq) DO NOTHING RETURNING seq`,
};
const CP_READ = {
  name: 'warden_audit_checkpoints_v3',
  text: `SELECT ${CP_COLS} FROM warden_audit_checkpoints WHERE seq > $1 ORDER BY seq LIMIT $2`,
};
const CP_LAST = { name: 'warden_audit_checkpoint_last_v3', text: `SELECT ${CP_COLS} FROM warden_audit_checkpoints ORDER BY seq DESC LIMIT 1` };
const KEY_ADD = {
  name: 'warden_audit_key_add_v3',
  text: `INSERT INTO warden_audit_keys (${AUDIT_KEY_COLUMNS.join(', ')}) VALUES (${params(AUDIT_KEY_COLUMNS.length)}) ON CONFLICT (kid) DO NOTHING`,
};
const KEY_LIST = {
  name: 'warden_audit_keys_v3',
  text: `SELECT ${AUDIT_KEY_COLUMNS.join(', ')} FROM warden_audit_keys ORDER BY first_used_at, kid`,
};

// The database's clock decides expiry, so replicas' clocks need not agree. RETURNING: a row only while held.
const LEASE_HOLD = {
  name: 'warden_leader_lease_hold_v20',
  text: `INSERT INTO warden_leader_leases (name, holder, expires_at) VALUES ($1, $2, now() + $3::bigint * interval '1 millisecond')
    ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
    WHERE warden_leader_leases.holder = excluded.holder OR warden_leader_leases.expires_at < now()
    RETURNING holder`,
};
const LEASE_RELEASE = { name: 'warden_leader_lease_release_v20', text: 'DELETE FROM warden_leader_leases WHERE name = $1 AND holder = $2' };
const CURSOR_GET = { name: 'warden_audit_sink_cursor_get_v4', text: 'SELECT seq FROM warden_audit_sink_cursors WHERE sink = $1' };
// Forward only: the conflicting row is locked, so of two concurrent writers the higher seq wins.
const CURSOR_SET = {
  name: 'warden_audit_sink_cursor_set_v4',
  text: `INSERT INTO warden_audit_sink_cursors (sink, seq, updated_at) VALUES ($1, $2, $3)
    ON CONFLICT (sink) DO UPDATE SET seq = excluded.seq, updated_at = excluded.updated_at WHERE excluded.seq > warden_audit_sink_cursors.seq`,
};
// One statement, so one transaction: every event through the seq goes, or none does.
const PRUNE = {
  name: 'warden_audit_prune_v4',
  text: 'WITH d AS (DELETE FROM warden_audit_events WHERE seq <= $1 RETURNING 1) SELECT count(*) AS n FROM d',
};
/** A trace's statement, one per shape of filters (so each is prepared once per connection). */
function traceStatement(q: TraceQuery): { name: string; text: string; values: unknown[] } {
  const t = traceWhere(q, (i) => `$${i}`, (p) => `chain::jsonb @> jsonb_build_array(${p}::text)`);
  const text = `SELECT * FROM (SELECT ${COLS} FROM warden_audit_events WHERE ${t.where} ORDER BY seq DESC LIMIT $${t.values.length + 1}) t ORDER BY seq ASC`;
  return { name: `warden_audit_trace_v20_${t.shape}`, text, values: [...t.values, q.limit] };
}

/** Runs a query; the store supplies it so it can check for close and turn failures into StoreErrors. */
export type Run = <R extends pg.QueryResultRow>(what: string, q: { name: string; text: string }, values: unknown[]) => Promise<R[]>;
/**
 * Runs `body` in a READ COMMITTED transaction on one pooled connection and commits; failures roll back and
 * become StoreErrors. `prelude` (parameterless SQL) is sent with the BEGIN in one round trip, and its last
 * statement's rows are passed to `body`.
 */
export type InTransaction = <T>(
  what: string,
  prelude: string,
  body: (client: pg.PoolClient, preludeRows: pg.QueryResultRow[]) => Promise<T>,
) => Promise<T>;

type HeadRow = { seq: string; hash: string };

export class PostgresAuditStore implements AuditStore {
  /**
   * `ensureOpen` throws once the store is closed. `chainLock` is the advisory lock key (a bigint as text)
   * every replica on this schema takes, server-side, to append.
   */
  constructor(
    private readonly run: Run,
    private readonly ensureOpen: () => void,
    private readonly chainLock: string,
  ) {}

  async append(events: readonly AuditEvent[]): Promise<void> {
    this.ensureOpen();
    if (events.length === 0) return;
    // Canonical contents are computed here; the server chains their hashes under the lock (chain-link.ts).
    const batch = prepareBatch(events);
    const columns = AUDIT_COLUMNS.map((c) => batch.rows.map((r) => r[c]));
    await this.run('audit append', APPEND_LINKED, [...columns, this.chainLock, batch.contents]);
  }

  async tail(query: AuditQuery): Promise<AuditEvent[]> {
    checkQuery(query);
    const rows =
      query.afterId === undefined
        ? await this.run<StoredAuditRow>('audit tail', TAIL_ALL, [query.limit])
        : await this.run<StoredAuditRow>('audit tail', TAIL_AFTER, [query.afterId, query.limit]);
    return rows.map(fromRow);
  }

  async count(): Promise<number> {
    // count(*) is bigint, which pg returns as a string.
    const rows = await this.run<{ n: string }>('audit count', COUNT, []);
    return Number(rows[0]!.n);
  }

  async head(): Promise<AuditChainHead | undefined> {
    return headFromRow((await this.run<HeadRow>('audit head', HEAD, []))[0]);
  }

  async readChain(afterSeq: number, limit: number): Promise<AuditEvent[]> {
    checkSeqQuery(afterSeq, limit);
    return (await this.run<StoredAuditRow>('audit chain read', READ_CHAIN, [afterSeq, limit])).map(fromRow);
  }

  async firstUnchained(): Promise<{ id: string; nextSeq: number | null } | undefined> {
    const r = (await this.run<{ id: string; next_seq: string | null }>('audit chain check', UNCHAINED, []))[0];
    return r === undefined ? undefined : { id: r.id, nextSeq: r.next_seq === null ? null : Number(r.next_seq) };
  }

  async addCheckpoint(c: AuditCheckpoint): Promise<boolean> {
    const row = checkpointToRow(c);
    return (await this.run('audit checkpoint add', CP_ADD, CHECKPOINT_COLUMNS.map((k) => row[k]))).length === 1;
  }

  async checkpoints(afterSeq: number, limit: number): Promise<AuditCheckpoint[]> {
    checkSeqQuery(afterSeq, limit);
    return (await this.run<CheckpointRow>('audit checkpoint read', CP_READ, [afterSeq, limit])).map(checkpointFromRow);
  }

  async lastCheckpoint(): Promise<AuditCheckpoint | undefined> {
    const r = (await this.run<CheckpointRow>('audit checkpoint read', CP_LAST, []))[0];
    return r === undefined ? undefined : checkpointFromRow(r);
  }

  async registerKey(key: AuditKeyRecord): Promise<void> {
    const row = auditKeyToRow(key);
    await this.run('audit key register', KEY_ADD, AUDIT_KEY_COLUMNS.map((k) => row[k]));
  }

  async keys(): Promise<AuditKeyRecord[]> {
    return (await this.run<AuditKeyRow>('audit key list', KEY_LIST, [])).map(auditKeyFromRow);
  }

  async holdLease(name: string, holder: string, ttlMs: number): Promise<boolean> {
    return (await this.run('leader lease', LEASE_HOLD, [name, holder, Math.round(ttlMs)])).length === 1;
  }

  async releaseLease(name: string, holder: string): Promise<void> {
    await this.run('leader lease release', LEASE_RELEASE, [name, holder]);
  }

  async getSinkCursor(sink: string): Promise<number> {
    checkCursor(sink);
    const r = (await this.run<{ seq: string }>('audit sink cursor read', CURSOR_GET, [sink]))[0];
    return r === undefined ? 0 : Number(r.seq);
  }

  async setSinkCursor(sink: string, seq: number): Promise<void> {
    checkCursor(sink, seq);
    await this.run('audit sink cursor write', CURSOR_SET, [sink, seq, new Date().toISOString()]);
  }

  async trace(query: TraceQuery): Promise<AuditEvent[]> {
    const { values, ...q } = traceStatement(query);
    return (await this.run<StoredAuditRow>('audit trace', q, values)).map(fromRow);
  }

  async prune(throughSeq: number): Promise<number> {
    checkPrune(throughSeq, (await this.head())?.seq);
    return Number((await this.run<{ n: string }>('audit prune', PRUNE, [throughSeq]))[0]!.n);
  }
}

/**
 * Migration 3's data step, inside its transaction: links rows written before the chain existed in id order
 * (the order they were written), then makes the chain columns NOT NULL so no unlinked row can be added.
 */
export async function backfillChain(client: pg.ClientBase): Promise<void> {
  const select = `SELECT ${V3_AUDIT_COLUMNS.join(', ')} FROM warden_audit_events WHERE seq IS NULL ORDER BY id LIMIT $1`;
  const update = `UPDATE warden_audit_events e SET seq = u.seq, prev_hash = u.prev_hash, hash = u.hash
    FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[]) AS u(id, seq, prev_hash, hash) WHERE e.id = u.id`;
  let head = headFromRow((await client.query<HeadRow>(HEAD_SQL)).rows[0]);
  for (;;) {
    const rows = (await client.query<V3AuditRow>(select, [BACKFILL_PAGE])).rows;
    if (rows.length === 0) break;
    const linked = linkBatch(head, prepareRows(rows));
    await client.query(update, [linked.map((r) => r.id), linked.map((r) => r.seq), linked.map((r) => r.prev_hash), linked.map((r) => r.hash)]);
    const last = linked[linked.length - 1]!;
    head = { seq: last.seq, hash: last.hash };
  }
  await client.query(
    'ALTER TABLE warden_audit_events ALTER COLUMN seq SET NOT NULL, ALTER COLUMN prev_hash SET NOT NULL, ALTER COLUMN hash SET NOT NULL',
  );
}
