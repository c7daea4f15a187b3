/** The lease store on each backend: records by id and handle, active per task, revoke as a compare-and-set. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { LeaseRecord, Store } from '../../src/store/index.js';
import { trackedStores } from './tracked.js';

let n = 0;
const lease = (over: Partial<LeaseRecord> = {}): LeaseRecord => ({
  id: `0190aaaa-0000-7000-8000-${String(++n).padStart(12, '0')}`,
  task: 't1',
  name: 'analytics',
  provider: 'postgres',
  handle: `warden_${String(n).padStart(8, '0')}`,
  createdAt: '2026-11-22T10:00:00.000Z',
  expiresAt: '2026-11-22T11:00:00.000Z',
  state: 'active',
  revokedAt: null,
  ...over,
});

export function runLeasesSuite(name: string, open: () => Promise<Store>): void {
  describe(`store suite (leases): ${name}`, () => {
    const track = trackedStores();

    test('create, active per task (oldest first) and for all tasks, revoke once', async () => {
      const s = await track(open());
      const a = lease();
      const b = lease({ task: 't2' });
      const c = lease();
      for (const l of [a, b, c]) await s.leases.create(l);
      assert.deepEqual(await s.leases.active('t1'), [a, c]);
      assert.deepEqual((await s.leases.active()).map((l) => l.id), [a.id, b.id, c.id]);
      assert.equal(await s.leases.revoke(a.id, '2026-11-22T10:30:00.000Z'), true);
      assert.equal(await s.leases.revoke(a.id, '2026-11-22T10:31:00.000Z'), false, 'a second revoke changes nothing');
      assert.equal(await s.leases.revoke('0190aaaa-0000-7000-8000-ffffffffffff', '2026-11-22T10:31:00.000Z'), false);
      assert.deepEqual(await s.leases.active('t1'), [c]);
    });

    test('concurrent revokes of one lease: exactly one wins', async () => {
      const s = await track(open());
      const l = lease({ task: 'race' });
      await s.leases.create(l);
      const wins = await Promise.all([1, 2, 3, 4].map(() => s.leases.revoke(l.id, '2026-11-22T10:30:00.000Z')));
      assert.equal(wins.filter(Boolean).length, 1);
    });

    test('a new lease must be active; a duplicate id is refused; a closed store refuses', async () => {
      const s = await track(open());
      await assert.rejects(s.leases.create(lease({ state: 'revoked', revokedAt: '2026-11-22T10:00:00.000Z' })), RangeError);
      const l = lease({ task: 'dup' });
      await s.leases.create(l);
      await assert.rejects(s.leases.create(l));
      await s.close();
      await assert.rejects(s.leases.active(), /closed|unavailable/i);
    });
  });
}
