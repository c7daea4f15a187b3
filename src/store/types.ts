/** Store interfaces. Two backends (SQLite, PostgreSQL) implement them and pass one shared test suite. */
import type { AuditEvent } from '../audit/event.js';

export interface AuditQuery {
  /** At most this many events, newest last. */
  limit: number;
  /** Only events with an id greater than this one (ids are time-sortable). */
  afterId?: string;
}

export interface AuditStore {
  /** Appends events durably, in order, in one transaction. Rejects if they could not be stored. */
  append(events: readonly AuditEvent[]): Promise<void>;
  /** The newest `limit` events (after `afterId` when given), oldest first. */
  tail(query: AuditQuery): Promise<AuditEvent[]>;
  count(): Promise<number>;
}

export interface Store {
  readonly kind: 'sqlite' | 'postgres';
  /** Where it lives, safe to print (a PostgreSQL URL has its password removed). */
  readonly location: string;
  readonly audit: AuditStore;
  /** The schema version after migrations. */
  schemaVersion(): Promise<number>;
  close(): Promise<void>;
}
