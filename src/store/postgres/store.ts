/** The PostgreSQL backend: shared state for several gateway replicas. */
import { createHash } from 'node:crypto';
import pg from 'pg';
import { StoreError, toStoreError, type StoreErrorCode } from '../errors.js';
import { assertOrdered, latestVersion } from '../migration.js';
import type { ApprovalStore, AuditStore, KeyStore, ReplayStore, SecretStore, Store, TaskStore, TokenStore } from '../types.js';
import { PostgresApprovalStore } from './approvals.js';
import { PostgresLeaseStore } from './leases.js';
import type { LeaseStore } from '../types.js';
import { PostgresAuditStore, type InTransaction, type Run } from './audit.js';
import { PostgresKeyStore, PostgresReplayStore, PostgresTokenStore } from './identity.js';
import { postgresMigrations, type PostgresMigration } from './migrations.js';
import { PostgresSecretStore } from './secrets.js';
import { PostgresTaskStore } from './tasks.js';
import { PostgresRevocationStore } from './revocations.js';
import type { IntegrityStore, RevocationStore, SessionStore } from '../types.js';
import { PostgresSessionStore } from './sessions.js';
import { PostgresPinStore } from './pins.js';
import { parsePostgresUrl, type PostgresTarget } from './url.js';

export interface PostgresStoreOptions {
  /** For tests: the migrations to run instead of the shipped list. */
  migrations?: readonly PostgresMigration[];
  /** Pool size (default 4): the store's queries are short, and replicas share the server's connection limit. */
  poolMax?: number;
  /**
   * The deadline of every store operation, in ms (default 10 000): connecting, each statement on the server
   * (statement_timeout) and each query on the client (query_timeout, which also ends a query whose link went
   * silent), and a transaction left idle (idle_in_transaction_session_timeout, so a frozen replica cannot hold
   * a lock). Migrations run on a connection of their own without it: they may take longer.
   */
  timeoutMs?: number;
}

/** Connects to and migrates a PostgreSQL store. Rejects with a StoreError whose text never holds the password. */
export async function openPostgresStore(spec: string, opts: PostgresStoreOptions = {}): Promise<Store> {
  const migrations = opts.migrations ?? postgresMigrations;
  assertOrdered(migrations);
  const target = parsePostgresUrl(spec);
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const pool = new pg.Pool({
    connectionString: target.connectionString,
    max: opts.poolMax ?? 4,
    // Fail closed and fast rather than hang a request when the server does not answer.
    connectionTimeoutMillis: timeoutMs,
    query_timeout: timeoutMs,
    statement_timeout: timeoutMs,
    idle_in_transaction_session_timeout: timeoutMs,
    idleTimeoutMillis: 30_000,
    keepAlive: true,
    keepAliveInitialDelayMillis: Math.min(timeoutMs, 10_000),
  });
  // An idle pooled connection that drops emits 'error' on the pool; unhandled, that would crash the
  // process. The pool discards that connection and the next query reports the failure instead.
  pool.on('error', () => {});
  try {
    await migrate(target, migrations, timeoutMs);
  } catch (err) {
    await pool.end().catch(() => {});
    throw err;
  }
  return new PostgresStore(pool, target);
}

async function migrate(target: PostgresTarget, migrations: readonly PostgresMigration[], connectTimeoutMs: number): Promise<void> {
  const fail = (err: unknown, code: StoreErrorCode, what: string): StoreError =>
    toStoreError(err, classify(err, code), `${what} ${target.location}`, target.secrets);
  // A connection of its own, closed after: no statement deadline (a backfill may take long), a connect one.
  const client = new pg.Client({ connectionString: target.connectionString, connectionTimeoutMillis: connectTimeoutMs, keepAlive: true });
  client.on('error', () => {}); // a dropped connection reports through the failing query instead
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => {});
    throw fail(err, 'store_unavailable', 'cannot connect to PostgreSQL');
  }
  // Concurrent openers (replicas starting together) serialize on this lock, held to each commit; the
  // schema name is in the key so stores in different schemas do not wait for each other.
  const lock = (c: pg.ClientBase) => c.query('SELECT pg_advisory_xact_lock($1::bigint)', [lockKey('migrate', target.schema)]);
  try {
    try {
      await inTransaction(client, async () => {
        await lock(client);
        if (target.schema !== undefined) await client.query(`CREATE SCHEMA IF NOT EXISTS "${target.schema}"`);
        await client.query(`CREATE TABLE IF NOT EXISTS warden_schema_migrations (
          version    integer PRIMARY KEY,
          name       text NOT NULL,
          applied_at timestamptz NOT NULL DEFAULT now()
        )`);
      });
    } catch (err) {
      throw fail(err, 'store_unavailable', 'cannot prepare PostgreSQL database');
    }
    try {
      const current = await readVersion(client);
      const latest = latestVersion(migrations);
      if (current > latest) {
        // A newer warden migrated this database; running older code against it could corrupt data.
        throw new StoreError('store_migration_failed', `database schema version ${current} is newer than supported (${latest})`);
      }
      for (const m of migrations) {
        if (m.version <= current) continue;
        await inTransaction(client, async () => {
          await lock(client);
          const done = await client.query('SELECT 1 FROM warden_schema_migrations WHERE version = $1', [m.version]);
          if (done.rowCount !== 0) return; // another opener applied it while we waited for the lock
          await client.query(m.sql);
          await m.run?.(client);
          await client.query('INSERT INTO warden_schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
        });
      }
    } catch (err) {
      throw fail(err, 'store_migration_failed', 'migrating PostgreSQL database');
    }
  } finally {
    await client.end().catch(() => {});
  }
}

async function inTransaction(client: pg.ClientBase, body: () => Promise<void>): Promise<void> {
  await client.query('BEGIN');
  try {
    await body();
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  }
}

async function readVersion(q: pg.Pool | pg.ClientBase): Promise<number> {
  const r = await q.query<{ v: number | null }>('SELECT max(version) AS v FROM warden_schema_migrations');
  return r.rows[0]?.v ?? 0;
}

/** A stable signed 64-bit advisory lock key (pg_advisory_xact_lock takes a bigint), one per purpose and schema. */
function lockKey(purpose: 'migrate' | 'audit-chain', schema: string | undefined): string {
  const digest = createHash('sha256').update(`mcp-warden:${purpose}:${schema ?? ''}`).digest();
  return digest.readBigInt64BE(0).toString();
}

/**
 * Connection, authentication, missing-database and server-shutdown failures mean the store is unavailable
 * whatever we were doing; anything else keeps the caller's code. Socket errors carry Node codes (ECONNREFUSED),
 * server errors a five-character SQLSTATE.
 */
function classify(err: unknown, fallback: StoreErrorCode): StoreErrorCode {
  if (err instanceof StoreError) return err.code;
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !/^[0-9A-Z]{5}$/.test(code)) return 'store_unavailable';
  return /^(08|28|3D|53|57|58)/.test(code) ? 'store_unavailable' : fallback;
}

class PostgresStore implements Store {
  readonly kind = 'postgres' as const;
  readonly location: string;
  readonly audit: AuditStore;
  readonly keys: KeyStore;
  readonly replay: ReplayStore;
  readonly tokens: TokenStore;
  readonly secrets: SecretStore;
  readonly tasks: TaskStore;
  readonly approvals: ApprovalStore;
  readonly revocations: RevocationStore;
  readonly leases: LeaseStore;
  readonly sessions: SessionStore;
  readonly integrity: IntegrityStore;
  private closed = false;

  constructor(
    private readonly pool: pg.Pool,
    private readonly target: PostgresTarget,
  ) {
    this.location = target.location;
    this.audit = new PostgresAuditStore(this.run, () => this.ensureOpen(), lockKey('audit-chain', target.schema));
    this.keys = new PostgresKeyStore(this.run);
    this.replay = new PostgresReplayStore(this.run);
    this.tokens = new PostgresTokenStore(this.run);
    this.secrets = new PostgresSecretStore(this.run);
    this.tasks = new PostgresTaskStore(this.run);
    this.approvals = new PostgresApprovalStore(this.run);
    this.revocations = new PostgresRevocationStore(this.run, this.transaction, target, () => this.ensureOpen());
    this.leases = new PostgresLeaseStore(this.run);
    this.sessions = new PostgresSessionStore(this.run, target, () => this.ensureOpen());
    this.integrity = new PostgresPinStore(this.run, this.transaction);
  }

  async schemaVersion(): Promise<number> {
    this.ensureOpen();
    try {
      return await readVersion(this.pool);
    } catch (err) {
      throw toStoreError(err, 'store_unavailable', 'reading the schema version failed', this.target.secrets);
    }
  }

  isOpen(): boolean {
    return !this.closed;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }

  private readonly run: Run = async <R extends pg.QueryResultRow>(
    what: string,
    q: { name: string; text: string },
    values: unknown[],
  ): Promise<R[]> => {
    this.ensureOpen();
    try {
      return (await this.pool.query<R>({ ...q, values })).rows;
    } catch (err) {
      throw toStoreError(err, 'store_unavailable', `${what} failed`, this.target.secrets);
    }
  };

  private readonly transaction: InTransaction = async (what, prelude, body) => {
    this.ensureOpen();
    const fail = (err: unknown): StoreError => toStoreError(err, 'store_unavailable', `${what} failed`, this.target.secrets);
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw fail(err);
    }
    // While checked out, a dropped connection's 'error' reaches no pool listener; unhandled, it would crash
    // the process. The failing query reports it instead.
    let broken: Error | undefined;
    const onError = (e: Error): void => {
      broken = e;
    };
    client.on('error', onError);
    try {
      // One simple-protocol round trip: BEGIN and the prelude; pg returns one result per statement.
      const results = (await client.query(`BEGIN ISOLATION LEVEL READ COMMITTED; ${prelude}`)) as unknown as pg.QueryResult[];
      const out = await body(client, results[results.length - 1]?.rows ?? []);
      await client.query('COMMIT');
      return out;
    } catch (err) {
      // A connection that cannot roll back is destroyed rather than returned to the pool.
      await client.query('ROLLBACK').catch((e: unknown) => {
        broken = e as Error;
      });
      throw fail(err);
    } finally {
      client.removeListener('error', onError);
      client.release(broken);
    }
  };

  private ensureOpen(): void {
    if (this.closed) throw new StoreError('store_unavailable', `store ${this.location} is closed`);
  }
}
