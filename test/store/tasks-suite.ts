/**
 * The shared suite's part for schema version 6: the TaskStore contract. `open` returns a new handle on one
 * database that only this suite writes tasks to; ids are UUIDv7 from one process, so a test's tasks are
 * always the newest, and each test filters on an agent of its own where it looks at more than its tasks.
 */
import { exactlyOneWins, trackedStores } from './tracked.js';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { uuidv7 } from '../../src/core/ids.js';
import { StoreError, type Store } from '../../src/store/index.js';
import type { TaskRecord } from '../../src/store/types.js';

const T0 = '2100-01-01T00:00:00.000Z';
const T1 = '2100-01-01T01:00:00.000Z';
const T2 = '2100-01-01T02:00:00.000Z';

const isStoreError = (e: unknown) => e instanceof StoreError;
const isClosed = (e: unknown) => e instanceof StoreError && e.code === 'store_unavailable';

export function makeTask(overrides: Partial<TaskRecord> = {}): TaskRecord {
  return {
    id: uuidv7(),
    agent: 'agent-1',
    user: 'alice',
    tenant: 'acme',
    purpose: 'triage the open issues',
    servers: ['github'],
    tools: ['files__read_file'],
    createdAt: T0,
    expiresAt: T1,
    state: 'active',
    endedAt: null,
    endedBy: null,
    ...overrides,
  };
}

export function runTasksSuite(name: string, open: () => Promise<Store>): void {
  describe(`store suite (tasks): ${name}`, () => {
    const track = trackedStores();

    test('create then get round-trips every field: nulls, empty lists, unicode; an unknown id is undefined', async () => {
      const s = await track(open());
      const full = makeTask({
        user: 'ålice@example.com',
        tenant: 'tënant ✓',
        purpose: 'migrate the "prod" database — carefully\nline two',
        servers: ['github', 'files', 'db'],
        tools: ['github__create_issue', 'files__read_file', 'ünïcødé ✓'],
      });
      const sparse = makeTask({ user: null, tenant: null, purpose: '', servers: [], tools: [] });
      const done = makeTask({ state: 'revoked', endedAt: T2, endedBy: 'cli' });
      for (const t of [full, sparse, done]) await s.tasks.create(t);
      assert.deepEqual(await s.tasks.get(full.id), full);
      assert.deepEqual(await s.tasks.get(sparse.id), sparse);
      assert.deepEqual(await s.tasks.get(done.id), done);
      const got = await s.tasks.get(sparse.id);
      assert.equal(got?.user, null);
      assert.equal(got?.tenant, null);
      assert.equal(got?.endedAt, null);
      assert.deepEqual(got?.servers, []);
      assert.equal(await s.tasks.get(uuidv7()), undefined);
      assert.equal(await s.tasks.get('not-a-uuid'), undefined);
    });

    test('a duplicate id is refused and the stored task is unchanged', async () => {
      const s = await track(open());
      const t = makeTask();
      await s.tasks.create(t);
      await assert.rejects(s.tasks.create({ ...t, agent: 'other', purpose: 'hijack', tools: ['everything'] }), isStoreError);
      await assert.rejects(s.tasks.create(t), isStoreError);
      assert.deepEqual(await s.tasks.get(t.id), t);
    });

    test('a record no task service would write is a RangeError and stores nothing', async () => {
      const s = await track(open());
      const bad: Partial<TaskRecord>[] = [
        { createdAt: '2100-01-01T00:00:00Z' },
        { expiresAt: 'tomorrow' },
        { state: 'paused' as TaskRecord['state'] },
        { endedAt: T2 },
        { endedBy: 'cli' },
        { state: 'ended' },
        { state: 'ended', endedAt: T2 },
        { state: 'ended', endedAt: 'later', endedBy: 'cli' },
        { agent: '' },
        { id: '' },
        { servers: 'github' as unknown as string[] },
      ];
      for (const o of bad) {
        const t = makeTask(o);
        await assert.rejects(s.tasks.create(t), RangeError, JSON.stringify(o));
        if (t.id !== '') assert.equal(await s.tasks.get(t.id), undefined);
      }
    });

    test('list: newest first, filtered by state, agent and tenant, limited', async () => {
      const s = await track(open());
      const agent = `agent-${randomUUID()}`;
      const tenant = `tenant-${randomUUID()}`;
      const a = makeTask({ agent, tenant });
      const b = makeTask({ agent, tenant: null });
      const c = makeTask({ agent, tenant });
      const d = makeTask({ agent: `${agent}-other`, tenant });
      const e = makeTask({ agent, tenant: 'elsewhere' });
      for (const t of [a, b, c, d, e]) await s.tasks.create(t);
      const ended = await s.tasks.finish(b.id, 'ended', T2, agent);
      const revoked = await s.tasks.finish(e.id, 'revoked', T2, 'cli');
      const ids = (ts: TaskRecord[]) => ts.map((t) => t.id);

      assert.deepEqual(await s.tasks.list({ agent }), [revoked, c, ended, a]);
      assert.deepEqual(ids(await s.tasks.list({ agent, state: 'active' })), [c.id, a.id]);
      assert.deepEqual(ids(await s.tasks.list({ agent, state: 'ended' })), [b.id]);
      assert.deepEqual(ids(await s.tasks.list({ agent, state: 'revoked' })), [e.id]);
      assert.deepEqual(ids(await s.tasks.list({ tenant })), [d.id, c.id, a.id]);
      assert.deepEqual(ids(await s.tasks.list({ tenant, agent })), [c.id, a.id]);
      assert.deepEqual(ids(await s.tasks.list({ tenant, agent, state: 'ended' })), []);
      assert.deepEqual(ids(await s.tasks.list({ agent: `${agent}-none` })), []);
      assert.deepEqual(ids(await s.tasks.list({ agent, limit: 2 })), [e.id, c.id]);
      assert.deepEqual(ids(await s.tasks.list({ agent, limit: 1 })), [e.id]);
      // Unfiltered: these are the newest tasks in the database.
      assert.deepEqual(ids(await s.tasks.list({ limit: 3 })), [e.id, d.id, c.id]);
      const all = await s.tasks.list();
      assert.ok(all.length >= 5 && all.length <= 100, `default limit: ${all.length}`);
      assert.deepEqual(ids(all), ids(all).slice().sort().reverse(), 'newest (highest id) first');
      assert.ok((await s.tasks.list({ state: 'active' })).every((t) => t.state === 'active'));

      await assert.rejects(s.tasks.list({ limit: 0 }), RangeError);
      await assert.rejects(s.tasks.list({ limit: 1.5 }), RangeError);
      await assert.rejects(s.tasks.list({ limit: 10_001 }), RangeError);
      await assert.rejects(s.tasks.list({ state: 'paused' as TaskRecord['state'] }), RangeError);
    });

    test('list honours the default limit of 100', async () => {
      const s = await track(open());
      const agent = `agent-${randomUUID()}`;
      const tasks = Array.from({ length: 105 }, () => makeTask({ agent }));
      for (const t of tasks) await s.tasks.create(t);
      const listed = await s.tasks.list({ agent });
      assert.equal(listed.length, 100);
      assert.deepEqual(listed[0], tasks[104]);
      assert.deepEqual(listed[99], tasks[5]);
      assert.equal((await s.tasks.list({ agent, limit: 200 })).length, 105);
    });

    test('finish is a compare-and-set: active -> ended once; then undefined and unchanged', async () => {
      const s = await track(open());
      const t = makeTask();
      await s.tasks.create(t);
      const done = await s.tasks.finish(t.id, 'ended', T2, 'agent-1');
      assert.deepEqual(done, { ...t, state: 'ended', endedAt: T2, endedBy: 'agent-1' });
      assert.deepEqual(await s.tasks.get(t.id), done);
      // A second finish, as ended or revoked, changes nothing.
      assert.equal(await s.tasks.finish(t.id, 'revoked', '2100-01-01T03:00:00.000Z', 'cli'), undefined);
      assert.equal(await s.tasks.finish(t.id, 'ended', '2100-01-01T03:00:00.000Z', 'expired'), undefined);
      assert.deepEqual(await s.tasks.get(t.id), done);

      const r = makeTask({ user: null, tenant: null });
      await s.tasks.create(r);
      assert.deepEqual(await s.tasks.finish(r.id, 'revoked', T2, 'cli'), { ...r, state: 'revoked', endedAt: T2, endedBy: 'cli' });
      assert.equal(await s.tasks.finish(r.id, 'revoked', T2, 'cli'), undefined);

      assert.equal(await s.tasks.finish(uuidv7(), 'ended', T2, 'cli'), undefined);
      assert.equal(await s.tasks.get(t.id).then((x) => x?.state), 'ended');
    });

    test('finish checks its arguments before touching the task', async () => {
      const s = await track(open());
      const t = makeTask();
      await s.tasks.create(t);
      await assert.rejects(s.tasks.finish(t.id, 'active' as 'ended', T2, 'cli'), RangeError);
      await assert.rejects(s.tasks.finish(t.id, 'ended', 'now', 'cli'), RangeError);
      await assert.rejects(s.tasks.finish(t.id, 'ended', T2, ''), RangeError);
      assert.deepEqual(await s.tasks.get(t.id), t);
    });

    test('concurrent finishes: exactly one wins, on one handle and across two (as two replicas)', async () => {
      const a = await track(open());
      const b = await track(open());
      await exactlyOneWins(a, b, 10, async (x, y) => {
        const t = makeTask();
        await x.tasks.create(t);
        const results = await Promise.all([x.tasks.finish(t.id, 'ended', T1, 'agent-1'), y.tasks.finish(t.id, 'revoked', T2, 'cli')]);
        return { results, read: (st) => st.tasks.get(t.id) };
      });
    });

    test('a closed store rejects the task calls', async () => {
      const s = await open();
      const t = makeTask();
      await s.tasks.create(t);
      await s.close();
      await assert.rejects(s.tasks.create(makeTask()), isClosed);
      await assert.rejects(s.tasks.get(t.id), isClosed);
      await assert.rejects(s.tasks.list(), isClosed);
      await assert.rejects(s.tasks.finish(t.id, 'ended', T2, 'cli'), isClosed);
      const again = await track(open());
      assert.deepEqual(await again.tasks.get(t.id), t, 'the refused finish changed nothing');
    });
  });
}
