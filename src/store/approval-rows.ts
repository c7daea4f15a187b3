/**
 * Row mappings for approvals, shared by both backends. chain and policyIds are JSON text; times are canonical
 * ISO text (see identity-rows.ts), so `expires_at > at` is a time comparison. A record or argument no approval
 * service would pass (a malformed time or digest, an unknown state, a new request that is already decided) is
 * a caller bug and rejects with a RangeError before reaching the database.
 */
import { checkIso, parseJsonArray } from './identity-rows.js';
import type { ApprovalRecord, ApprovalState } from './types.js';

export const APPROVAL_COLUMNS = [
  'id',
  'digest',
  'agent',
  'user_subject',
  'tenant',
  'chain',
  'task',
  'upstream',
  'tool',
  'arguments',
  'reason',
  'policy_ids',
  'created_at',
  'expires_at',
  'state',
  'decided_by',
  'decided_at',
  'decision_reason',
  'consumed_at',
] as const;

export type ApprovalRow = Record<(typeof APPROVAL_COLUMNS)[number], string | null>;

const STATES: readonly ApprovalState[] = ['pending', 'approved', 'denied', 'consumed'];

/** The default and largest page a `list` returns. */
export const DEFAULT_APPROVAL_LIMIT = 100;
export const MAX_APPROVAL_LIMIT = 10_000;

const SHA256_HEX = /^[0-9a-f]{64}$/;

const isNonEmpty = (v: unknown): v is string => typeof v === 'string' && v !== '';
const isStringList = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');
const isNullableString = (v: unknown): v is string | null => v === null || typeof v === 'string';

/** Throws a RangeError unless `state` is one of the four approval states. */
export function checkApprovalState(state: unknown, field = 'state'): asserts state is ApprovalState {
  if (!STATES.includes(state as ApprovalState)) throw new RangeError(`approval ${field} must be one of ${STATES.join(', ')}, got ${String(state)}`);
}

/** Throws a RangeError unless `digest` is a lowercase sha256 hex digest. */
export function checkDigest(digest: unknown): asserts digest is string {
  if (typeof digest !== 'string' || !SHA256_HEX.test(digest)) throw new RangeError('an approval digest must be 64 lowercase hex characters (sha256)');
}

/**
 * Maps a new request to its row. `create` stores pending requests only: the one way to an approved record is
 * `decide`, so no caller can write an approval that no human gave.
 */
export function approvalToRow(r: ApprovalRecord): ApprovalRow {
  if (!isNonEmpty(r.id)) throw new RangeError('an approval needs an id');
  checkDigest(r.digest);
  if (!isNonEmpty(r.agent)) throw new RangeError('an approval needs an agent');
  if (!isNullableString(r.user)) throw new RangeError('approval user must be null or a string');
  if (!isNullableString(r.tenant)) throw new RangeError('approval tenant must be null or a string');
  if (!isStringList(r.chain)) throw new RangeError('approval chain must be a list of strings');
  if (!isNullableString(r.task)) throw new RangeError('approval task must be null or a string');
  if (!isNonEmpty(r.upstream)) throw new RangeError('an approval needs an upstream');
  if (!isNonEmpty(r.tool)) throw new RangeError('an approval needs a tool');
  if (!isNullableString(r.arguments)) throw new RangeError('approval arguments must be null or a string');
  if (typeof r.reason !== 'string') throw new RangeError('approval reason must be a string');
  if (!isStringList(r.policyIds)) throw new RangeError('approval policyIds must be a list of strings');
  checkIso(r.createdAt, 'createdAt');
  checkIso(r.expiresAt, 'expiresAt');
  checkApprovalState(r.state);
  if (r.state !== 'pending') throw new RangeError(`a new approval request must be pending, got ${r.state}`);
  if (r.decidedBy !== null || r.decidedAt !== null || r.decisionReason !== null || r.consumedAt !== null) {
    throw new RangeError('a pending approval request has no decision and is not consumed');
  }
  return {
    id: r.id,
    digest: r.digest,
    agent: r.agent,
    user_subject: r.user,
    tenant: r.tenant,
    chain: JSON.stringify(r.chain),
    task: r.task,
    upstream: r.upstream,
    tool: r.tool,
    arguments: r.arguments,
    reason: r.reason,
    policy_ids: JSON.stringify(r.policyIds),
    created_at: r.createdAt,
    expires_at: r.expiresAt,
    state: r.state,
    decided_by: null,
    decided_at: null,
    decision_reason: null,
    consumed_at: null,
  };
}

export function approvalFromRow(r: ApprovalRow): ApprovalRecord {
  return {
    id: r.id as string,
    digest: r.digest as string,
    agent: r.agent as string,
    user: r.user_subject,
    tenant: r.tenant,
    chain: parseJsonArray(r.chain),
    task: r.task,
    upstream: r.upstream as string,
    tool: r.tool as string,
    arguments: r.arguments,
    reason: r.reason as string,
    policyIds: parseJsonArray(r.policy_ids),
    createdAt: r.created_at as string,
    expiresAt: r.expires_at as string,
    state: r.state as ApprovalState,
    decidedBy: r.decided_by,
    decidedAt: r.decided_at,
    decisionReason: r.decision_reason,
    consumedAt: r.consumed_at,
  };
}

/** Checks `decide`'s arguments: a decision, who made it, an optional reason and a canonical time. */
export function checkDecide(id: string, state: string, by: string, reason: string | null, at: string): void {
  if (typeof id !== 'string') throw new RangeError('approval id must be a string');
  if (state !== 'approved' && state !== 'denied') throw new RangeError(`an approval can only be decided as approved or denied, got ${String(state)}`);
  if (!isNonEmpty(by)) throw new RangeError('deciding an approval needs who decided it');
  if (!isNullableString(reason)) throw new RangeError('a decision reason must be null or a string');
  checkIso(at, 'at');
}

/** Checks a sealed call given to `create`: null, or non-empty text. */
export function checkSealedCall(sealed: unknown): asserts sealed is string | null {
  if (sealed !== null && (typeof sealed !== 'string' || sealed === '')) throw new RangeError('a sealed call must be null or non-empty text');
}

/** Checks the arguments of `consume` and `pendingFor`: a digest and a canonical time. */
export function checkDigestAt(digest: string, at: string): void {
  checkDigest(digest);
  checkIso(at, 'at');
}

/** Checks a list filter; returns the state (or undefined) and the limit. */
export function approvalListFilter(filter: { state?: ApprovalState; limit?: number }): { state: ApprovalState | undefined; limit: number } {
  if (filter.state !== undefined) checkApprovalState(filter.state, 'filter state');
  const limit = filter.limit ?? DEFAULT_APPROVAL_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_APPROVAL_LIMIT) {
    throw new RangeError(`approval list limit must be a whole number from 1 to ${MAX_APPROVAL_LIMIT}`);
  }
  return { state: filter.state, limit };
}

/**
 * The statements both backends share; `p(i)` names the i-th (1-based) parameter. Ids are UUIDv7, so id order
 * is creation order: lists and pendingFor read newest first, consume takes the oldest.
 */
export function approvalSql(p: (i: number) => string): {
  get: string;
  listAll: string;
  listByState: string;
  decide: string;
  consume: (lock: string) => string;
  pendingFor: string;
  sealedCall: string;
  forgetCalls: string;
} {
  const cols = APPROVAL_COLUMNS.join(', ');
  return {
    get: `SELECT ${cols} FROM warden_approvals WHERE id = ${p(1)}`,
    listAll: `SELECT ${cols} FROM warden_approvals ORDER BY id DESC LIMIT ${p(1)}`,
    listByState: `SELECT ${cols} FROM warden_approvals WHERE state = ${p(1)} ORDER BY id DESC LIMIT ${p(2)}`,
    // Compare-and-set: only a pending, unexpired request changes, so of two deciders exactly one wins. The
    // sealed call goes in the same statement: once decided, nothing shows it again.
    decide:
      `UPDATE warden_approvals SET state = ${p(1)}, decided_by = ${p(2)}, decided_at = ${p(3)}, decision_reason = ${p(4)}, sealed_call = NULL ` +
      `WHERE id = ${p(5)} AND state = 'pending' AND expires_at > ${p(3)} RETURNING ${cols}`,
    // One statement: pick the oldest approved, unexpired record with the digest and consume it only if it is
    // still approved. `lock` is the subquery's row-locking clause (PostgreSQL), empty on SQLite.
    consume: (lock) =>
      `UPDATE warden_approvals SET state = 'consumed', consumed_at = ${p(2)} ` +
      `WHERE id = (SELECT id FROM warden_approvals WHERE digest = ${p(1)} AND state = 'approved' AND expires_at > ${p(2)} ` +
      `ORDER BY id LIMIT 1${lock}) AND state = 'approved' RETURNING ${cols}`,
    pendingFor:
      `SELECT ${cols} FROM warden_approvals WHERE digest = ${p(1)} AND state = 'pending' AND expires_at > ${p(2)} ` +
      `ORDER BY id DESC LIMIT 1`,
    sealedCall: `SELECT sealed_call FROM warden_approvals WHERE id = ${p(1)} AND state = 'pending' AND expires_at > ${p(2)} AND sealed_call IS NOT NULL`,
    forgetCalls: `UPDATE warden_approvals SET sealed_call = NULL WHERE sealed_call IS NOT NULL AND (expires_at <= ${p(1)} OR state <> 'pending')`,
  };
}
