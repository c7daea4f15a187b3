import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openStore, StoreError } from '../../src/store/index.js';
import { openSqliteStore } from '../../src/store/sqlite/store.js';
import { sqliteMigrations } from '../../src/store/sqlite/migrations.js';
import { runApprovalsSuite } from './approvals-suite.js';
import { runLeasesSuite } from './leases-suite.js';
import { runSessionsSuite } from './sessions-suite.js';
import { makeEvent, runStoreSuite } from './store-suite.js';
import { runTasksSuite } from './tasks-suite.js';
import { runRevocationsSuite } from './revocations-suite.js';
import { runPinsSuite } from './pins-suite.js';
import { assertTracesFind, upgradeEvents } from './audit-indexes.js';

const dir = mkdtempSync(join(tmpdir(), 'warden-store-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let upgrades = 0;
runStoreSuite('sqlite', () => openStore(join(dir, 'suite.db')), {
  async openUpgradedFromV1(row) {
    const file = join(dir, `upgrade-${++upgrades}.db`);
    const v1 = sqliteMigrations.filter((m) => m.version === 1);
    const old = await openSqliteStore(file, { migrations: v1 });
    assert.equal(await old.schemaVersion(), 1);
    await old.close();
    const raw = new Database(file);
    const cols = Object.keys(row);
    raw.prepare(`INSERT INTO warden_audit_events (${cols.join(', ')}) VALUES (${cols.map((c) => '@' + c).join(', ')})`).run(row);
    raw.close();
    return openStore(file);
  },
  async openFresh(version, rows = []) {
    const file = join(dir, `fresh-${++upgrades}.db`);
    const old = await openSqliteStore(file, { migrations: sqliteMigrations.filter((m) => version === undefined || m.version <= version) });
    await old.close();
    const raw = new Database(file);
    for (const row of rows) {
      const cols = Object.keys(row);
      raw.prepare(`INSERT INTO warden_audit_events (${cols.join(', ')}) VALUES (${cols.map((c) => '@' + c).join(', ')})`).run(row);
    }
    raw.close();
    return openStore(file);
  },
});

runTasksSuite('sqlite', () => openStore(join(dir, 'tasks.db')));
runApprovalsSuite('sqlite', () => openStore(join(dir, 'approvals.db')));
runLeasesSuite('sqlite', () => openStore(join(dir, 'leases.db')));
runSessionsSuite('sqlite', () => openStore(join(dir, 'sessions.db')));
runRevocationsSuite('sqlite', () => openStore(join(dir, 'revocations.db')));
runPinsSuite('sqlite', () => openStore(join(dir, 'pins.db')));

const isCode = (code: string) => (e: unknown) => e instanceof StoreError && e.code === code;

describe('sqlite store', () => {
  test('creates the parent directory', async () => {
    const file = join(dir, 'a', 'b', 'c', 'warden.db');
    const s = await openStore(file);
    assert.ok(existsSync(file));
    assert.equal(s.kind, 'sqlite');
    assert.equal(s.location, file);
    await s.close();
  });

  test('createDir: false does not create it, and rejects', async () => {
    const file = join(dir, 'missing', 'warden.db');
    await assert.rejects(openStore(file, { createDir: false }), isCode('store_unavailable'));
    assert.equal(existsSync(join(dir, 'missing')), false);
  });

  test('runs in WAL mode with the expected pragmas', async () => {
    const file = join(dir, 'wal.db');
    const s = await openStore(`sqlite:${file}`);
    await s.audit.append([makeEvent()]);
    const raw = new Database(file, { readonly: true });
    assert.equal(raw.pragma('journal_mode', { simple: true }), 'wal');
    raw.close();
    await s.close();
  });

  test('checkpoints the WAL every 10,000 pages, not every 1,000 (SQLite\'s default), with synchronous NORMAL kept', async () => {
    const file = join(dir, 'checkpoint.db');
    const s = await openStore(`sqlite:${file}`);
    // One commit per event, as a quiet gateway makes them: each rewrites a few pages into the WAL.
    for (let i = 0; i < 1200; i++) await s.audit.append([makeEvent()]);
    const raw = new Database(file, { readonly: true });
    const pageSize = raw.pragma('page_size', { simple: true }) as number;
    raw.close();
    // With checkpoints at 1,000 pages the WAL file is reused from its start and stays near that size.
    const walPages = statSync(`${file}-wal`).size / pageSize;
    assert.ok(walPages > 1500, `WAL holds ${Math.round(walPages)} pages: it was checkpointed at SQLite's default`);
    await s.close();
  });

  test('records each migration once', async () => {
    const file = join(dir, 'versions.db');
    await (await openStore(file)).close();
    await (await openStore(file)).close();
    const raw = new Database(file, { readonly: true });
    const rows = raw.prepare('SELECT version, applied_at FROM warden_schema_migrations ORDER BY version').all() as {
      version: number;
      applied_at: string;
    }[];
    raw.close();
    assert.deepEqual(rows.map((r) => r.version), sqliteMigrations.map((m) => m.version));
    for (const r of rows) assert.ok(!Number.isNaN(Date.parse(r.applied_at)));
  });

  test('migration 25 drops the audit indexes no query uses; traces still find their events', async () => {
    const auditIndexes = (file: string): string[] => {
      const raw = new Database(file, { readonly: true });
      const rows = raw.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'warden_audit_events' ORDER BY name").all() as { name: string }[];
      raw.close();
      return rows.map((r) => r.name);
    };
    const kept = ['sqlite_autoindex_warden_audit_events_1', 'warden_audit_events_seq', 'warden_audit_events_session', 'warden_audit_events_task', 'warden_audit_events_user'];
    const unused = ['warden_audit_events_agent', 'warden_audit_events_intent', 'warden_audit_events_time'];
    const file = join(dir, 'v24.db');
    const old = await openSqliteStore(file, { migrations: sqliteMigrations.filter((m) => m.version <= 24) });
    const events = upgradeEvents(makeEvent);
    await old.audit.append(events);
    await old.close();
    assert.deepEqual(auditIndexes(file), [...kept, ...unused].sort());
    const s = await openStore(file);
    assert.equal(await s.schemaVersion(), sqliteMigrations.at(-1)!.version);
    assert.deepEqual(auditIndexes(file), kept);
    await assertTracesFind(s, events);
    await s.close();
    // A new database ends with the same indexes.
    const fresh = join(dir, 'v25.db');
    await (await openStore(fresh)).close();
    assert.deepEqual(auditIndexes(fresh), kept);
  });

  test('an unwritable path rejects with store_unavailable', async () => {
    // A regular file where a directory should be: unwritable even for root.
    const blocker = join(dir, 'not-a-dir');
    writeFileSync(blocker, 'x');
    await assert.rejects(openStore(join(blocker, 'sub', 'warden.db')), isCode('store_unavailable'));
    await assert.rejects(openStore(join(blocker, 'warden.db'), { createDir: false }), isCode('store_unavailable'));
  });

  test(':memory: works', async () => {
    for (const spec of [':memory:', 'sqlite::memory:']) {
      const s = await openStore(spec);
      assert.equal(s.location, ':memory:');
      await s.audit.append([makeEvent()]);
      assert.equal(await s.audit.count(), 1);
      await s.close();
    }
  });

  test('a failing migration rejects with store_migration_failed and keeps earlier versions', async () => {
    const file = join(dir, 'bad-migration.db');
    const migrations = [...sqliteMigrations, { version: 1000, name: 'broken', sql: 'CREATE TABLE oops (' }];
    await assert.rejects(openSqliteStore(file, { migrations }), isCode('store_migration_failed'));
    const s = await openStore(file);
    assert.equal(await s.schemaVersion(), sqliteMigrations.at(-1)!.version);
    await s.close();
  });

  test('a database newer than the code is refused', async () => {
    const file = join(dir, 'newer.db');
    const migrations = [...sqliteMigrations, { version: 1000, name: 'future', sql: 'CREATE TABLE future (x)' }];
    await (await openSqliteStore(file, { migrations })).close();
    await assert.rejects(openStore(file), isCode('store_migration_failed'));
  });
});
