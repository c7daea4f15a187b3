/** A digest of call arguments for the audit record: sha256 over canonical JSON (sorted keys), never the values. */
import * as crypto from 'node:crypto';
import { JsonRpcCode, WardenError } from '../protocol/errors.js';

/** Deeper arguments are refused as invalid params rather than overflowing the stack (an internal error). */
export const MAX_ARGS_DEPTH = 1000;

export function canonicalJson(value: unknown, depth = 0): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (depth >= MAX_ARGS_DEPTH) throw new WardenError('invalid_params', `Arguments are nested deeper than ${MAX_ARGS_DEPTH} levels`, JsonRpcCode.InvalidParams);
  // Loops and one string instead of map/filter/join: this runs for every audit event (its hash) and every
  // call's arguments (their digest); the output is byte for byte what the array form produced.
  if (Array.isArray(value)) {
    let out = '[';
    // A hole (never in parsed JSON) stays empty, as map/join left it.
    for (let i = 0; i < value.length; i++) out += (i === 0 ? '' : ',') + (i in value ? canonicalJson(value[i], depth + 1) : '');
    return out + ']';
  }
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).sort();
  let out = '{';
  for (const k of keys) {
    const v = obj[k];
    if (v === undefined) continue;
    out += (out.length === 1 ? '' : ',') + JSON.stringify(k) + ':' + canonicalJson(v, depth + 1);
  }
  return out + '}';
}

export function argsDigest(args: unknown): string | null {
  if (args === undefined) return null;
  return 'sha256:' + sha256hex(canonicalJson(args));
}

/** One-shot hashing where available (Node >= 20.12): no Hash object per digest. */
export const sha256hex: (text: string) => string =
  typeof crypto.hash === 'function'
    ? (text) => crypto.hash('sha256', text, 'hex')
    : (text) => crypto.createHash('sha256').update(text).digest('hex');
