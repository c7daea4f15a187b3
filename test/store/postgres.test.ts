/**
 * PostgreSQL store tests. They need a server: set WARDEN_TEST_DATABASE_URL (e.g.
 * postgres://postgres@127.0.0.1:5432/test). Each run works in fresh random schemas and drops them after.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import pg from 'pg';
import { openStore, StoreError } from '../../src/store/index.js';
import { postgresMigrations } from '../../src/store/postgres/migrations.js';
import { openPostgresStore } from '../../src/store/postgres/store.js';
import { runApprovalsSuite } from './approvals-suite.js';
import { runLeasesSuite } from './leases-suite.js';
import { runSessionsSuite } from './sessions-suite.js';
import { makeEvent, runStoreSuite } from './store-suite.js';
import { runTasksSuite } from './tasks-suite.js';
import { runRevocationsSuite } from './revocations-suite.js';
import { runPinsSuite } from './pins-suite.js';
import { assertTracesFind, upgradeEvents } from './audit-indexes.js';

const baseUrl = process.env.WARDEN_TEST_DATABASE_URL;
const isCode = (code: string) => (e: unknown) => e instanceof StoreError && e.code === code;

if (baseUrl === undefined || baseUrl === '') {
  test('PostgreSQL store', { skip: 'WARDEN_TEST_DATABASE_URL is not set: PostgreSQL store tests skipped' }, () => {});
} else {
  const prefix = `warden_test_${randomBytes(6).toString('hex')}`;
  const schemas = new Set<string>();
  /** The base URL pointed at a schema of this run (created by the store on open). */
  const urlFor = (suffix: string, params: Record<string, string> = {}): string => {
    const schema = `${prefix}_${suffix}`;
    schemas.add(schema);
    const u = new URL(baseUrl);
    u.searchParams.set('schema', schema);
    for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
    return u.href;
  };

  const admin = new pg.Client({ connectionString: baseUrl });
  before(() => admin.connect());
  after(async () => {
    for (const s of schemas) await admin.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
    await admin.end();
  });

  let upgrades = 0;
  runStoreSuite('postgres', () => openStore(urlFor('suite')), {
    async openUpgradedFromV1(row) {
      const suffix = `upgrade${++upgrades}`;
      const url = urlFor(suffix);
      const v1 = postgresMigrations.filter((m) => m.version === 1);
      const old = await openPostgresStore(url, { migrations: v1 });
      assert.equal(await old.schemaVersion(), 1);
      await old.close();
      const cols = Object.keys(row);
      await admin.query(
        `INSERT INTO "${prefix}_${suffix}".warden_audit_events (${cols.join(', ')}) VALUES (${cols.map((_, i) => `$${i + 1}`).join(', ')})`,
        Object.values(row),
      );
      return openStore(url);
    },
    async openFresh(version, rows = []) {
      const suffix = `fresh${++upgrades}`;
      const url = urlFor(suffix);
      const old = await openPostgresStore(url, { migrations: postgresMigrations.filter((m) => version === undefined || m.version <= version) });
      await old.close();
      for (const row of rows) {
        const cols = Object.keys(row);
        await admin.query(
          `INSERT INTO "${prefix}_${suffix}".warden_audit_events (${cols.join(', ')}) VALUES (${cols.map((_, i) => `$${i + 1}`).join(', ')})`,
          Object.values(row),
        );
      }
      return openStore(url);
    },
  });

  runTasksSuite('postgres', () => openStore(urlFor('tasks')));
  runApprovalsSuite('postgres', () => openStore(urlFor('approvals')));
  runLeasesSuite('postgres', () => openStore(urlFor('leases')));
  runSessionsSuite('postgres', () => openStore(urlFor('sessions')));
  runRevocationsSuite('postgres', () => openStore(urlFor('revocations')));
  runPinsSuite('postgres', () => openStore(urlFor('pins')));

  describe('postgres store', () => {
    test('location hides the password; tables live in the chosen schema', async () => {
      const u = new URL(urlFor('loc'));
      u.password = 'pa55word-never-shown'; // ignored by trust auth
      const s = await openStore(u.href);
      assert.equal(s.kind, 'postgres');
      assert.ok(!s.location.includes('pa55word'), s.location);
      assert.match(s.location, /^postgres(ql)?:\/\/[^:]+:\*\*\*@/);
      await s.close();
      const r = await admin.query<{ table_name: string }>(
        'SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name',
        [`${prefix}_loc`],
      );
      assert.deepEqual(
        r.rows.map((x) => x.table_name),
        [
          'warden_approvals',
          'warden_audit_checkpoints',
          'warden_audit_events',
          'warden_audit_keys',
          'warden_audit_sink_cursors',
          'warden_issued_tokens',
          'warden_leader_leases',
          'warden_leases',
          'warden_replay_markers',
          'warden_revocations',
          'warden_schema_migrations',
          'warden_secrets',
          'warden_session_signals',
          'warden_sessions',
          'warden_signing_keys',
          'warden_tasks',
          'warden_tool_pins',
        ],
      );
    });

    test('concurrent openers of a fresh schema both succeed and migrate once', async () => {
      const url = urlFor('concurrent');
      const stores = await Promise.all([openStore(url), openStore(url), openStore(url), openStore(url)]);
      const versions = await Promise.all(stores.map((s) => s.schemaVersion()));
      assert.deepEqual(new Set(versions), new Set([postgresMigrations.at(-1)!.version]));
      await Promise.all(stores.map((s) => s.close()));
      const r = await admin.query<{ version: number }>(
        `SELECT version FROM "${prefix}_concurrent".warden_schema_migrations ORDER BY version`,
      );
      assert.deepEqual(r.rows.map((x) => x.version), postgresMigrations.map((m) => m.version));
    });

    test('migration 25 drops the audit indexes no query uses; traces still find their events', async () => {
      const auditIndexes = async (suffix: string): Promise<string[]> =>
        (
          await admin.query<{ indexname: string }>(
            "SELECT indexname FROM pg_indexes WHERE schemaname = $1 AND tablename = 'warden_audit_events' ORDER BY indexname COLLATE \"C\"",
            [`${prefix}_${suffix}`],
          )
        ).rows.map((r) => r.indexname);
      // The time index stays: the planner takes it for a trace with `since` over a short recent window.
      const kept = ['warden_audit_events_pkey', 'warden_audit_events_seq', 'warden_audit_events_session', 'warden_audit_events_task', 'warden_audit_events_time', 'warden_audit_events_user'];
      const unused = ['warden_audit_events_agent', 'warden_audit_events_intent'];
      // The same index names in another schema (a second store on the database) are left alone.
      const bystander = urlFor('idxother');
      await (await openPostgresStore(bystander, { migrations: postgresMigrations.filter((m) => m.version <= 24) })).close();
      const url = urlFor('idx24');
      const old = await openPostgresStore(url, { migrations: postgresMigrations.filter((m) => m.version <= 24) });
      const events = upgradeEvents(makeEvent);
      await old.audit.append(events);
      await old.close();
      assert.deepEqual(await auditIndexes('idx24'), [...kept, ...unused].sort());
      const s = await openStore(url);
      assert.equal(await s.schemaVersion(), postgresMigrations.at(-1)!.version);
      assert.deepEqual(await auditIndexes('idx24'), kept);
      assert.deepEqual(await auditIndexes('idxother'), [...kept, ...unused].sort());
      await assertTracesFind(s, events);
      await s.close();
      // A new schema ends with the same indexes.
      await (await openStore(urlFor('idx25'))).close();
      assert.deepEqual(await auditIndexes('idx25'), kept);
    });

    test('a failing migration rejects with store_migration_failed and keeps earlier versions', async () => {
      const url = urlFor('badmig');
      const migrations = [...postgresMigrations, { version: 1000, name: 'broken', sql: 'CREATE TABLE oops (' }];
      await assert.rejects(openPostgresStore(url, { migrations }), isCode('store_migration_failed'));
      const s = await openStore(url);
      assert.equal(await s.schemaVersion(), postgresMigrations.at(-1)!.version);
      await s.close();
    });

    test('a database newer than the code is refused', async () => {
      const url = urlFor('newer');
      const migrations = [...postgresMigrations, { version: 1000, name: 'future', sql: 'CREATE TABLE future (x int)' }];
      await (await openPostgresStore(url, { migrations })).close();
      await assert.rejects(openStore(url), isCode('store_migration_failed'));
    });

    test('an append waits for the chain lock; its connection dropped meanwhile: a StoreError, no crash', async () => {
      const appName = `${prefix}_lockdrop`;
      const s = await openStore(urlFor('lockdrop', { application_name: appName }));
      await s.audit.append([makeEvent()]);
      // Hold the chain's advisory lock as another replica mid-append would.
      const key = createHash('sha256').update(`mcp-warden:audit-chain:${prefix}_lockdrop`).digest().readBigInt64BE(0).toString();
      const holder = new pg.Client({ connectionString: baseUrl });
      await holder.connect();
      await holder.query('BEGIN');
      await holder.query('SELECT pg_advisory_xact_lock($1::bigint)', [key]);
      const waiting = s.audit.append([makeEvent()]).then(
        () => 'stored',
        (e: unknown) => e,
      );
      let waited = 0;
      for (; waited < 50; waited++) {
        const r = await admin.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'", [appName]);
        if (r.rows[0].n === 1) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.ok(waited < 50, 'the append waits on the lock');
      await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'", [appName]);
      assert.ok(isCode('store_unavailable')(await waiting));
      await holder.query('COMMIT');
      await holder.end();
      await s.audit.append([makeEvent()]);
      assert.deepEqual((await s.audit.readChain(0, 10)).map((e) => e.seq), [1, 2]);
      await s.close();
    });

    test('a dropped pooled connection does not crash the process', async () => {
      const appName = `${prefix}_drop`;
      const s = await openStore(urlFor('drop', { application_name: appName }));
      await s.audit.append([makeEvent()]);
      // Kill the store's idle connections from the server side, as a failover or restart would.
      const killed = await admin.query(
        'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1',
        [appName],
      );
      assert.ok((killed.rowCount ?? 0) >= 1);
      await new Promise((r) => setTimeout(r, 100));
      // The pool discarded the dead connection; the next call opens a new one.
      assert.equal(await s.audit.count(), 1);
      await s.close();
    });
  });
}
