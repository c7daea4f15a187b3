/**
 * Row mappings for signing keys and issued tokens, shared by both backends, plus the time format rule.
 *
 * Times are stored as the text given and compared as text (COLLATE "C" in PostgreSQL), which is
 * chronological only if every value has one fixed format. So every time these stores compare must be
 * the canonical UTC form `Date#toISOString()` produces (`2026-01-02T03:04:05.678Z`); anything else is a
 * caller bug and rejects with a RangeError before reaching the database.
 */
import type { IssuedTokenRecord, SigningKeyRecord } from './types.js';

const CANONICAL_ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** Throws a RangeError unless `value` is exactly what toISOString() would produce for it. */
export function checkIso(value: string, field: string): void {
  const t = typeof value === 'string' && CANONICAL_ISO.test(value) ? Date.parse(value) : NaN;
  if (Number.isNaN(t) || new Date(t).toISOString() !== value) {
    throw new RangeError(`${field} must be an ISO-8601 UTC time as produced by toISOString(), got ${String(value)}`);
  }
}

/** The current time in the same canonical form, for comparisons the interface does not pass a `now` to. */
export function nowIso(): string {
  return new Date().toISOString();
}

/** Reads a JSON array column; NULL (a row from before the column existed) reads as []. */
export function parseJsonArray(value: unknown): string[] {
  if (value === null || value === undefined) return [];
  const parsed: unknown = JSON.parse(String(value));
  if (!Array.isArray(parsed)) throw new TypeError('stored JSON array column does not hold an array');
  return parsed.map(String);
}

export const KEY_COLUMNS = ['kid', 'alg', 'public_jwk', 'private_jwk', 'created_at', 'retire_at', 'expire_at'] as const;
export type KeyRow = Record<(typeof KEY_COLUMNS)[number], string>;

export function keyToRow(k: SigningKeyRecord): KeyRow {
  checkIso(k.createdAt, 'createdAt');
  checkIso(k.retireAt, 'retireAt');
  checkIso(k.expireAt, 'expireAt');
  return {
    kid: k.kid,
    alg: k.alg,
    public_jwk: JSON.stringify(k.publicJwk),
    private_jwk: k.privateKey,
    created_at: k.createdAt,
    retire_at: k.retireAt,
    expire_at: k.expireAt,
  };
}

export function keyFromRow(r: KeyRow): SigningKeyRecord {
  return {
    kid: r.kid,
    alg: r.alg,
    publicJwk: JSON.parse(r.public_jwk) as Record<string, unknown>,
    privateKey: r.private_jwk,
    createdAt: r.created_at,
    retireAt: r.retire_at,
    expireAt: r.expire_at,
  };
}

export const TOKEN_COLUMNS = [
  'jti',
  'user_subject',
  'agent',
  'tenant',
  'chain',
  'scopes',
  'task',
  'parent_jti',
  'issued_at',
  'expires_at',
  'agent_issuer',
  'ancestors',
] as const;
export type TokenRow = Record<(typeof TOKEN_COLUMNS)[number], string | null>;

export function tokenToRow(t: IssuedTokenRecord): TokenRow {
  checkIso(t.issuedAt, 'issuedAt');
  checkIso(t.expiresAt, 'expiresAt');
  return {
    jti: t.jti,
    user_subject: t.user,
    agent: t.agent,
    tenant: t.tenant,
    chain: JSON.stringify(t.chain),
    scopes: JSON.stringify(t.scopes),
    task: t.task,
    parent_jti: t.parentJti,
    issued_at: t.issuedAt,
    expires_at: t.expiresAt,
    agent_issuer: t.agentIssuer,
    ancestors: t.ancestors === null ? null : JSON.stringify(t.ancestors),
  };
}

export function tokenFromRow(r: TokenRow): IssuedTokenRecord {
  return {
    jti: r.jti as string,
    user: r.user_subject,
    agent: r.agent as string,
    tenant: r.tenant,
    chain: parseJsonArray(r.chain),
    scopes: parseJsonArray(r.scopes),
    task: r.task,
    parentJti: r.parent_jti,
    issuedAt: r.issued_at as string,
    expiresAt: r.expires_at as string,
    agentIssuer: r.agent_issuer,
    ancestors: r.ancestors === null || r.ancestors === undefined ? null : parseJsonArray(r.ancestors),
  };
}
