/**
 * Defers preparing a statement to its first use. better-sqlite3 checks a statement against the schema when
 * it is prepared, so preparing in a constructor would make opening fail on a database migrated with a
 * shorter list (tests do that on purpose); deferred, the failure surfaces as a StoreError from the call.
 */
export function lazy<T>(make: () => T): () => T {
  let made: { value: T } | undefined;
  return () => (made ??= { value: make() }).value;
}
