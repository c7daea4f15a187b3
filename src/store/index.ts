/**
 * The store entry point: `openStore(spec)` picks the backend from the spec, opens it and runs its migrations.
 *
 *   await openStore('.warden/warden.db')                          // SQLite file (parent directory created)
 *   await openStore('sqlite::memory:')                             // SQLite in memory
 *   await openStore('postgres://warden:pw@db/warden?schema=gw')   // PostgreSQL, tables in schema "gw"
 */
import { StoreError } from './errors.js';
import { openPostgresStore } from './postgres/store.js';
import { openSqliteStore, type SqliteStoreOptions } from './sqlite/store.js';
import type { Store } from './types.js';

export type {
  ApprovalRecord,
  LeaseRecord,
  LeaseStore,
  SessionRecord,
  SessionSignal,
  SessionSignalFeed,
  SessionSignalKind,
  SessionStore,
  ApprovalState,
  ApprovalStore,
  AuditChainHead,
  AuditCheckpoint,
  AuditKeyRecord,
  AuditQuery,
  AuditStore,
  IssuedTokenRecord,
  IntegrityStore,
  PinFilter,
  PinKind,
  PinRecord,
  PinState,
  KeyStore,
  ReplayStore,
  NewRevocation,
  RevocationFeed,
  RevocationFilter,
  RevocationKind,
  RevocationRecord,
  RevocationStore,
  SigningKeyRecord,
  Store,
  TaskFilter,
  TaskRecord,
  TaskState,
  TaskStore,
  TokenStore,
  TraceQuery,
} from './types.js';
export { StoreError, type StoreErrorCode } from './errors.js';

export interface OpenStoreOptions {
  /** SQLite only: create the file's parent directory if missing (default true). */
  createDir?: boolean;
  /** PostgreSQL only: the deadline of every store operation, in ms (see PostgresStoreOptions.timeoutMs). */
  timeoutMs?: number;
  /** SQLite only: checkpoint the log from a worker thread (see SqliteStoreOptions.backgroundCheckpoints). */
  backgroundCheckpoints?: SqliteStoreOptions['backgroundCheckpoints'];
}

export type StoreSpec = { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string };

/** Classifies a store spec without opening anything. Throws StoreError('store_invalid_spec'). */
export function parseStoreSpec(spec: string): StoreSpec {
  const s = spec.trim();
  if (/^postgres(ql)?:\/\//i.test(s)) return { kind: 'postgres', url: s };
  let path = s;
  if (/^sqlite:/i.test(path)) path = path.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
  // Anything else that looks like a URL (mysql://, https://) is a mistake, not a file name.
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(path)) {
    throw new StoreError('store_invalid_spec', 'unsupported store URL: use a file path, sqlite:<path>, or postgres://');
  }
  if (path === '') throw new StoreError('store_invalid_spec', 'empty store location');
  return { kind: 'sqlite', path };
}

/** Opens the store named by `spec` and migrates it to the latest schema. Rejects with a StoreError. */
export async function openStore(spec: string, opts: OpenStoreOptions = {}): Promise<Store> {
  const parsed = parseStoreSpec(spec);
  return parsed.kind === 'postgres'
    ? openPostgresStore(parsed.url, opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs })
    : openSqliteStore(parsed.path, { createDir: opts.createDir ?? true, ...(opts.backgroundCheckpoints ? { backgroundCheckpoints: opts.backgroundCheckpoints } : {}) });
}
