/**
 * The shared suite's part for schema version 8: the RevocationStore contract. `open` returns a new handle on
 * one database that only this suite writes revocations to; each test uses values of its own.
 */
import { trackedStores } from './tracked.js';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { uuidv7 } from '../../src/core/ids.js';
import { StoreError, type Store } from '../../src/store/index.js';
import type { NewRevocation, RevocationRecord } from '../../src/store/types.js';

const T0 = '2100-01-01T00:00:00.000Z';
const T1 = '2100-01-01T01:00:00.000Z';
const PAST = '2000-01-01T00:00:00.000Z';

const isClosed = (e: unknown) => e instanceof StoreError && e.code === 'store_unavailable';

export function makeRevocation(overrides: Partial<NewRevocation> = {}): NewRevocation {
  return { id: uuidv7(), kind: 'agent', value: `agent-${randomUUID()}`, revokedAt: T0, by: 'cli', reason: 'compromised', expiresAt: null, ...overrides };
}

const strip = (r: RevocationRecord): NewRevocation => {
  const { seq: _seq, ...rest } = r;
  return rest;
};

/** Every record after seq 0, read in pages as a replica loads them. */
async function readAll(s: Store, from = 0): Promise<RevocationRecord[]> {
  const out: RevocationRecord[] = [];
  for (let seq = from; ; ) {
    const page = await s.revocations.since(seq, 100);
    out.push(...page);
    if (page.length < 100) return out;
    seq = page.at(-1)!.seq;
  }
}

export function runRevocationsSuite(name: string, open: () => Promise<Store>): void {
  describe(`store suite (revocations): ${name}`, () => {
    const track = trackedStores();

    test('add stores every field and assigns a seq; adding the same kind and value again keeps the first record', async () => {
      const s = await track(open());
      const full = makeRevocation({ kind: 'user', value: 'ålice@example.com ✓', reason: 'left the "company"\nline two', expiresAt: T1 });
      const sparse = makeRevocation({ kind: 'token', value: uuidv7(), reason: null });
      const a = await s.revocations.add(full);
      const b = await s.revocations.add(sparse);
      assert.equal(a.created, true);
      assert.equal(b.created, true);
      assert.deepEqual(strip(a.record), full);
      assert.deepEqual(strip(b.record), sparse);
      assert.ok(Number.isSafeInteger(a.record.seq) && a.record.seq > 0);
      assert.ok(b.record.seq > a.record.seq, 'seq grows');

      const again = await s.revocations.add(makeRevocation({ kind: 'user', value: full.value, reason: 'again', by: 'someone' }));
      assert.deepEqual(again, { record: a.record, created: false });
      // The same value under another kind is another revocation.
      const asAgent = await s.revocations.add(makeRevocation({ kind: 'agent', value: full.value }));
      assert.equal(asAgent.created, true);
      const mine = (await readAll(s, a.record.seq - 1)).filter((r) => r.value === full.value);
      assert.deepEqual(mine.map((r) => r.kind), ['user', 'agent']);
    });

    test('since follows the log by seq, ascending and incrementally; list is newest first, by kind, limited', async () => {
      const s = await track(open());
      const tag = randomUUID();
      const start = (await readAll(s)).at(-1)?.seq ?? 0;
      const added: RevocationRecord[] = [];
      for (const kind of ['task', 'agent', 'user', 'token', 'agent'] as const) {
        added.push((await s.revocations.add(makeRevocation({ kind, value: `${tag}-${added.length}` }))).record);
      }
      const all = await readAll(s, start);
      assert.deepEqual(all, added);
      assert.deepEqual(await s.revocations.since(added[2]!.seq, 10), added.slice(3));
      assert.deepEqual(await s.revocations.since(added[0]!.seq, 2), added.slice(1, 3));
      assert.deepEqual(await s.revocations.since(added[4]!.seq, 10), []);

      assert.deepEqual((await s.revocations.list({ limit: 3 })).map((r) => r.id), [added[4], added[3], added[2]].map((r) => r!.id));
      assert.deepEqual((await s.revocations.list({ kind: 'agent', limit: 2 })).map((r) => r.id), [added[4]!.id, added[1]!.id]);
      assert.ok((await s.revocations.list({ kind: 'task' })).every((r) => r.kind === 'task'));
      const dflt = await s.revocations.list();
      assert.ok(dflt.length >= 5 && dflt.length <= 100);

      for (const bad of [0, 1.5, 10_001]) await assert.rejects(s.revocations.list({ limit: bad }), RangeError);
      await assert.rejects(s.revocations.list({ kind: 'group' as 'agent' }), RangeError);
      await assert.rejects(s.revocations.since(-1, 10), RangeError);
      await assert.rejects(s.revocations.since(0, 0), RangeError);
    });

    test('a record no revoking code would write is a RangeError and stores nothing', async () => {
      const s = await track(open());
      const bad: Partial<NewRevocation>[] = [
        { kind: 'group' as 'agent' },
        { value: '' },
        { value: 'x'.repeat(5000) },
        { revokedAt: '2100-01-01T00:00:00Z' },
        { expiresAt: 'tomorrow' },
        { by: '' },
        { id: '' },
        { reason: 42 as unknown as string },
      ];
      const ids = new Set<string>();
      for (const o of bad) {
        const r = makeRevocation(o);
        ids.add(r.id);
        await assert.rejects(s.revocations.add(r), RangeError, JSON.stringify(o).slice(0, 80));
      }
      assert.ok((await s.revocations.list({ limit: 1000 })).every((r) => !ids.has(r.id)), 'nothing was stored');
    });

    test('prune drops expired records only; a seq is never reused, even after the newest row is pruned', async () => {
      const s = await track(open());
      const kept = (await s.revocations.add(makeRevocation({ expiresAt: null }))).record;
      const later = (await s.revocations.add(makeRevocation({ kind: 'token', value: uuidv7(), expiresAt: T1 }))).record;
      const expired = (await s.revocations.add(makeRevocation({ kind: 'token', value: uuidv7(), expiresAt: PAST }))).record;
      assert.ok((await s.revocations.prune(T0)) >= 1);
      const left = await readAll(s, kept.seq - 1);
      assert.deepEqual(left.map((r) => r.id).filter((id) => [kept.id, later.id, expired.id].includes(id)), [kept.id, later.id]);
      const next = (await s.revocations.add(makeRevocation())).record;
      assert.ok(next.seq > expired.seq, `seq ${next.seq} after pruned ${expired.seq}`);
      // An expired, pruned pair can be revoked again.
      const again = await s.revocations.add(makeRevocation({ kind: 'token', value: expired.value }));
      assert.equal(again.created, true);
      await assert.rejects(s.revocations.prune('now'), RangeError);
    });

    test('lift: the record comes back on the log marked lifted (expired when made), with a new seq; list in force leaves it out; it can be revoked again', async () => {
      const s = await track(open());
      const first = (await s.revocations.add(makeRevocation({ reason: 'compromised' }))).record;
      const other = (await s.revocations.add(makeRevocation())).record;
      const lifted = await s.revocations.lift('agent', first.value, T1);
      assert.ok(lifted);
      assert.deepEqual({ ...lifted, seq: 0 }, { ...first, expiresAt: first.revokedAt, seq: 0 }, 'the same revocation, marked lifted: it expires when it was made');
      assert.ok(lifted.seq > other.seq, 'appended to the log: a reader past the old seq sees it');
      assert.deepEqual(await s.revocations.since(other.seq, 10), [lifted]);
      assert.ok(!(await readAll(s, first.seq - 1)).some((r) => r.seq === first.seq), 'the old position is gone');
      const inForce = await s.revocations.list({ inForceAt: T1, limit: 10_000 });
      assert.ok(!inForce.some((r) => r.value === first.value) && inForce.some((r) => r.value === other.value));
      assert.ok((await s.revocations.list({ kind: 'agent', inForceAt: '2099-01-01T00:00:00.000Z', limit: 10_000 })).some((r) => r.value === other.value));
      // Lifting what is not revoked (or already lifted) finds nothing and writes nothing.
      assert.equal(await s.revocations.lift('agent', first.value, T1), undefined);
      assert.equal(await s.revocations.lift('user', first.value, T1), undefined);
      assert.equal(await s.revocations.lift('agent', `agent-${randomUUID()}`, T1), undefined);
      assert.deepEqual(await s.revocations.since(lifted.seq, 10), []);
      // Revoked again after the lift: a new record, in force, after the lift on the log.
      const again = await s.revocations.add(makeRevocation({ value: first.value, revokedAt: '2100-01-02T00:00:00.000Z', reason: 'again' }));
      assert.equal(again.created, true);
      assert.equal(again.record.reason, 'again');
      assert.equal(again.record.expiresAt, null);
      assert.ok(again.record.seq > lifted.seq);
      await assert.rejects(s.revocations.lift('group' as 'agent', 'x', T1), RangeError);
      await assert.rejects(s.revocations.lift('agent', 'x', 'now'), RangeError);
      await assert.rejects(s.revocations.list({ inForceAt: 'today' }), RangeError);
    });

    test('concurrent writers on several handles: a reader following since sees every record, each once', async () => {
      const writers = [await track(open()), await track(open())];
      const reader = await track(open());
      let seq = (await readAll(reader)).at(-1)?.seq ?? 0;
      const tag = randomUUID();
      const seen = new Map<string, number>();
      let done = false;
      const follow = (async () => {
        for (;;) {
          const finished = done;
          const page = await reader.revocations.since(seq, 50);
          for (const r of page) {
            if (r.value.startsWith(tag)) seen.set(r.id, (seen.get(r.id) ?? 0) + 1);
            assert.ok(r.seq > seq, 'since returns ascending seqs after the cursor');
            seq = r.seq;
          }
          if (finished && page.length < 50) return;
          await new Promise((r) => setImmediate(r));
        }
      })();
      const ids = await Promise.all(
        Array.from({ length: 60 }, async (_, i) => (await writers[i % 2]!.revocations.add(makeRevocation({ value: `${tag}-${i}` }))).record.id),
      );
      done = true;
      await follow;
      assert.equal(seen.size, 60, 'every record was seen');
      assert.ok([...seen.values()].every((n) => n === 1), 'and each once');
      assert.deepEqual(new Set(seen.keys()), new Set(ids));
    });

    test('a closed store refuses with store_unavailable', async () => {
      const s = await open();
      await s.close();
      await assert.rejects(s.revocations.add(makeRevocation()), isClosed);
      await assert.rejects(s.revocations.since(0, 10), isClosed);
      await assert.rejects(s.revocations.list(), isClosed);
      await assert.rejects(s.revocations.prune(T0), isClosed);
      await assert.rejects(s.revocations.lift('agent', 'x', T0), isClosed);
      if (s.revocations.subscribe) await assert.rejects(s.revocations.subscribe(() => {}, () => {}), isClosed);
    });

    test('PostgreSQL: a feed hears each new revocation as it commits, reads over its own connection, and closes quietly', async (t) => {
      const s = await track(open());
      if (!s.revocations.subscribe) return t.skip('no notification channel on this backend (readers poll)');
      const heard: string[] = [];
      let lost: Error | undefined;
      const feed = await s.revocations.subscribe((id) => heard.push(id), (err) => (lost = err));
      const { record } = await s.revocations.add(makeRevocation());
      for (let i = 0; i < 100 && !heard.includes(record.id); i++) await new Promise((r) => setTimeout(r, 10));
      assert.ok(heard.includes(record.id), 'notified with the id');
      const { created } = await s.revocations.add(makeRevocation({ value: record.value }));
      assert.equal(created, false);
      assert.deepEqual(await feed.since(record.seq - 1, 10), [record]);
      await feed.close();
      await feed.close();
      await assert.rejects(feed.since(0, 1), isClosed);
      assert.equal(lost, undefined, 'closing is not a loss');
    });
  });
}
