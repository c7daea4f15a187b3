/**
 * The tool integrity pins on each backend: first use pins only while a name has no pin, a changed digest is
 * pending, approving supersedes the old pin in one statement, rejecting applies to pending ones only, and
 * concurrent first uses (two replicas) leave exactly one pin.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { PinRecord, Store } from '../../src/store/index.js';
import { trackedStores } from './tracked.js';

let n = 0;
const AT = '2026-12-05T04:00:00.000Z';
const pin = (over: Partial<PinRecord> = {}): PinRecord => ({
  upstream: 'u',
  kind: 'tool',
  name: 'add',
  digest: `sha256:${String(++n).padStart(64, '0')}`,
  definition: '{"name":"add"}',
  findings: [],
  state: 'approved',
  firstSeenAt: AT,
  decidedAt: AT,
  decidedBy: 'trust-on-first-use',
  ...over,
});

export function runPinsSuite(name: string, open: () => Promise<Store>): void {
  describe(`store suite (pins): ${name}`, () => {
    const track = trackedStores();

    test('first use pins; a second digest is pending; approving supersedes; the same digest again changes nothing', async () => {
      const s = await track(open());
      const upstream = `u${++n}`;
      const first = await s.integrity.observe(pin({ upstream, findings: ['unknown-url'] }));
      assert.equal(first.created, true);
      assert.equal(first.record.state, 'approved');
      assert.deepEqual(first.record.findings, ['unknown-url']);
      const again = await s.integrity.observe(pin({ upstream, digest: first.record.digest }));
      assert.equal(again.created, false);
      // Offered as a first-use pin, but the name has one: kept pending, undecided.
      const changed = await s.integrity.observe(pin({ upstream, definition: '{"name":"add","description":"x"}' }));
      assert.equal(changed.created, true);
      assert.equal(changed.record.state, 'pending');
      assert.equal(changed.record.decidedBy, null);
      const approved = await s.integrity.decide(upstream, 'tool', 'add', changed.record.digest, 'approved', 'alice', '2026-12-05T04:01:00.000Z');
      assert.equal(approved?.state, 'approved');
      assert.equal(approved?.decidedBy, 'alice');
      const all = await s.integrity.list({ upstream });
      assert.deepEqual(all.map((p) => [p.digest, p.state]).sort(), [[first.record.digest, 'superseded'], [changed.record.digest, 'approved']].sort());
      assert.equal((await s.integrity.list({ upstream, state: 'approved' })).length, 1);
      // Approving the approved one again: nothing to decide.
      assert.equal(await s.integrity.decide(upstream, 'tool', 'add', changed.record.digest, 'approved', 'bob', AT), undefined);
      assert.equal((await s.integrity.list({ upstream, state: 'approved' }))[0]!.decidedBy, 'alice');
    });

    test('reject applies to a pending definition only; a rejected one can still be approved later', async () => {
      const s = await track(open());
      const upstream = `u${++n}`;
      const first = await s.integrity.observe(pin({ upstream }));
      const pending = await s.integrity.observe(pin({ upstream, state: 'pending', decidedAt: null, decidedBy: null }));
      assert.equal(await s.integrity.decide(upstream, 'tool', 'add', first.record.digest, 'rejected', 'alice', AT), undefined, 'a pin is not rejected, only replaced');
      assert.equal((await s.integrity.decide(upstream, 'tool', 'add', pending.record.digest, 'rejected', 'alice', AT))?.state, 'rejected');
      assert.equal((await s.integrity.list({ upstream, state: 'approved' }))[0]!.digest, first.record.digest);
      assert.equal((await s.integrity.decide(upstream, 'tool', 'add', pending.record.digest, 'approved', 'bob', AT))?.state, 'approved');
      assert.equal((await s.integrity.list({ upstream, state: 'approved' }))[0]!.digest, pending.record.digest);
    });

    test('pins are per upstream and kind: the same name elsewhere is its own pin', async () => {
      const s = await track(open());
      const a = `u${++n}`;
      const b = `u${++n}`;
      assert.equal((await s.integrity.observe(pin({ upstream: a }))).record.state, 'approved');
      assert.equal((await s.integrity.observe(pin({ upstream: b }))).record.state, 'approved');
      assert.equal((await s.integrity.observe(pin({ upstream: a, kind: 'prompt' }))).record.state, 'approved');
      assert.equal((await s.integrity.list({ upstream: a })).length, 2);
    });

    test('concurrent first uses of different definitions (two replicas): one pin, the others pending', async () => {
      const [s1, s2] = [await track(open()), await track(open())];
      const upstream = `u${++n}`;
      const results = await Promise.all([s1, s2, s1, s2].map((s) => s.integrity.observe(pin({ upstream }))));
      assert.ok(results.every((r) => r.created));
      const approved = (await s1.integrity.list({ upstream })).filter((p) => p.state === 'approved');
      assert.equal(approved.length, 1, 'exactly one pin');
    });

    test('malformed records are refused before the database', async () => {
      const s = await track(open());
      await assert.rejects(s.integrity.observe(pin({ kind: 'resource' as never })), RangeError);
      await assert.rejects(s.integrity.observe(pin({ definition: 'x'.repeat(300 * 1024) })), RangeError);
      await assert.rejects(s.integrity.observe(pin({ firstSeenAt: 'yesterday' })), RangeError);
    });
  });
}
