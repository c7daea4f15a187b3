/**
 * Tool integrity pins on PostgreSQL, shared by every replica. A decision is one UPDATE (approving supersedes
 * the old pin in the same statement); first use pins only while the name has no pin.
 */
import { PIN_COLUMNS, PIN_VERSION_SQL, pinDecideSql, pinFromRow, pinListSql, pinsMigrationSql, pinToRow, type PinRow } from '../pin-rows.js';
import type { IntegrityStore, PinFilter, PinKind, PinRecord } from '../types.js';
import type { InTransaction, Run } from './audit.js';

const p = (i: number): string => `$${i}`;
const COLS = PIN_COLUMNS.join(', ');
const VALUES = PIN_COLUMNS.map((_, i) => p(i + 1)).join(', ');
const INSERT = { name: 'warden_pins_insert_v19', text: `INSERT INTO warden_tool_pins (${COLS}) VALUES (${VALUES}) ON CONFLICT DO NOTHING RETURNING digest` };
const INSERT_FIRST = {
  name: 'warden_pins_insert_first_v19',
  text: `INSERT INTO warden_tool_pins (${COLS}) SELECT ${PIN_COLUMNS.map((_, i) => `${p(i + 1)}::text`).join(', ')}
    WHERE NOT EXISTS (SELECT 1 FROM warden_tool_pins WHERE upstream = $1 AND kind = $2 AND name = $3 AND state = 'approved') ON CONFLICT DO NOTHING RETURNING digest`,
};
const GET = { name: 'warden_pins_get_v19', text: `SELECT ${COLS} FROM warden_tool_pins WHERE upstream = $1 AND kind = $2 AND name = $3 AND digest = $4` };
const DECIDE = {
  approved: { name: 'warden_pins_approve_v19', text: pinDecideSql('approved', p) },
  rejected: { name: 'warden_pins_reject_v19', text: pinDecideSql('rejected', p) },
};

// Writes to one name are serialised by a transaction-scoped advisory lock on it: under READ COMMITTED, two
// replicas' first uses would otherwise both see no pin and both insert one.
const LOCK_NAME = 'SELECT pg_advisory_xact_lock(hashtextextended($1, 19))';

export class PostgresPinStore implements IntegrityStore {
  constructor(
    private readonly run: Run,
    private readonly transaction: InTransaction,
  ) {}

  async list(filter: PinFilter = {}): Promise<PinRecord[]> {
    const l = pinListSql(filter, p);
    return (await this.run<PinRow>('pin list', { name: `warden_pins_list_${l.mask}_v19`, text: l.text }, l.values)).map(pinFromRow);
  }

  async observe(r: PinRecord): Promise<{ record: PinRecord; created: boolean }> {
    const row = pinToRow(r);
    const values = (x: PinRow) => PIN_COLUMNS.map((c) => x[c]);
    return this.transaction('pin observe', '', async (client) => {
      await client.query(LOCK_NAME, [JSON.stringify([r.upstream, r.kind, r.name])]);
      let created = (await client.query(r.state === 'approved' ? INSERT_FIRST : INSERT, values(row))).rows.length === 1;
      if (!created && r.state === 'approved') created = (await client.query(INSERT, values({ ...row, state: 'pending', decided_at: null, decided_by: null }))).rows.length === 1;
      const stored = await client.query<PinRow>(GET, [r.upstream, r.kind, r.name, r.digest]);
      return { record: pinFromRow(stored.rows[0]!), created };
    });
  }

  async version(): Promise<string> {
    return String((await this.run<{ v: string }>('pin version', { name: 'warden_pins_version_v19', text: PIN_VERSION_SQL }, []))[0]!.v);
  }

  async decide(upstream: string, kind: PinKind, name: string, digest: string, state: 'approved' | 'rejected', by: string, at: string): Promise<PinRecord | undefined> {
    return this.transaction('pin decide', '', async (client) => {
      await client.query(LOCK_NAME, [JSON.stringify([upstream, kind, name])]);
      const rows = await client.query<PinRow>(DECIDE[state], [upstream, kind, name, digest, at, by]);
      return rows.rows.map(pinFromRow).find((x) => x.digest === digest);
    });
  }
}

export const pinsMigration = { version: 19, name: 'tool integrity pins', sql: pinsMigrationSql(' COLLATE "C"') };
