/**
 * The shared suite's part for schema version 7: the ApprovalStore contract. `open` returns a new handle on one
 * database that only this suite writes approvals to; ids are UUIDv7 from one process, so a test's approvals
 * are always the newest, and each test uses digests of its own.
 */
import { exactlyOneWins, trackedStores } from './tracked.js';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { uuidv7 } from '../../src/core/ids.js';
import { StoreError, type ApprovalRecord, type Store } from '../../src/store/index.js';

/** Created, a moment inside the window, one millisecond before expiry, expiry, and after it. */
const T0 = '2100-01-01T00:00:00.000Z';
const MID = '2100-01-01T00:30:00.000Z';
const LAST = '2100-01-01T00:59:59.999Z';
const T1 = '2100-01-01T01:00:00.000Z';
const T2 = '2100-01-01T02:00:00.000Z';

const isStoreError = (e: unknown) => e instanceof StoreError;
const isClosed = (e: unknown) => e instanceof StoreError && e.code === 'store_unavailable';

export const newDigest = (): string => randomBytes(32).toString('hex');

export function makeApproval(overrides: Partial<ApprovalRecord> = {}): ApprovalRecord {
  return {
    id: uuidv7(),
    digest: newDigest(),
    agent: 'agent-1',
    user: 'alice',
    tenant: 'acme',
    chain: ['orchestrator'],
    task: uuidv7(),
    upstream: 'github',
    tool: 'github__delete_repo',
    arguments: '{"repo":"acme/site"}',
    reason: 'destructive tools need a human',
    policyIds: ['approve-destructive'],
    createdAt: T0,
    expiresAt: T1,
    state: 'pending',
    decidedBy: null,
    decidedAt: null,
    decisionReason: null,
    consumedAt: null,
    ...overrides,
  };
}

export function runApprovalsSuite(name: string, open: () => Promise<Store>): void {
  describe(`store suite (approvals): ${name}`, () => {
    const track = trackedStores();

    /** A stored request, approved by `alice` at T0. */
    const approved = async (s: Store, overrides: Partial<ApprovalRecord> = {}): Promise<ApprovalRecord> => {
      const r = makeApproval(overrides);
      await s.approvals.create(r);
      const done = await s.approvals.decide(r.id, 'approved', 'alice', null, T0);
      assert.ok(done);
      return done;
    };

    test('create then get round-trips every field: nulls, empty lists, unicode; an unknown id is undefined', async () => {
      const s = await track(open());
      const full = makeApproval({
        user: 'ålice@example.com',
        tenant: 'tënant ✓',
        chain: ['planner', 'orchestrator', 'ünïcødé ✓'],
        tool: 'db__drop_table',
        arguments: '{"table":"users","note":"— \\"quoted\\"\\nline two"}',
        reason: 'drops a "prod" table — carefully\nline two',
        policyIds: ['approve-destructive', 'prod-writes'],
      });
      const sparse = makeApproval({ user: null, tenant: null, chain: [], task: null, arguments: null, reason: '', policyIds: [] });
      for (const r of [full, sparse]) await s.approvals.create(r);
      assert.deepEqual(await s.approvals.get(full.id), full);
      assert.deepEqual(await s.approvals.get(sparse.id), sparse);
      const got = await s.approvals.get(sparse.id);
      assert.equal(got?.user, null);
      assert.equal(got?.tenant, null);
      assert.equal(got?.task, null);
      assert.equal(got?.arguments, null);
      assert.deepEqual(got?.chain, []);
      assert.deepEqual(got?.policyIds, []);
      assert.equal(await s.approvals.get(uuidv7()), undefined);
      assert.equal(await s.approvals.get('not-a-uuid'), undefined);
    });

    test('a duplicate id is refused and the stored request is unchanged', async () => {
      const s = await track(open());
      const r = makeApproval();
      await s.approvals.create(r);
      await assert.rejects(s.approvals.create({ ...r, digest: newDigest(), agent: 'other', tool: 'everything' }), isStoreError);
      await assert.rejects(s.approvals.create(r), isStoreError);
      assert.deepEqual(await s.approvals.get(r.id), r);
      // Nor can a duplicate overwrite a decision.
      const done = await s.approvals.decide(r.id, 'denied', 'bob', 'no', MID);
      await assert.rejects(s.approvals.create(r), isStoreError);
      assert.deepEqual(await s.approvals.get(r.id), done);
    });

    test('a record no approval service would write is a RangeError and stores nothing', async () => {
      const s = await track(open());
      const bad: Partial<ApprovalRecord>[] = [
        { createdAt: '2100-01-01T00:00:00Z' },
        { expiresAt: 'tomorrow' },
        { state: 'paused' as ApprovalRecord['state'] },
        // Only pending requests are created: an approval comes from decide, never from create.
        { state: 'approved', decidedBy: 'alice', decidedAt: T0 },
        { state: 'consumed', decidedBy: 'alice', decidedAt: T0, consumedAt: T0 },
        { state: 'denied', decidedBy: 'alice', decidedAt: T0 },
        { decidedBy: 'alice' },
        { decidedAt: T0 },
        { decisionReason: 'because' },
        { consumedAt: T0 },
        { digest: 'abc' },
        { digest: newDigest().toUpperCase() },
        { digest: '' },
        { agent: '' },
        { upstream: '' },
        { tool: '' },
        { id: '' },
        { chain: 'orchestrator' as unknown as string[] },
        { policyIds: [1] as unknown as string[] },
        { arguments: { repo: 'x' } as unknown as string },
        { user: 7 as unknown as string },
      ];
      for (const o of bad) {
        const r = makeApproval(o);
        await assert.rejects(s.approvals.create(r), RangeError, JSON.stringify(o));
        if (r.id !== '') assert.equal(await s.approvals.get(r.id), undefined);
      }
    });

    test('list: newest first, filtered by state, limited', async () => {
      const s = await track(open());
      const [a, b, c, d, e] = Array.from({ length: 5 }, () => makeApproval());
      for (const r of [a, b, c, d, e]) await s.approvals.create(r as ApprovalRecord);
      const ok = await s.approvals.decide(b!.id, 'approved', 'alice', 'fine', MID);
      const no = await s.approvals.decide(c!.id, 'denied', 'bob', null, MID);
      await s.approvals.decide(e!.id, 'approved', 'alice', null, MID);
      const used = await s.approvals.consume(e!.digest, MID);
      const ids = (rs: ApprovalRecord[]) => rs.map((r) => r.id);

      // These are the newest approvals in the database.
      assert.deepEqual(await s.approvals.list({ limit: 5 }), [used, d, no, ok, a]);
      assert.deepEqual(ids(await s.approvals.list({ limit: 2 })), [e!.id, d!.id]);
      assert.deepEqual(ids(await s.approvals.list({ state: 'pending', limit: 2 })), [d!.id, a!.id]);
      assert.deepEqual(ids(await s.approvals.list({ state: 'approved', limit: 1 })), [b!.id]);
      assert.deepEqual(ids(await s.approvals.list({ state: 'denied', limit: 1 })), [c!.id]);
      assert.deepEqual(ids(await s.approvals.list({ state: 'consumed', limit: 1 })), [e!.id]);
      for (const state of ['pending', 'approved', 'denied', 'consumed'] as const) {
        const rs = await s.approvals.list({ state });
        assert.ok(rs.length >= 1 && rs.every((r) => r.state === state), state);
        assert.deepEqual(ids(rs), ids(rs).slice().sort().reverse(), 'newest (highest id) first');
      }
      const all = await s.approvals.list();
      assert.ok(all.length >= 5 && all.length <= 100, `default limit: ${all.length}`);
      assert.deepEqual(ids(all), ids(all).slice().sort().reverse(), 'newest (highest id) first');

      await assert.rejects(s.approvals.list({ limit: 0 }), RangeError);
      await assert.rejects(s.approvals.list({ limit: 1.5 }), RangeError);
      await assert.rejects(s.approvals.list({ limit: 10_001 }), RangeError);
      await assert.rejects(s.approvals.list({ state: 'paused' as ApprovalRecord['state'] }), RangeError);
    });

    test('list honours the default limit of 100', async () => {
      const s = await track(open());
      const rs = Array.from({ length: 105 }, () => makeApproval());
      for (const r of rs) await s.approvals.create(r);
      const listed = await s.approvals.list();
      assert.equal(listed.length, 100);
      assert.deepEqual(listed[0], rs[104]);
      assert.deepEqual(listed[99], rs[5]);
      assert.deepEqual((await s.approvals.list({ limit: 105 })).map((r) => r.id), rs.map((r) => r.id).reverse());
    });

    test('decide is a compare-and-set: pending -> approved once; then undefined and unchanged', async () => {
      const s = await track(open());
      const r = makeApproval();
      await s.approvals.create(r);
      const done = await s.approvals.decide(r.id, 'approved', 'alice', 'looks right', MID);
      assert.deepEqual(done, { ...r, state: 'approved', decidedBy: 'alice', decidedAt: MID, decisionReason: 'looks right' });
      assert.deepEqual(await s.approvals.get(r.id), done);
      // A second decision, either way, changes nothing.
      assert.equal(await s.approvals.decide(r.id, 'denied', 'mallory', 'no', LAST), undefined);
      assert.equal(await s.approvals.decide(r.id, 'approved', 'mallory', null, LAST), undefined);
      assert.deepEqual(await s.approvals.get(r.id), done);

      const d = makeApproval({ user: null, tenant: null, task: null });
      await s.approvals.create(d);
      assert.deepEqual(await s.approvals.decide(d.id, 'denied', 'bob', null, MID), { ...d, state: 'denied', decidedBy: 'bob', decidedAt: MID });
      assert.equal(await s.approvals.decide(d.id, 'approved', 'alice', null, MID), undefined);
      assert.equal((await s.approvals.get(d.id))?.state, 'denied');

      // A consumed approval cannot be decided again.
      assert.ok(await s.approvals.consume(r.digest, MID));
      assert.equal(await s.approvals.decide(r.id, 'approved', 'alice', null, MID), undefined);
      assert.equal((await s.approvals.get(r.id))?.state, 'consumed');

      assert.equal(await s.approvals.decide(uuidv7(), 'approved', 'alice', null, MID), undefined);
    });

    test('a sealed call is read only while its request is pending and unexpired; a decision deletes it, forgetCalls deletes expired ones', async () => {
      const s = await track(open());
      const kept = makeApproval();
      await s.approvals.create(kept, 'v1.sealed-kept');
      assert.equal(await s.approvals.sealedCall(kept.id, MID), 'v1.sealed-kept');
      assert.equal(await s.approvals.sealedCall(kept.id, T1), undefined, 'not at expiry');
      assert.deepEqual(await s.approvals.get(kept.id), kept, 'the record itself does not carry it');
      const none = makeApproval();
      await s.approvals.create(none);
      assert.equal(await s.approvals.sealedCall(none.id, MID), undefined, 'none kept');
      assert.equal(await s.approvals.sealedCall(uuidv7(), MID), undefined, 'unknown id');

      // Deciding deletes it in the same statement, either way; forgetCalls then finds nothing of it.
      for (const state of ['approved', 'denied'] as const) {
        const r = makeApproval();
        await s.approvals.create(r, `v1.sealed-${state}`);
        assert.ok(await s.approvals.decide(r.id, state, 'alice', null, MID));
        assert.equal(await s.approvals.sealedCall(r.id, T0), undefined, `gone once ${state}`);
      }
      assert.equal(await s.approvals.forgetCalls(T0), 0, 'the decisions deleted their copies already');
      const later = makeApproval({ createdAt: T1, expiresAt: T2 });
      await s.approvals.create(later, 'v1.sealed-later');
      // At T1 the first request has expired: forgetCalls deletes its copy (so an earlier clock reads nothing
      // either), and leaves the unexpired one.
      assert.ok((await s.approvals.forgetCalls(T1)) >= 1);
      assert.equal(await s.approvals.sealedCall(kept.id, MID), undefined, 'deleted, not only hidden');
      assert.equal(await s.approvals.sealedCall(later.id, T1), 'v1.sealed-later');
      assert.equal(await s.approvals.forgetCalls(T1), 0, 'nothing left to forget');
      await assert.rejects(s.approvals.create(makeApproval(), ''), RangeError);
      await assert.rejects(s.approvals.sealedCall(kept.id, 'now'), RangeError);
      await assert.rejects(s.approvals.forgetCalls('now'), RangeError);
    });

    test('an expired request cannot be decided: it stays pending', async () => {
      const s = await track(open());
      const r = makeApproval();
      await s.approvals.create(r);
      assert.equal(await s.approvals.decide(r.id, 'approved', 'alice', null, T1), undefined, 'void at expiresAt');
      assert.equal(await s.approvals.decide(r.id, 'approved', 'alice', null, T2), undefined, 'void after expiresAt');
      assert.equal(await s.approvals.decide(r.id, 'denied', 'alice', null, T2), undefined);
      assert.deepEqual(await s.approvals.get(r.id), r);
      // One millisecond before expiry it still can be.
      assert.equal((await s.approvals.decide(r.id, 'approved', 'alice', null, LAST))?.state, 'approved');
    });

    test('decide checks its arguments before touching the request', async () => {
      const s = await track(open());
      const r = makeApproval();
      await s.approvals.create(r);
      await assert.rejects(s.approvals.decide(r.id, 'pending' as 'approved', 'alice', null, MID), RangeError);
      await assert.rejects(s.approvals.decide(r.id, 'consumed' as 'approved', 'alice', null, MID), RangeError);
      await assert.rejects(s.approvals.decide(r.id, 'approved', '', null, MID), RangeError);
      await assert.rejects(s.approvals.decide(r.id, 'approved', 'alice', 5 as unknown as string, MID), RangeError);
      await assert.rejects(s.approvals.decide(r.id, 'approved', 'alice', null, 'now'), RangeError);
      await assert.rejects(s.approvals.decide(r.id, 'approved', 'alice', null, '2100-01-01T00:30:00Z'), RangeError);
      assert.deepEqual(await s.approvals.get(r.id), r);
    });

    test('consume: an approved, unexpired request with the digest -> consumed, once', async () => {
      const s = await track(open());
      const a = await approved(s);
      const used = await s.approvals.consume(a.digest, MID);
      assert.deepEqual(used, { ...a, state: 'consumed', consumedAt: MID });
      assert.deepEqual(await s.approvals.get(a.id), used);
      assert.equal(await s.approvals.consume(a.digest, MID), undefined, 'single use');
      assert.deepEqual(await s.approvals.get(a.id), used);
      assert.equal(await s.approvals.consume(newDigest(), MID), undefined, 'no request with this digest');
    });

    test('consume never takes a pending, denied or expired request', async () => {
      const s = await track(open());
      const pending = makeApproval();
      await s.approvals.create(pending);
      assert.equal(await s.approvals.consume(pending.digest, MID), undefined);
      assert.deepEqual(await s.approvals.get(pending.id), pending);

      const denied = makeApproval();
      await s.approvals.create(denied);
      const no = await s.approvals.decide(denied.id, 'denied', 'bob', 'no', MID);
      assert.equal(await s.approvals.consume(denied.digest, MID), undefined);
      assert.deepEqual(await s.approvals.get(denied.id), no);

      const late = await approved(s);
      assert.equal(await s.approvals.consume(late.digest, T1), undefined, 'void at expiresAt');
      assert.equal(await s.approvals.consume(late.digest, T2), undefined, 'void after expiresAt');
      assert.deepEqual(await s.approvals.get(late.id), late, 'an expired approval stays approved, unused');
      assert.equal((await s.approvals.consume(late.digest, LAST))?.consumedAt, LAST);
    });

    test('consume takes the oldest of several approvals for one digest, each once', async () => {
      const s = await track(open());
      const digest = newDigest();
      const first = await approved(s, { digest });
      const expired = await approved(s, { digest, expiresAt: MID });
      const second = await approved(s, { digest, expiresAt: T2 });
      const pending = makeApproval({ digest });
      await s.approvals.create(pending);
      assert.equal((await s.approvals.consume(digest, LAST))?.id, first.id);
      assert.equal((await s.approvals.consume(digest, LAST))?.id, second.id, 'the expired one is skipped');
      assert.equal(await s.approvals.consume(digest, LAST), undefined);
      assert.equal((await s.approvals.get(expired.id))?.state, 'approved');
      assert.equal((await s.approvals.get(pending.id))?.state, 'pending');
    });

    test('pendingFor: the newest pending, unexpired request with the digest', async () => {
      const s = await track(open());
      const digest = newDigest();
      assert.equal(await s.approvals.pendingFor(digest, MID), undefined);
      const older = makeApproval({ digest, expiresAt: T2 });
      const newer = makeApproval({ digest });
      const other = makeApproval();
      for (const r of [older, newer, other]) await s.approvals.create(r);
      assert.deepEqual(await s.approvals.pendingFor(digest, MID), newer);
      // At newer's expiry, only older is still waiting.
      assert.deepEqual(await s.approvals.pendingFor(digest, T1), older);
      assert.equal(await s.approvals.pendingFor(digest, T2), undefined);
      // Decided requests are not pending.
      await s.approvals.decide(newer.id, 'approved', 'alice', null, MID);
      assert.deepEqual(await s.approvals.pendingFor(digest, MID), older);
      await s.approvals.decide(older.id, 'denied', 'alice', null, MID);
      assert.equal(await s.approvals.pendingFor(digest, MID), undefined);
      assert.deepEqual(await s.approvals.pendingFor(other.digest, MID), other);
    });

    test('consume and pendingFor check their arguments', async () => {
      const s = await track(open());
      const a = await approved(s);
      for (const call of [s.approvals.consume.bind(s.approvals), s.approvals.pendingFor.bind(s.approvals)]) {
        await assert.rejects(call('abc', MID), RangeError);
        await assert.rejects(call(a.digest.toUpperCase(), MID), RangeError);
        await assert.rejects(call(a.digest, 'now'), RangeError);
        await assert.rejects(call(a.digest, '2100-01-01T00:30:00Z'), RangeError);
      }
      assert.deepEqual(await s.approvals.get(a.id), a);
    });

    test('concurrent consumes: exactly one gets the approval, on one handle and across two (as two replicas)', async () => {
      const a = await track(open());
      const b = await track(open());
      await exactlyOneWins(a, b, 20, async (x, y) => {
        const r = await approved(x);
        const results = await Promise.all([x.approvals.consume(r.digest, MID), y.approvals.consume(r.digest, LAST), x.approvals.consume(r.digest, MID), y.approvals.consume(r.digest, LAST)]);
        return { results, read: (st) => st.approvals.get(r.id) };
      });
    });

    test('concurrent consumes of two approvals for one digest: each is taken exactly once', async () => {
      const a = await track(open());
      const b = await track(open());
      for (let i = 0; i < 10; i++) {
        const digest = newDigest();
        const first = await approved(a, { digest });
        const second = await approved(a, { digest });
        const results = await Promise.all([a, b, a, b, a, b].map((s) => s.approvals.consume(digest, MID)));
        const won = results.filter((w) => w !== undefined).map((w) => w.id);
        assert.deepEqual(won.slice().sort(), [first.id, second.id], JSON.stringify(results));
      }
    });

    test('concurrent decisions: exactly one wins, on one handle and across two', async () => {
      const a = await track(open());
      const b = await track(open());
      await exactlyOneWins(a, b, 10, async (x, y) => {
        const r = makeApproval();
        await x.approvals.create(r);
        const results = await Promise.all([x.approvals.decide(r.id, 'approved', 'alice', null, MID), y.approvals.decide(r.id, 'denied', 'bob', 'no', LAST)]);
        return { results, read: (st) => st.approvals.get(r.id) };
      });
    });

    test('a closed store rejects the approval calls', async () => {
      const s = await open();
      const r = makeApproval();
      await s.approvals.create(r);
      await s.approvals.decide(r.id, 'approved', 'alice', null, MID);
      const stored = await s.approvals.get(r.id);
      await s.close();
      await assert.rejects(s.approvals.create(makeApproval()), isClosed);
      await assert.rejects(s.approvals.get(r.id), isClosed);
      await assert.rejects(s.approvals.list(), isClosed);
      await assert.rejects(s.approvals.decide(r.id, 'denied', 'bob', null, MID), isClosed);
      await assert.rejects(s.approvals.consume(r.digest, MID), isClosed);
      await assert.rejects(s.approvals.pendingFor(r.digest, MID), isClosed);
      const again = await track(open());
      assert.deepEqual(await again.approvals.get(r.id), stored, 'the refused calls changed nothing');
    });
  });
}
