/** The AuditEvent <-> row mapping shared by both backends, so their columns cannot drift apart. */
import type { AuditEvent, AuditOutcome } from '../audit/event.js';
import { parseJsonArray } from './identity-rows.js';
import type { AuditQuery } from './types.js';

/** Column names in insert order; one per AuditEvent field. */
export const AUDIT_COLUMNS = [
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

export type AuditColumn = (typeof AUDIT_COLUMNS)[number];
export type AuditRow = Record<AuditColumn, string | number | null>;

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
  };
}

export function fromRow(r: AuditRow): AuditEvent {
  return {
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
}

/** A bad limit is a caller bug, not an unavailable store; SQLite would read a negative LIMIT as "no limit". */
export function checkQuery(q: AuditQuery): void {
  if (!Number.isSafeInteger(q.limit) || q.limit < 0) {
    throw new RangeError(`audit query limit must be a non-negative integer, got ${String(q.limit)}`);
  }
}
