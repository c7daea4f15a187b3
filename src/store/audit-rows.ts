/** The AuditEvent <-> row mapping shared by both backends, so their columns cannot drift apart. */
import { eventContent, linkContents, type ChainHead } from '../audit/chain.js';
import type { AuditDecision, AuditEvent, AuditOutcome } from '../audit/event.js';
import { parseJsonArray } from './identity-rows.js';
import type { AuditQuery } from './types.js';

/** The columns of schema versions 1-3, which migration 3's backfill reads (the later ones do not exist yet then). */
export const V3_AUDIT_COLUMNS = [
  'id',
  'time',
  'instance',
  'session_id',
  'protocol_version',
  'method',
  'upstream',
  'target',
  'args_digest',
  'outcome',
  'error_code',
  'latency_ms',
  // Added by migration 2. `user` is reserved in PostgreSQL, hence user_subject; chain is a JSON array as text.
  'agent',
  'user_subject',
  'tenant',
  'chain',
  'auth_method',
] as const;

/**
 * Added by migration 4, all nullable: rows written before it read back without these fields, which the hash
 * leaves out anyway (see chain.ts), so their chain still verifies. decision and lease_ids are JSON text.
 */
export const V4_AUDIT_COLUMNS = ['task', 'decision', 'approval_id', 'lease_ids', 'arguments', 'upstream_status'] as const;

/** Added by migration 20 (nullable, like migration 4's): the intent record a forwarded call's record closes. */
export const V20_AUDIT_COLUMNS = ['intent_id'] as const;

/** Column names in insert order; one per AuditEvent field. */
export const AUDIT_COLUMNS = [...V3_AUDIT_COLUMNS, ...V4_AUDIT_COLUMNS, ...V20_AUDIT_COLUMNS] as const;

export type AuditColumn = (typeof AUDIT_COLUMNS)[number];
export type AuditRow = Record<AuditColumn, string | number | null>;
/** A row of schema version 3 (migration 3's backfill reads these). */
export type V3AuditRow = Record<(typeof V3_AUDIT_COLUMNS)[number], string | number | null>;

/** The chain columns (migration 3): filled by the backend inside its append transaction, never by callers. */
export const CHAIN_COLUMNS = ['seq', 'prev_hash', 'hash'] as const;
export type ChainColumn = (typeof CHAIN_COLUMNS)[number];
/** A row as read back: the chain columns are NULL only on rows that warden did not write. */
export type StoredAuditRow = AuditRow & Partial<Record<ChainColumn, string | number | null>>;
export type ChainedAuditRow = AuditRow & { seq: number; prev_hash: string; hash: string };

/** Every column, for reads. */
export const READ_COLUMNS = [...AUDIT_COLUMNS, ...CHAIN_COLUMNS] as const;

/** Rows for a batch, with the canonical content each will be hashed over, computed before the write lock. */
export interface PreparedBatch {
  rows: AuditRow[];
  contents: string[];
}

/**
 * Hashes what will be read back, not the object passed in: the event goes through toRow and fromRow first,
 * so a field the table does not keep cannot make a stored row unverifiable.
 */
export function prepareBatch(events: readonly AuditEvent[]): PreparedBatch {
  return prepareRows(events.map(toRow));
}

/** The same for rows already stored (migration 3 links rows written before the chain existed). */
export function prepareRows<R extends V3AuditRow>(rows: R[]): { rows: R[]; contents: string[] } {
  return { rows, contents: rows.map((r) => eventContent(fromRow(r))) };
}

/** Links a prepared batch after `head` (read under the write lock). */
export function linkBatch<R extends V3AuditRow>(
  head: ChainHead | undefined,
  batch: { rows: R[]; contents: string[] },
): (R & { seq: number; prev_hash: string; hash: string })[] {
  const links = linkContents(head, batch.contents);
  return batch.rows.map((r, i) => {
    const l = links[i]!;
    return { ...r, seq: l.seq, prev_hash: l.prevHash, hash: l.hash };
  });
}

/** Reads a chain head row ({ seq, hash } with a bigint seq as text on PostgreSQL). */
export function headFromRow(r: { seq: string | number; hash: string } | undefined): ChainHead | undefined {
  return r === undefined ? undefined : { seq: Number(r.seq), hash: r.hash };
}

/** Backfill page size for migration 3 (rows written before the chain existed, linked in id order). */
export const BACKFILL_PAGE = 5000;

export function toRow(e: AuditEvent): AuditRow {
  return {
    id: e.id,
    time: e.time,
    instance: e.instance,
    session_id: e.sessionId,
    protocol_version: e.protocolVersion,
    method: e.method,
    upstream: e.upstream,
    target: e.target,
    args_digest: e.argsDigest,
    outcome: e.outcome,
    error_code: e.errorCode,
    latency_ms: e.latencyMs,
    agent: e.agent,
    user_subject: e.user,
    tenant: e.tenant,
    chain: JSON.stringify(e.chain),
    auth_method: e.authMethod,
    task: e.task ?? null,
    decision: e.decision === null || e.decision === undefined ? null : JSON.stringify(e.decision),
    approval_id: e.approvalId ?? null,
    // An empty list is stored as NULL: the hash treats [] and absent alike, and so does fromRow.
    lease_ids: e.leaseIds === undefined || e.leaseIds.length === 0 ? null : JSON.stringify(e.leaseIds),
    arguments: e.arguments ?? null,
    upstream_status: e.upstreamStatus ?? null,
    intent_id: e.intentId ?? null,
  };
}

export function fromRow(r: V3AuditRow & Partial<Record<AuditColumn | ChainColumn, string | number | null>>): AuditEvent {
  const event: AuditEvent = {
    id: r.id as string,
    time: r.time as string,
    instance: r.instance as string,
    sessionId: r.session_id as string | null,
    // Rows written before migration 2 have no identity: nulls and an empty chain.
    agent: (r.agent ?? null) as string | null,
    user: (r.user_subject ?? null) as string | null,
    tenant: (r.tenant ?? null) as string | null,
    chain: parseJsonArray(r.chain),
    authMethod: (r.auth_method ?? null) as string | null,
    protocolVersion: r.protocol_version as string | null,
    method: r.method as string,
    upstream: r.upstream as string | null,
    target: r.target as string | null,
    argsDigest: r.args_digest as string | null,
    outcome: r.outcome as AuditOutcome,
    errorCode: r.error_code as string | null,
    latencyMs: Number(r.latency_ms),
  };
  // Migration 4's fields are set only when stored (NULL and absent are the same to the hash), so events
  // without them, and rows written before it, read back exactly as they were written.
  if (r.task !== null && r.task !== undefined) event.task = String(r.task);
  if (r.decision !== null && r.decision !== undefined) event.decision = JSON.parse(String(r.decision)) as AuditDecision;
  if (r.approval_id !== null && r.approval_id !== undefined) event.approvalId = String(r.approval_id);
  const leaseIds = parseJsonArray(r.lease_ids);
  if (leaseIds.length > 0) event.leaseIds = leaseIds;
  if (r.arguments !== null && r.arguments !== undefined) event.arguments = String(r.arguments);
  if (r.upstream_status !== null && r.upstream_status !== undefined) event.upstreamStatus = String(r.upstream_status);
  if (r.intent_id !== null && r.intent_id !== undefined) event.intentId = String(r.intent_id);
  // Only chained rows carry the chain fields (a bigint seq is text on PostgreSQL).
  if (r.seq === null || r.seq === undefined) return event;
  return { ...event, seq: Number(r.seq), prevHash: String(r.prev_hash ?? ''), hash: String(r.hash ?? '') };
}

/** A bad limit is a caller bug, not an unavailable store; SQLite would read a negative LIMIT as "no limit". */
export function checkQuery(q: AuditQuery): void {
  if (!Number.isSafeInteger(q.limit) || q.limit < 0) {
    throw new RangeError(`audit query limit must be a non-negative integer, got ${String(q.limit)}`);
  }
}
