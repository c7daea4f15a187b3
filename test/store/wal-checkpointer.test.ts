/**
 * Background WAL checkpoints (src/store/sqlite/wal-checkpointer.ts): the worker copies committed pages into
 * the database file while the serving connection keeps writing; closing the store stops it; a worker that
 * cannot work is reported and changes nothing else.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openSqliteStore } from '../../src/store/sqlite/store.js';
import { startWalCheckpointer } from '../../src/store/sqlite/wal-checkpointer.js';
import type { AuditEvent } from '../../src/audit/event.js';

const dir = mkdtempSync(join(tmpdir(), 'warden-wal-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
const event = (): AuditEvent => {
  n += 1;
  return {
    id: `0190${String(n).padStart(8, '0')}-0000-7000-8000-000000000000`, time: new Date().toISOString(), instance: 'test',
    sessionId: null, agent: 'a', user: null, tenant: null, chain: [], authMethod: null, protocolVersion: null,
    method: 'tools/call', upstream: 'u', target: 't', argsDigest: null, outcome: 'ok', errorCode: null, latencyMs: 1,
  };
};

/** Rows of the audit table in the database file alone, without its log (what checkpoints have copied). */
function rowsInDatabaseFile(file: string): number {
  const copy = `${file}.copy-${n}`;
  copyFileSync(file, copy);
  const db = new Database(copy);
  try {
    return (db.prepare('SELECT count(*) AS n FROM warden_audit_events').get() as { n: number }).n;
  } finally {
    db.close();
    for (const s of ['', '-wal', '-shm']) rmSync(copy + s, { force: true });
  }
}

/** Folds the log into the file once from another connection (the schema the migrations wrote is in it). */
function checkpointNow(file: string): void {
  const db = new Database(file);
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } finally {
    db.close();
  }
}

const until = async (cond: () => boolean, ms: number): Promise<boolean> => {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return cond();
};

describe('background WAL checkpoints', () => {
  test('without the worker, committed events stay in the log (below the commit-path threshold)', async () => {
    const file = join(dir, 'plain.db');
    const store = await openSqliteStore(file);
    try {
      checkpointNow(file);
      const before = rowsInDatabaseFile(file);
      for (let i = 0; i < 50; i++) await store.audit.append([event()]);
      await new Promise((r) => setTimeout(r, 300));
      // The control for the next test: nothing copies these into the database file yet.
      assert.equal(rowsInDatabaseFile(file), before);
    } finally {
      await store.close();
    }
  });

  test('with the worker, committed events reach the database file while the store stays open and writing', async () => {
    const file = join(dir, 'worker.db');
    const failures: string[] = [];
    const store = await openSqliteStore(file, { backgroundCheckpoints: { intervalMs: 50, onFailure: (r) => failures.push(r) } });
    try {
      checkpointNow(file);
      for (let i = 0; i < 50; i++) await store.audit.append([event()]);
      assert.ok(await until(() => rowsInDatabaseFile(file) === 50, 5000), `rows in the database file: ${rowsInDatabaseFile(file)}`);
      // Writing goes on while the worker checkpoints, and the chain stays whole.
      for (let i = 0; i < 50; i++) await store.audit.append([event()]);
      assert.ok(await until(() => rowsInDatabaseFile(file) === 100, 5000));
      assert.equal((await store.audit.head())?.seq, 100);
      assert.deepEqual(failures, []);
    } finally {
      await store.close();
    }
    // Closed: the worker is gone and the last connection folded the log into the file.
    assert.equal(rowsInDatabaseFile(file), 100);
    assert.equal(statSync(file).size > 0, true);
  });

  test('closing the store stops the worker promptly', async () => {
    const store = await openSqliteStore(join(dir, 'close.db'), { backgroundCheckpoints: { intervalMs: 10_000 } });
    const started = Date.now();
    await store.close();
    assert.ok(Date.now() - started < 3000, 'close waited on the worker');
  });

  test('a worker that cannot open the database is reported, once', async () => {
    const reasons: string[] = [];
    const c = startWalCheckpointer(join(dir, 'missing', 'none.db'), { intervalMs: 20, onFailure: (r) => reasons.push(r) });
    assert.ok(await until(() => reasons.length > 0, 5000));
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(reasons.length, 1);
    assert.match(reasons[0]!, /WAL checkpoint worker/);
    assert.equal(c.running(), false);
    await c.stop();
  });
});
