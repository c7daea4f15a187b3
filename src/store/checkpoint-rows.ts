/** Row mappings for audit checkpoints and checkpoint keys, shared by both backends. */
import { checkIso } from './identity-rows.js';
import type { AuditCheckpoint, AuditKeyRecord } from './types.js';

export const CHECKPOINT_COLUMNS = ['seq', 'hash', 'created_at', 'instance', 'kid', 'public_jwk', 'signature'] as const;
export type CheckpointRow = Record<(typeof CHECKPOINT_COLUMNS)[number], string | number>;

export function checkpointToRow(c: AuditCheckpoint): CheckpointRow {
  if (!Number.isSafeInteger(c.seq) || c.seq < 1) throw new RangeError(`checkpoint seq must be a positive integer, got ${String(c.seq)}`);
  checkIso(c.createdAt, 'createdAt');
  return {
    seq: c.seq,
    hash: c.hash,
    created_at: c.createdAt,
    instance: c.instance,
    kid: c.kid,
    public_jwk: JSON.stringify(c.publicJwk),
    signature: c.signature,
  };
}

export function checkpointFromRow(r: CheckpointRow): AuditCheckpoint {
  return {
    seq: Number(r.seq),
    hash: String(r.hash),
    createdAt: String(r.created_at),
    instance: String(r.instance),
    kid: String(r.kid),
    publicJwk: parseJwk(r.public_jwk),
    signature: String(r.signature),
  };
}

export const AUDIT_KEY_COLUMNS = ['kid', 'alg', 'public_jwk', 'first_used_at'] as const;
export type AuditKeyRow = Record<(typeof AUDIT_KEY_COLUMNS)[number], string>;

export function auditKeyToRow(k: AuditKeyRecord): AuditKeyRow {
  checkIso(k.firstUsedAt, 'firstUsedAt');
  return { kid: k.kid, alg: k.alg, public_jwk: JSON.stringify(k.publicJwk), first_used_at: k.firstUsedAt };
}

export function auditKeyFromRow(r: AuditKeyRow): AuditKeyRecord {
  return { kid: r.kid, alg: r.alg, publicJwk: parseJwk(r.public_jwk), firstUsedAt: r.first_used_at };
}

/** A JWK column that does not hold a JSON object reads as {} (which no signature verifies under), not as a crash. */
function parseJwk(text: unknown): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(String(text));
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** A non-negative integer position for chain and checkpoint reads (a caller bug otherwise). */
export function checkSeqQuery(afterSeq: number, limit: number): void {
  if (!Number.isSafeInteger(afterSeq) || afterSeq < 0) throw new RangeError(`afterSeq must be a non-negative integer, got ${String(afterSeq)}`);
  if (!Number.isSafeInteger(limit) || limit < 0) throw new RangeError(`limit must be a non-negative integer, got ${String(limit)}`);
}
