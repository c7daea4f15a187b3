/**
 * Helpers for the tamper tests: a fresh store per scenario on SQLite (a file) or PostgreSQL (a random schema),
 * raw SQL on the same database behind the store's back, and events written through the real recorder.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { eventHash } from '../../src/audit/chain.js';
import { Checkpointer, withCheckpoints } from '../../src/audit/checkpoints.js';
import { AuditRecorder, type AuditDraft } from '../../src/audit/recorder.js';
import { SigningKeys } from '../../src/identity/signing-keys.js';
import { openStore, type Store } from '../../src/store/index.js';
import { silentLogger } from '../../src/telemetry/log.js';
import { testKeyRing } from '../helpers/vault.js';

export type Row = Record<string, unknown>;

export interface Db {
  /** A handle on the database (a new one per call), migrated. */
  open(): Promise<Store>;
  /** Raw SQL with $1, $2 ... parameters (used in order). */
  sql(text: string, params?: unknown[]): Promise<Row[]>;
}

export interface Backend {
  name: 'sqlite' | 'postgres';
  skip: string | false;
  /** A new, empty database. */
  fresh(): Promise<Db>;
  cleanup(): Promise<void>;
}

export function sqliteBackend(): Backend {
  const dir = mkdtempSync(join(tmpdir(), 'warden-tamper-'));
  const raws: Database.Database[] = [];
  let n = 0;
  return {
    name: 'sqlite',
    skip: false,
    async fresh() {
      const file = join(dir, `t${++n}.db`);
      await (await openStore(file)).close();
      const raw = new Database(file);
      raws.push(raw);
      return {
        open: () => openStore(file),
        async sql(text, params = []) {
          const stmt = raw.prepare(text.replace(/\$\d+/g, '?'));
          return stmt.reader ? (stmt.all(...params) as Row[]) : (stmt.run(...params), []);
        },
      };
    },
    async cleanup() {
      for (const r of raws) r.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function postgresBackend(baseUrl: string | undefined): Backend {
  const prefix = `warden_tamper_${randomBytes(5).toString('hex')}`;
  const clients: pg.Client[] = [];
  const schemas: string[] = [];
  let n = 0;
  return {
    name: 'postgres',
    skip: baseUrl ? false : 'WARDEN_TEST_DATABASE_URL is not set: PostgreSQL tamper tests skipped',
    async fresh() {
      const schema = `${prefix}_${++n}`;
      schemas.push(schema);
      const u = new URL(baseUrl!);
      u.searchParams.set('schema', schema);
      await (await openStore(u.href)).close();
      const client = new pg.Client({ connectionString: baseUrl, options: `-c search_path=${schema}` });
      await client.connect();
      clients.push(client);
      return {
        open: () => openStore(u.href),
        async sql(text, params = []) {
          return (await client.query(text, params)).rows as Row[];
        },
      };
    },
    async cleanup() {
      if (!baseUrl) return;
      const admin = new pg.Client({ connectionString: baseUrl });
      await admin.connect();
      for (const s of schemas) await admin.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
      await admin.end();
      for (const c of clients) await c.end();
    },
  };
}

export function draft(i: number): AuditDraft {
  return {
    sessionId: `sess-${i % 3}`,
    agent: `agent-${i % 4}`,
    user: i % 5 === 0 ? null : `user-${i % 2}`,
    tenant: 'acme',
    chain: i % 7 === 0 ? ['delegator'] : [],
    authMethod: 'oauth-jwt',
    protocolVersion: '2025-11-25',
    method: 'tools/call',
    upstream: 'files',
    target: `tool_${i}`,
    argsDigest: null,
    outcome: i % 9 === 0 ? 'denied' : 'ok',
    errorCode: i % 9 === 0 ? 'forbidden' : null,
    startedAt: Date.now(),
  };
}

export function signingKeys(store: Store): SigningKeys {
  return new SigningKeys(store.keys, testKeyRing(), 'ES256', 24 * 3600_000, 3600_000);
}

/** A recorder whose committed batches feed a checkpointer, as the gateway wires them. */
export function recorderWithCheckpoints(store: Store, instance: string, everyEvents: number): { recorder: AuditRecorder; cp: Checkpointer } {
  const cp = new Checkpointer({ audit: store.audit, keys: signingKeys(store), log: silentLogger(), instance, everyEvents, everySeconds: 3600 });
  const recorder = new AuditRecorder(withCheckpoints(store.audit, cp), silentLogger(), { instance });
  return { recorder, cp };
}

/**
 * Writes `n` events through a real recorder (waves of 10 concurrent record() calls, so batches form), with a
 * checkpoint every 20 events and a last one at the head. Returns the store, still open.
 */
export async function seed(db: Db, n = 50): Promise<Store> {
  const store = await db.open();
  // Checkpoints are made at known places here (20, 40, head); the concurrent test runs the background path.
  const { recorder, cp } = recorderWithCheckpoints(store, 'tamper-test', 1_000_000);
  for (let i = 0; i < n; i += 10) {
    await Promise.all(Array.from({ length: Math.min(10, n - i) }, (_, k) => recorder.record(draft(i + k))));
    if ((i + 10) % 20 === 0) await cp.checkpoint(true);
  }
  await cp.stop();
  return store;
}

const CHAIN = new Set(['seq', 'prev_hash', 'hash']);

/** Puts row b's event content (every column but the chain ones) at seq a and a's at seq b. */
export async function swapContent(db: Db, a: number, b: number): Promise<void> {
  const [ra] = await db.sql('SELECT * FROM warden_audit_events WHERE seq = $1', [a]);
  const [rb] = await db.sql('SELECT * FROM warden_audit_events WHERE seq = $1', [b]);
  await db.sql('DELETE FROM warden_audit_events WHERE seq = $1 OR seq = $2', [a, b]);
  const mix = (content: Row, chain: Row): Row => Object.fromEntries(Object.keys(content).map((k) => [k, CHAIN.has(k) ? chain[k] : content[k]]));
  for (const row of [mix(rb!, ra!), mix(ra!, rb!)]) await insertRow(db, row);
}

export async function insertRow(db: Db, row: Row): Promise<void> {
  const cols = Object.keys(row);
  await db.sql(`INSERT INTO warden_audit_events (${cols.join(', ')}) VALUES (${cols.map((_, i) => `$${i + 1}`).join(', ')})`, Object.values(row));
}

/** Moves every row with seq >= from by `delta`, in two steps so the unique index never sees a duplicate. */
export async function renumber(db: Db, from: number, delta: number): Promise<void> {
  await db.sql('UPDATE warden_audit_events SET seq = -seq WHERE seq >= $1', [from]);
  await db.sql('UPDATE warden_audit_events SET seq = -seq + $1 WHERE seq < 0', [delta]);
}

/** What a careful attacker does after a change: recompute every hash from `from` on, so the chain links again. */
export async function rehashFrom(db: Db, store: Store, from: number): Promise<void> {
  const rows = await store.audit.readChain(from - 1, 10_000);
  let prev = from === 1 ? '0'.repeat(64) : (await store.audit.readChain(from - 2, 1))[0]!.hash!;
  for (const e of rows) {
    const hash = eventHash(prev, e);
    await db.sql('UPDATE warden_audit_events SET prev_hash = $1, hash = $2 WHERE seq = $3', [prev, hash, e.seq]);
    prev = hash;
  }
}
