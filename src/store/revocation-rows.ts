/**
 * Row mappings and checks for revocations, shared by both backends. Times are canonical ISO text (see
 * identity-rows.ts). A record no revoking code would write (an unknown kind, an empty value, a malformed
 * time) is a caller bug and rejects with a RangeError before reaching the database.
 */
import { checkIso } from './identity-rows.js';
import type { NewRevocation, RevocationFilter, RevocationKind, RevocationRecord } from './types.js';

/** The NOTIFY channel a new revocation is announced on (PostgreSQL); the payload is its id. */
export const REVOCATION_CHANNEL = 'warden_revocations';

export const REVOCATION_KINDS: readonly RevocationKind[] = ['task', 'agent', 'user', 'token'];

/** Every column but seq, in insert order. `by` is a keyword in SQL, hence revoked_by. */
export const REVOCATION_INSERT_COLUMNS = ['id', 'kind', 'value', 'revoked_at', 'revoked_by', 'reason', 'expires_at'] as const;
export const REVOCATION_COLUMNS = ['seq', ...REVOCATION_INSERT_COLUMNS] as const;
export const REVOCATION_COLS = REVOCATION_COLUMNS.join(', ');

type InsertRow = Record<(typeof REVOCATION_INSERT_COLUMNS)[number], string | null>;
/** seq is a number on SQLite and a bigint (read as text) on PostgreSQL. */
export type RevocationRow = InsertRow & { seq: number | string };

export const DEFAULT_REVOCATION_LIMIT = 100;
export const MAX_REVOCATION_LIMIT = 10_000;
/** Longest value accepted: ids, subjects and SPIFFE IDs are far shorter. */
const MAX_VALUE = 2048;

const isNonEmpty = (v: unknown): v is string => typeof v === 'string' && v !== '';

export function checkKind(kind: unknown, field = 'kind'): asserts kind is RevocationKind {
  if (!REVOCATION_KINDS.includes(kind as RevocationKind)) {
    throw new RangeError(`revocation ${field} must be one of ${REVOCATION_KINDS.join(', ')}, got ${String(kind)}`);
  }
}

export function revocationToRow(r: NewRevocation): InsertRow {
  if (!isNonEmpty(r.id)) throw new RangeError('a revocation needs an id');
  checkKind(r.kind);
  if (!isNonEmpty(r.value) || r.value.length > MAX_VALUE) throw new RangeError(`a revocation needs a value of 1 to ${MAX_VALUE} characters`);
  checkIso(r.revokedAt, 'revokedAt');
  if (!isNonEmpty(r.by)) throw new RangeError('a revocation needs who revoked it');
  if (r.reason !== null && typeof r.reason !== 'string') throw new RangeError('revocation reason must be null or a string');
  if (r.expiresAt !== null) checkIso(r.expiresAt, 'expiresAt');
  return { id: r.id, kind: r.kind, value: r.value, revoked_at: r.revokedAt, revoked_by: r.by, reason: r.reason, expires_at: r.expiresAt };
}

export function revocationFromRow(r: RevocationRow): RevocationRecord {
  return {
    id: r.id as string,
    kind: r.kind as RevocationKind,
    value: r.value as string,
    revokedAt: r.revoked_at as string,
    by: r.revoked_by as string,
    reason: r.reason,
    expiresAt: r.expires_at,
    seq: Number(r.seq),
  };
}

/** Checks `since`'s arguments: a whole seq >= 0 and a page size within bounds. */
export function checkSince(afterSeq: number, limit: number): void {
  if (!Number.isSafeInteger(afterSeq) || afterSeq < 0) throw new RangeError('revocations since: afterSeq must be a whole number >= 0');
  checkLimit(limit);
}

export function checkLimit(limit: number): void {
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_REVOCATION_LIMIT) {
    throw new RangeError(`revocation list limit must be a whole number from 1 to ${MAX_REVOCATION_LIMIT}`);
  }
}

/** The WHERE clause of a `list` call (checked), its parameter values in order, and its shape (for statement names). */
export function listWhere(filter: RevocationFilter, param: (i: number) => string): { where: string; values: unknown[]; shape: string } {
  const conds: string[] = [];
  const values: unknown[] = [];
  let shape = '';
  if (filter.kind !== undefined) {
    checkKind(filter.kind, 'filter kind');
    values.push(filter.kind);
    conds.push(`kind = ${param(values.length)}`);
    shape += 'k';
  }
  if (filter.inForceAt !== undefined) {
    checkIso(filter.inForceAt, 'inForceAt');
    values.push(filter.inForceAt);
    conds.push(`(expires_at IS NULL OR expires_at > ${param(values.length)})`);
    shape += 'f';
  }
  const limit = filter.limit ?? DEFAULT_REVOCATION_LIMIT;
  checkLimit(limit);
  values.push(limit);
  const where = conds.length > 0 ? conds.join(' AND ') : '1 = 1';
  return { where: `${where} ORDER BY seq DESC LIMIT ${param(values.length)}`, values, shape: shape || 'all' };
}

export const revocationListSql = (where: string): string => `SELECT ${REVOCATION_COLS} FROM warden_revocations WHERE ${where}`;

/**
 * The copy of a lifted record: the same revocation, expiring at the moment it was made (expiresAt equal to
 * revokedAt), which marks it lifted whatever a reader's clock says. The store gives it a new seq.
 */
export function liftedRow(r: RevocationRow): InsertRow {
  const { seq: _seq, ...row } = r;
  return { ...row, expires_at: row.revoked_at };
}

/**
 * Migration 8, for both backends (`collate` is ' COLLATE "C"' on PostgreSQL, '' on SQLite; `seq` is the
 * backend's never-reused, increasing key). The (kind, value) unique index makes `add` idempotent; the
 * expires_at index serves `prune`.
 */
export function revocationsMigrationSql(seq: string, collate: string): string {
  return `
    CREATE TABLE warden_revocations (
      seq        ${seq},
      id         text${collate} NOT NULL UNIQUE,
      kind       text NOT NULL CHECK (kind IN ('task', 'agent', 'user', 'token')),
      value      text NOT NULL,
      revoked_at text${collate} NOT NULL,
      revoked_by text NOT NULL,
      reason     text,
      expires_at text${collate}
    );
    CREATE UNIQUE INDEX warden_revocations_subject ON warden_revocations (kind, value);
    CREATE INDEX warden_revocations_expires ON warden_revocations (expires_at);
  `;
}
