/**
 * A redacted copy of call arguments for the audit record, for operators who set `audit.arguments: redacted`.
 * Values under names that suggest a credential are replaced, long strings are cut, depth and size are
 * bounded, so the record shows the shape of a call without becoming a second copy of its secrets.
 */
const SECRET_NAME = /pass(word|phrase)?|secret|token|api[-_]?key|private[-_]?key|authori[sz]ation|cookie|credential|session[-_]?id|^key$/i;
/** Strings that look like bearer tokens or keys even under an innocent name. */
const SECRET_VALUE = /^(ey[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.|-----BEGIN [A-Z ]*PRIVATE KEY-----|(sk|pk|rk)_(live|test)_|gh[pousr]_[A-Za-z0-9]{20,}|xox[abpr]-|AKIA[0-9A-Z]{16}$)/;
const MAX_STRING = 256;
const MAX_DEPTH = 8;
const MAX_KEYS = 64;
const MAX_JSON = 4096;

export const REDACTED = '[redacted]';

function walk(value: unknown, depth: number): unknown {
  if (typeof value === 'string') {
    if (SECRET_VALUE.test(value)) return REDACTED;
    return value.length > MAX_STRING ? `${value.slice(0, MAX_STRING)}…[${value.length - MAX_STRING} more]` : value;
  }
  if (value === null || typeof value !== 'object') return value;
  if (depth >= MAX_DEPTH) return '[nested too deep]';
  if (Array.isArray(value)) {
    const out = value.slice(0, MAX_KEYS).map((v) => walk(v, depth + 1));
    if (value.length > MAX_KEYS) out.push(`[${value.length - MAX_KEYS} more items]`);
    return out;
  }
  const out: Record<string, unknown> = {};
  const keys = Object.keys(value);
  for (const k of keys.slice(0, MAX_KEYS)) out[k] = SECRET_NAME.test(k) ? REDACTED : walk((value as Record<string, unknown>)[k], depth + 1);
  if (keys.length > MAX_KEYS) out['…'] = `[${keys.length - MAX_KEYS} more keys]`;
  return out;
}

/** The redacted arguments as JSON text, at most about 4 KiB. */
export function redactArguments(args: unknown): string {
  const json = JSON.stringify(walk(args, 0)) ?? 'null';
  return json.length > MAX_JSON ? JSON.stringify({ truncated: true, prefix: json.slice(0, MAX_JSON - 64) }) : json;
}
