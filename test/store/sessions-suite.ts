/** The session store on each backend: by id, touch, end, prune by last use; on PostgreSQL, signals between replicas. */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import type { SessionRecord, SessionSignal, Store } from '../../src/store/index.js';
import { trackedStores } from './tracked.js';

const session = (over: Partial<SessionRecord> = {}): SessionRecord => ({
  id: randomUUID(),
  ownerDigest: 'a'.repeat(64),
  protocolVersion: '2025-11-25',
  clientInfo: { name: 'suite', version: '1' },
  clientCapabilities: { sampling: {} },
  createdAt: '2026-12-01T10:00:00.000Z',
  lastSeenAt: '2026-12-01T10:00:00.000Z',
  ...over,
});

export function runSessionsSuite(name: string, open: () => Promise<Store>): void {
  describe(`store suite (sessions): ${name}`, () => {
    const track = trackedStores();

    test('create, read back exactly, touch moves last use forward only, end once', async () => {
      const s = await track(open());
      const r = session();
      await s.sessions.create(r);
      assert.deepEqual(await s.sessions.get(r.id), r);
      assert.equal(await s.sessions.get(randomUUID()), undefined);
      assert.equal(await s.sessions.touch(r.id, '2026-12-01T10:05:00.000Z'), true);
      assert.equal(await s.sessions.touch(r.id, '2026-12-01T10:01:00.000Z'), true, 'an older time is no error');
      assert.equal((await s.sessions.get(r.id))?.lastSeenAt, '2026-12-01T10:05:00.000Z', 'and does not move it back');
      await assert.rejects(s.sessions.create(r), 'an id is never reused');
      assert.equal(await s.sessions.end(r.id, '2026-12-01T10:06:00.000Z'), true);
      assert.equal(await s.sessions.end(r.id, '2026-12-01T10:06:00.000Z'), false);
      assert.equal(await s.sessions.get(r.id), undefined);
      assert.equal(await s.sessions.touch(r.id, '2026-12-01T10:07:00.000Z'), false);
    });

    test('prune deletes sessions last used before the cutoff, and says which', async () => {
      const s = await track(open());
      const old = session({ lastSeenAt: '2026-12-01T09:00:00.000Z' });
      const fresh = session({ lastSeenAt: '2026-12-01T11:00:00.000Z' });
      for (const r of [old, fresh]) await s.sessions.create(r);
      assert.deepEqual(await s.sessions.prune('2026-12-01T10:00:00.000Z', '2026-12-01T10:00:00.000Z'), [old.id]);
      assert.equal(await s.sessions.get(old.id), undefined);
      assert.deepEqual(await s.sessions.get(fresh.id), fresh);
    });

    if (name === 'postgres') {
      test('signals reach another connection; an end is announced only when it happened', async () => {
        const a = await track(open());
        const got: SessionSignal[] = [];
        const feed = await a.sessions.subscribe!((sig) => got.push(sig), () => undefined);
        try {
          const r = session();
          await a.sessions.create(r);
          const big = 'x'.repeat(20_000);
          await a.sessions.publish!({ id: randomUUID(), sessionId: r.id, kind: 'stream', payload: JSON.stringify({ jsonrpc: '2.0', method: 'm', params: { big } }) }, '2026-12-01T10:00:00.000Z');
          await a.sessions.end(r.id, '2026-12-01T10:00:01.000Z');
          await a.sessions.end(r.id, '2026-12-01T10:00:02.000Z');
          for (let i = 0; i < 100 && got.length < 2; i++) await new Promise((res) => setTimeout(res, 50));
          await new Promise((res) => setTimeout(res, 200));
          assert.deepEqual(got.map((g) => [g.sessionId, g.kind]), [[r.id, 'stream'], [r.id, 'end']], 'one end, after the message');
          assert.match(got[0]!.payload, new RegExp(big), 'a message larger than a NOTIFY payload arrives whole');
          await assert.rejects(a.sessions.publish!({ id: randomUUID(), sessionId: r.id, kind: 'bogus' as 'end', payload: '' }, '2026-12-01T10:00:00.000Z'));
        } finally {
          await feed.close();
        }
      });
    }
  });
}
