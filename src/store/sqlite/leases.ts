/** Leases on SQLite: one statement per write; revoke is guarded by state = 'active'. */
import { LEASE_COLUMNS, leaseFromRow, leasesMigrationSql, leaseToRow, type LeaseRow } from '../lease-rows.js';
import type { LeaseRecord, LeaseStore } from '../types.js';
import { SqliteStatements } from './statements.js';

const COLS = LEASE_COLUMNS.join(', ');
const INSERT = `INSERT INTO warden_leases (${COLS}) VALUES (${LEASE_COLUMNS.map((c) => '@' + c).join(', ')})`;
const ACTIVE = `SELECT ${COLS} FROM warden_leases WHERE state = 'active' ORDER BY id`;
const ACTIVE_TASK = `SELECT ${COLS} FROM warden_leases WHERE state = 'active' AND task = ? ORDER BY id`;
const REVOKE = `UPDATE warden_leases SET state = 'revoked', revoked_at = ? WHERE id = ? AND state = 'active'`;

export class SqliteLeaseStore extends SqliteStatements implements LeaseStore {
  async create(r: LeaseRecord): Promise<void> {
    const row = leaseToRow(r);
    this.guard('lease create', () => this.stmt(INSERT).run(row));
  }

  async active(task?: string): Promise<LeaseRecord[]> {
    return this.guard('lease list', () => (task === undefined ? this.stmt(ACTIVE).all() : this.stmt(ACTIVE_TASK).all(task)) as LeaseRow[]).map(leaseFromRow);
  }

  async revoke(id: string, at: string): Promise<boolean> {
    return this.guard('lease revoke', () => this.stmt(REVOKE).run(at, id).changes === 1);
  }
}

export const leasesMigration = { version: 9, name: 'leases', sql: leasesMigrationSql('') };
