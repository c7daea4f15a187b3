/**
 * PostgreSQL dynamic roles, as Vault's database engine issues them: a role per task with a random
 * password, `VALID UNTIL` the task's expiry and the configured grants. `VALID UNTIL` only stops new logins
 * and `DROP ROLE` leaves open sessions connected, so revoking sets NOLOGIN, terminates the role's
 * backends, then drops what it owns and the role itself.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** Role names are generated, never taken from input: `warden_` + hex. */
export const ROLE_NAME = /^warden_[0-9a-f]{8,40}$/;

const quoteIdent = (name: string): string => {
  if (!ROLE_NAME.test(name)) throw new RangeError('not a generated role name');
  return `"${name}"`;
};

async function withAdmin<T>(adminUrl: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 10_000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

export interface RoleGrant {
  role: string;
  password: string;
  /** The connection string the upstream gets: the admin URL's host, port and database with the role's login. */
  url: string;
}

/**
 * Creates the role and applies `grants` (operator-written SQL fragments such as
 * `SELECT ON ALL TABLES IN SCHEMA public`, each run as `GRANT <fragment> TO <role>`) in one transaction.
 */
export async function createRole(adminUrl: string, role: string, validUntil: Date, grants: readonly string[]): Promise<RoleGrant> {
  const password = randomBytes(24).toString('base64url');
  const ident = quoteIdent(role);
  await withAdmin(adminUrl, async (c) => {
    const db = (await c.query<{ db: string }>('SELECT current_database() AS db')).rows[0]?.db ?? '';
    await c.query('BEGIN');
    try {
      // Identifiers are generated; the password and the time are literals PostgreSQL quotes for us.
      const pw = (await c.query<{ q: string }>('SELECT quote_literal($1) AS q', [password])).rows[0]?.q;
      const until = (await c.query<{ q: string }>('SELECT quote_literal($1) AS q', [validUntil.toISOString()])).rows[0]?.q;
      await c.query(`CREATE ROLE ${ident} LOGIN PASSWORD ${pw} VALID UNTIL ${until}`);
      await c.query(`GRANT CONNECT ON DATABASE "${db.replace(/"/g, '""')}" TO ${ident}`);
      for (const g of grants) await c.query(`GRANT ${g} TO ${ident}`);
      await c.query('COMMIT');
    } catch (err) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  });
  const u = new URL(adminUrl);
  u.username = role;
  u.password = password;
  return { role, password, url: u.toString() };
}

/** Revokes a role for good: no new logins, its sessions ended, its objects and privileges dropped, the role gone. Idempotent. */
export async function dropRole(adminUrl: string, role: string): Promise<void> {
  const ident = quoteIdent(role);
  await withAdmin(adminUrl, async (c) => {
    const exists = (await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role])).rowCount ?? 0;
    if (exists === 0) return;
    await c.query(`ALTER ROLE ${ident} NOLOGIN`);
    await c.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1', [role]);
    await c.query(`DROP OWNED BY ${ident}`);
    await c.query(`DROP ROLE ${ident}`);
  });
}
