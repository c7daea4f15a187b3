/** Store errors. Messages are safe to log: they never carry a PostgreSQL password (see `scrub`). */
export type StoreErrorCode = 'store_unavailable' | 'store_invalid_spec' | 'store_migration_failed';

export class StoreError extends Error {
  override readonly name = 'StoreError';
  constructor(
    readonly code: StoreErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Wraps any failure as a StoreError. The original error is deliberately not kept as `cause`: driver errors
 * can echo connection strings, and a cause is printed by util.inspect and loggers. Only its scrubbed message
 * (and code, such as ECONNREFUSED or a SQLSTATE) survives.
 */
export function toStoreError(err: unknown, code: StoreErrorCode, context: string, secrets: readonly string[] = []): StoreError {
  if (err instanceof StoreError) return err;
  const detail = err instanceof Error ? err.message : String(err);
  const errCode = (err as { code?: unknown } | null)?.code;
  const suffix = typeof errCode === 'string' && !detail.includes(errCode) ? ` (${errCode})` : '';
  return new StoreError(code, scrub(`${context}: ${detail}${suffix}`, secrets));
}

/** Removes each secret (raw and percent-encoded forms) from text. */
export function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) {
    if (s.length === 0) continue;
    for (const form of new Set([s, encodeURIComponent(s)])) out = out.split(form).join('***');
  }
  return out;
}
