/** A digest of call arguments for the audit record: sha256 over canonical JSON (sorted keys), never the values. */
import { createHash } from 'node:crypto';

export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
}

export function argsDigest(args: unknown): string | null {
  if (args === undefined) return null;
  return 'sha256:' + createHash('sha256').update(canonicalJson(args)).digest('hex');
}
