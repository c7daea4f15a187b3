/**
 * A PostgreSQL schema of a test's own: a random name under `warden_test_`, store URLs that point into it,
 * and a drop for the test's `after` (a schema left behind would be read by no one, but it fills the database).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export interface TestSchema {
  readonly name: string;
  /** The store URL of this schema on `baseUrl`, with any other query parameters given. */
  url(params?: Record<string, string>): string;
  /** Drops the schema and everything in it; a database that cannot be reached is not an error here. */
  drop(): Promise<void>;
}

export function testSchema(baseUrl: string, label: string): TestSchema {
  const name = `warden_test_${randomBytes(6).toString('hex')}_${label}`;
  return {
    name,
    url(params = {}) {
      const u = new URL(baseUrl);
      u.searchParams.set('schema', name);
      for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
      return u.href;
    },
    async drop() {
      const admin = new pg.Client({ connectionString: baseUrl });
      try {
        await admin.connect();
        await admin.query(`DROP SCHEMA IF EXISTS "${name}" CASCADE`);
      } catch {
        // Best effort: the test's own assertions already ran.
      } finally {
        await admin.end().catch(() => {});
      }
    },
  };
}
