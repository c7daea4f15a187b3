/**
 * Approvals on SQLite. Every write is one statement, so it is atomic; an UPDATE takes the file's write lock
 * before it reads, so `decide` (guarded by state = 'pending') and `consume` (the oldest approved record with
 * the digest, guarded by state = 'approved') let exactly one of several concurrent callers win, on one handle
 * or several.
 */
import { SqliteStatements } from './statements.js';
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

// Named parameters (@p1, @p2, ...): a statement may use one value twice (decide's time).
const SQL = approvalSql((i) => `@p${i}`);
const CONSUME = SQL.consume('');
// The conflict target is the primary key only: any other constraint failure still throws.
const INSERT_COLUMNS = [...APPROVAL_COLUMNS, 'sealed_call'];
const INSERT = `INSERT INTO warden_approvals (${INSERT_COLUMNS.join(', ')}) VALUES (${INSERT_COLUMNS.map((c) => '@' + c).join(', ')}) ON CONFLICT (id) DO NOTHING`;

/** Binds values as @p1, @p2, ... */
const params = (...values: unknown[]): Record<string, unknown> => Object.fromEntries(values.map((v, i) => [`p${i + 1}`, v]));

export class SqliteApprovalStore extends SqliteStatements implements ApprovalStore {
  async create(r: ApprovalRecord, sealedCall: string | null = null): Promise<void> {
    const row = approvalToRow(r);
    checkSealedCall(sealedCall);
    const inserted = this.guard('approval create', () => this.stmt(INSERT).run({ ...row, sealed_call: sealedCall }).changes === 1);
    if (!inserted) throw new StoreError('store_unavailable', `approval create failed: approval ${r.id} exists already`);
  }

  async get(id: string): Promise<ApprovalRecord | undefined> {
    return this.one('approval read', SQL.get, params(id));
  }

  async list(filter: { state?: ApprovalState; limit?: number } = {}): Promise<ApprovalRecord[]> {
    const f = approvalListFilter(filter);
    return this.guard('approval list', () => {
      const rows = (f.state === undefined ? this.stmt(SQL.listAll).all(params(f.limit)) : this.stmt(SQL.listByState).all(params(f.state, f.limit))) as ApprovalRow[];
      return rows.map(approvalFromRow);
    });
  }

  async decide(id: string, state: 'approved' | 'denied', by: string, reason: string | null, at: string): Promise<ApprovalRecord | undefined> {
    checkDecide(id, state, by, reason, at);
    return this.one('approval decide', SQL.decide, params(state, by, at, reason, id));
  }

  async consume(digest: string, at: string): Promise<ApprovalRecord | undefined> {
    checkDigestAt(digest, at);
    return this.one('approval consume', CONSUME, params(digest, at));
  }

  async pendingFor(digest: string, at: string): Promise<ApprovalRecord | undefined> {
    checkDigestAt(digest, at);
    return this.one('approval read', SQL.pendingFor, params(digest, at));
  }

  async sealedCall(id: string, at: string): Promise<string | undefined> {
    checkIso(at, 'at');
    return this.guard('approval read', () => (this.stmt(SQL.sealedCall).get(params(id, at)) as { sealed_call: string } | undefined)?.sealed_call);
  }

  async forgetCalls(at: string): Promise<number> {
    checkIso(at, 'at');
    return this.guard('approval forget', () => this.stmt(SQL.forgetCalls).run(params(at)).changes);
  }

  private one(what: string, sql: string, values: Record<string, unknown>): ApprovalRecord | undefined {
    return this.guard(what, () => {
      const row = this.stmt(sql).get(values) as ApprovalRow | undefined;
      return row === undefined ? undefined : approvalFromRow(row);
    });
  }
}

/**
 * Migration 7. chain and policy_ids are JSON text; times are canonical ISO text. (digest, state) serves
 * consume and pendingFor; (state, id) serves "pending requests, newest first".
 */
export const approvalsMigration = {
  version: 7,
  name: 'approvals',
  sql: `
    CREATE TABLE warden_approvals (
      id              TEXT PRIMARY KEY,
      digest          TEXT NOT NULL,
      agent           TEXT NOT NULL,
      user_subject    TEXT,
      tenant          TEXT,
      chain           TEXT NOT NULL,
      task            TEXT,
      upstream        TEXT NOT NULL,
      tool            TEXT NOT NULL,
      arguments       TEXT,
      reason          TEXT NOT NULL,
      policy_ids      TEXT NOT NULL,
      created_at      TEXT NOT NULL,
      expires_at      TEXT NOT NULL,
      state           TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'denied', 'consumed')),
      decided_by      TEXT,
      decided_at      TEXT,
      decision_reason TEXT,
      consumed_at     TEXT
    );
    CREATE INDEX warden_approvals_digest ON warden_approvals (digest, state);
    CREATE INDEX warden_approvals_state ON warden_approvals (state, id);
  `,
} as const;
