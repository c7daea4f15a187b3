/** A digest of call arguments for the audit record: sha256 over canonical JSON (sorted keys), never the values. */
import { createHash } from 'node:crypto';
import { JsonRpcCode, WardenError } from '../protocol/errors.js';

/** Deeper arguments are refused as invalid params rather than overflowing the stack (an internal error). */
export const MAX_ARGS_DEPTH = 1000;

export function canonicalJson(value: unknown, depth = 0): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (depth >= MAX_ARGS_DEPTH) throw new WardenError('invalid_params', `Arguments are nested deeper than ${MAX_ARGS_DEPTH} levels`, JsonRpcCode.InvalidParams);
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v, depth + 1)).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k], depth + 1)}`).join(',')}}`;
}

export function argsDigest(args: unknown): string | null {
  if (args === undefined) return null;
  return 'sha256:' + createHash('sha256').update(canonicalJson(args)).digest('hex');
}
