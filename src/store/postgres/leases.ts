/** Leases on PostgreSQL, shared by every replica: revoke is an UPDATE guarded by state = 'active'. */
import { LEASE_COLUMNS, leaseFromRow, leasesMigrationSql, leaseToRow, type LeaseRow } from '../lease-rows.js';
import type { LeaseRecord, LeaseStore } from '../types.js';
import type { Run } from './audit.js';

const COLS = LEASE_COLUMNS.join(', ');
const INSERT = { name: 'warden_leases_insert_v9', text: `INSERT INTO warden_leases (${COLS}) VALUES (${LEASE_COLUMNS.map((_, i) => `$${i + 1}`).join(', ')})` };
const ACTIVE = { name: 'warden_leases_active_v9', text: `SELECT ${COLS} FROM warden_leases WHERE state = 'active' ORDER BY id` };
const ACTIVE_TASK = { name: 'warden_leases_active_task_v9', text: `SELECT ${COLS} FROM warden_leases WHERE state = 'active' AND task = $1 ORDER BY id` };
const REVOKE = { name: 'warden_leases_revoke_v9', text: `UPDATE warden_leases SET state = 'revoked', revoked_at = $1 WHERE id = $2 AND state = 'active' RETURNING id` };

export class PostgresLeaseStore implements LeaseStore {
  constructor(private readonly run: Run) {}

  async create(r: LeaseRecord): Promise<void> {
    const row = leaseToRow(r);
    await this.run('lease create', INSERT, LEASE_COLUMNS.map((c) => row[c]));
  }

  async active(task?: string): Promise<LeaseRecord[]> {
    const rows = task === undefined ? await this.run<LeaseRow>('lease list', ACTIVE, []) : await this.run<LeaseRow>('lease list', ACTIVE_TASK, [task]);
    return rows.map(leaseFromRow);
  }

  async revoke(id: string, at: string): Promise<boolean> {
    return (await this.run('lease revoke', REVOKE, [at, id])).length === 1;
  }
}

export const leasesMigration = { version: 9, name: 'leases', sql: leasesMigrationSql(' COLLATE "C"') };
