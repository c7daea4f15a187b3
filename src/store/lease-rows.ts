/** Row mapping for leases, shared by both backends; a malformed record is a caller bug (RangeError). */
import { checkIso } from './identity-rows.js';
import type { LeaseRecord } from './types.js';

export const LEASE_COLUMNS = ['id', 'task', 'name', 'provider', 'handle', 'created_at', 'expires_at', 'state', 'revoked_at'] as const;
export type LeaseRow = Record<(typeof LEASE_COLUMNS)[number], string | null>;

const nonEmpty = (v: unknown, what: string): string => {
  if (typeof v !== 'string' || v === '') throw new RangeError(`a lease needs ${what}`);
  return v;
};

export function leaseToRow(r: LeaseRecord): LeaseRow {
  checkIso(r.createdAt, 'createdAt');
  checkIso(r.expiresAt, 'expiresAt');
  if (r.state !== 'active' || r.revokedAt !== null) throw new RangeError('a new lease is active and not revoked');
  return {
    id: nonEmpty(r.id, 'an id'),
    task: nonEmpty(r.task, 'a task'),
    name: nonEmpty(r.name, 'a name'),
    provider: nonEmpty(r.provider, 'a provider'),
    handle: nonEmpty(r.handle, 'a handle'),
    created_at: r.createdAt,
    expires_at: r.expiresAt,
    state: 'active',
    revoked_at: null,
  };
}

export function leaseFromRow(row: LeaseRow): LeaseRecord {
  return {
    id: row.id as string,
    task: row.task as string,
    name: row.name as string,
    provider: row.provider as string,
    handle: row.handle as string,
    createdAt: row.created_at as string,
    expiresAt: row.expires_at as string,
    state: row.state === 'revoked' ? 'revoked' : 'active',
    revokedAt: row.revoked_at,
  };
}

/** Migration 9 on both backends (PostgreSQL adds COLLATE "C" to the sortable columns). */
export function leasesMigrationSql(collate: string): string {
  return `
    CREATE TABLE warden_leases (
      id          TEXT${collate} PRIMARY KEY,
      task        TEXT NOT NULL,
      name        TEXT NOT NULL,
      provider    TEXT NOT NULL,
      handle      TEXT NOT NULL,
      created_at  TEXT${collate} NOT NULL,
      expires_at  TEXT${collate} NOT NULL,
      state       TEXT NOT NULL CHECK (state IN ('active', 'revoked')),
      revoked_at  TEXT${collate}
    );
    CREATE INDEX warden_leases_state ON warden_leases (state, task, id);
  `;
}
