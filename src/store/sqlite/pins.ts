/** Tool integrity pins on SQLite: one statement per write (an approval supersedes the old pin in the same statement). */
import { PIN_COLUMNS, PIN_VERSION_SQL, pinDecideSql, pinFromRow, pinListSql, pinsMigrationSql, pinToRow, type PinRow } from '../pin-rows.js';
import type { IntegrityStore, PinFilter, PinKind, PinRecord } from '../types.js';
import { SqliteStatements } from './statements.js';

const COLS = PIN_COLUMNS.join(', ');
const VALUES = PIN_COLUMNS.map((c) => '@' + c).join(', ');
const INSERT = `INSERT INTO warden_tool_pins (${COLS}) VALUES (${VALUES}) ON CONFLICT DO NOTHING`;
// Trust on first use pins a definition only while the name has no pin: a race between replicas leaves one.
const INSERT_FIRST = `INSERT INTO warden_tool_pins (${COLS}) SELECT ${VALUES} WHERE NOT EXISTS (SELECT 1 FROM warden_tool_pins WHERE upstream = @upstream AND kind = @kind AND name = @name AND state = 'approved') ON CONFLICT DO NOTHING`;
const GET = `SELECT ${COLS} FROM warden_tool_pins WHERE upstream = ? AND kind = ? AND name = ? AND digest = ?`;
const q = (): string => '?';

export class SqlitePinStore extends SqliteStatements implements IntegrityStore {
  async list(filter: PinFilter = {}): Promise<PinRecord[]> {
    const l = pinListSql(filter, q);
    return this.guard('pin list', () => (this.stmt(l.text).all(...l.values) as PinRow[]).map(pinFromRow));
  }

  async observe(r: PinRecord): Promise<{ record: PinRecord; created: boolean }> {
    const row = pinToRow(r);
    return this.guard('pin observe', () =>
      this.transaction(() => {
        let created = this.stmt(r.state === 'approved' ? INSERT_FIRST : INSERT).run(row).changes === 1;
        if (!created && r.state === 'approved') created = this.stmt(INSERT).run({ ...row, state: 'pending', decided_at: null, decided_by: null }).changes === 1;
        const stored = this.stmt(GET).get(r.upstream, r.kind, r.name, r.digest) as PinRow;
        return { record: pinFromRow(stored), created };
      }),
    );
  }

  async version(): Promise<string> {
    return this.guard('pin version', () => String((this.stmt(PIN_VERSION_SQL).get() as { v: string }).v));
  }

  async decide(upstream: string, kind: PinKind, name: string, digest: string, state: 'approved' | 'rejected', by: string, at: string): Promise<PinRecord | undefined> {
    return this.guard('pin decide', () => {
      // Named parameters: the statement uses some of them twice.
      const rows = (this.stmt(pinDecideSql(state, (i) => `@p${i}`)).all({ p1: upstream, p2: kind, p3: name, p4: digest, p5: at, p6: by }) as PinRow[]).map(pinFromRow);
      return rows.find((p) => p.digest === digest);
    });
  }
}

export const pinsMigration = { version: 19, name: 'tool integrity pins', sql: pinsMigrationSql('') };
