/**
 * Approvals on PostgreSQL, shared by every replica. Every write is one statement, so it is atomic without an
 * explicit transaction.
 *
 * `decide` is an UPDATE guarded by state = 'pending': under READ COMMITTED a concurrent second UPDATE waits
 * for the first's row lock, re-checks the guard on the committed row and changes nothing.
 *
 * `consume` picks the oldest approved, unexpired record with the digest in a subquery that locks it
 * (FOR UPDATE SKIP LOCKED) and consumes it only if it is still approved. A concurrent consumer skips a row
 * another holds, and a row committed as consumed meanwhile fails the subquery's re-check, so it moves on to the
 * next candidate or finds none: of two calls for one approval, on any replicas, exactly one gets it.
 */
import {
  APPROVAL_COLUMNS,
  approvalFromRow,
  approvalListFilter,
  approvalSql,
  approvalToRow,
  checkDecide,
  checkDigestAt,
  checkSealedCall,
  type ApprovalRow,
} from '../approval-rows.js';
import { checkIso } from '../identity-rows.js';
import { StoreError } from '../errors.js';
import type { ApprovalRecord, ApprovalState, ApprovalStore } from '../types.js';
import type { Run } from './audit.js';

const p = (i: number): string => `$${i}`;
const SQL = approvalSql(p);

// Statement names carry the schema version: a name must never be reused for different text.
// The conflict target is the primary key only: any other constraint failure still throws.
const INSERT_COLUMNS = [...APPROVAL_COLUMNS, 'sealed_call'];
const INSERT = {
  name: 'warden_approvals_insert_v16',
  text: `INSERT INTO warden_approvals (${INSERT_COLUMNS.join(', ')}) VALUES (${INSERT_COLUMNS.map((_, i) => p(i + 1)).join(', ')}) ON CONFLICT (id) DO NOTHING RETURNING id`,
};
const GET = { name: 'warden_approvals_get_v7', text: SQL.get };
const LIST_ALL = { name: 'warden_approvals_list_all_v7', text: SQL.listAll };
const LIST_BY_STATE = { name: 'warden_approvals_list_s_v7', text: SQL.listByState };
const DECIDE = { name: 'warden_approvals_decide_v16', text: SQL.decide };
const SEALED_CALL = { name: 'warden_approvals_sealed_call_v16', text: SQL.sealedCall };
const FORGET_CALLS = { name: 'warden_approvals_forget_calls_v16', text: `WITH f AS (${SQL.forgetCalls} RETURNING 1) SELECT count(*)::int AS n FROM f` };
const CONSUME = { name: 'warden_approvals_consume_v7', text: SQL.consume(' FOR UPDATE SKIP LOCKED') };
const PENDING_FOR = { name: 'warden_approvals_pending_for_v7', text: SQL.pendingFor };

export class PostgresApprovalStore implements ApprovalStore {
  /** `run` checks for close and turns failures into StoreErrors with the password scrubbed. */
  constructor(private readonly run: Run) {}

  async create(r: ApprovalRecord, sealedCall: string | null = null): Promise<void> {
    const row = approvalToRow(r);
    checkSealedCall(sealedCall);
    const inserted = await this.run('approval create', INSERT, [...APPROVAL_COLUMNS.map((c) => row[c]), sealedCall]);
    if (inserted.length !== 1) throw new StoreError('store_unavailable', `approval create failed: approval ${r.id} exists already`);
  }

  async get(id: string): Promise<ApprovalRecord | undefined> {
    return this.one('approval read', GET, [id]);
  }

  async list(filter: { state?: ApprovalState; limit?: number } = {}): Promise<ApprovalRecord[]> {
    const f = approvalListFilter(filter);
    const rows = f.state === undefined
      ? await this.run<ApprovalRow>('approval list', LIST_ALL, [f.limit])
      : await this.run<ApprovalRow>('approval list', LIST_BY_STATE, [f.state, f.limit]);
    return rows.map(approvalFromRow);
  }

  async decide(id: string, state: 'approved' | 'denied', by: string, reason: string | null, at: string): Promise<ApprovalRecord | undefined> {
    checkDecide(id, state, by, reason, at);
    return this.one('approval decide', DECIDE, [state, by, at, reason, id]);
  }

  async consume(digest: string, at: string): Promise<ApprovalRecord | undefined> {
    checkDigestAt(digest, at);
    return this.one('approval consume', CONSUME, [digest, at]);
  }

  async pendingFor(digest: string, at: string): Promise<ApprovalRecord | undefined> {
    checkDigestAt(digest, at);
    return this.one('approval read', PENDING_FOR, [digest, at]);
  }

  async sealedCall(id: string, at: string): Promise<string | undefined> {
    checkIso(at, 'at');
    const rows = await this.run<{ sealed_call: string }>('approval read', SEALED_CALL, [id, at]);
    return rows[0]?.sealed_call;
  }

  async forgetCalls(at: string): Promise<number> {
    checkIso(at, 'at');
    return (await this.run<{ n: number }>('approval forget', FORGET_CALLS, [at]))[0]?.n ?? 0;
  }

  private async one(what: string, q: { name: string; text: string }, values: unknown[]): Promise<ApprovalRecord | undefined> {
    const rows = await this.run<ApprovalRow>(what, q, values);
    return rows[0] === undefined ? undefined : approvalFromRow(rows[0]);
  }
}

/**
 * Migration 7. chain and policy_ids are JSON text, read back exactly as written. COLLATE "C": ids and ISO
 * times sort bytewise, as in SQLite, so id order is creation order and `expires_at > at` is a time comparison
 * whatever the database locale. (digest, state) serves consume and pendingFor; (state, id) serves "pending
 * requests, newest first".
 */
export const approvalsMigration = {
  version: 7,
  name: 'approvals',
  sql: `
    CREATE TABLE warden_approvals (
      id              text COLLATE "C" PRIMARY KEY,
      digest          text NOT NULL,
      agent           text NOT NULL,
      user_subject    text,
      tenant          text,
      chain           text NOT NULL,
      task            text,
      upstream        text NOT NULL,
      tool            text NOT NULL,
      arguments       text,
      reason          text NOT NULL,
      policy_ids      text NOT NULL,
      created_at      text COLLATE "C" NOT NULL,
      expires_at      text COLLATE "C" NOT NULL,
      state           text NOT NULL CHECK (state IN ('pending', 'approved', 'denied', 'consumed')),
      decided_by      text,
      decided_at      text COLLATE "C",
      decision_reason text,
      consumed_at     text COLLATE "C"
    );
    CREATE INDEX warden_approvals_digest ON warden_approvals (digest, state);
    CREATE INDEX warden_approvals_state ON warden_approvals (state, id);
  `,
} as const;
