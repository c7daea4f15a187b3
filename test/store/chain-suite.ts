/**
 * The shared suite's part for schema version 3: the audit hash chain, checkpoints and checkpoint keys. Run by
 * runStoreSuite on every backend. Tests share one database with the rest of the suite, so each looks only at
 * the links it appended and uses checkpoint seqs and kids nobody else writes.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { eventHash, GENESIS_HASH } from '../../src/audit/chain.js';
import type { AuditEvent } from '../../src/audit/event.js';
import { StoreError, type AuditCheckpoint, type Store } from '../../src/store/index.js';

/** An event without its chain fields (seq, prevHash, hash), as appended. */
export function unchain(e: AuditEvent): AuditEvent {
  const { seq: _seq, prevHash: _prev, hash: _hash, ...rest } = e;
  return rest;
}

/** Asserts `got` are the chain links of `sent`, in order, right after `prevHash`. */
function assertLinked(got: AuditEvent[], sent: AuditEvent[], firstSeq: number, prevHash: string): void {
  assert.deepEqual(got.map(unchain), sent);
  let prev = prevHash;
  got.forEach((e, i) => {
    assert.equal(e.seq, firstSeq + i);
    assert.equal(e.prevHash, prev);
    assert.equal(e.hash, eventHash(prev, sent[i]!));
    prev = e.hash!;
  });
}

let cpSeq = 1_000_000_000 + Math.floor(Math.random() * 1_000_000) * 100;
function makeCheckpoint(overrides: Partial<AuditCheckpoint> = {}): AuditCheckpoint {
  cpSeq += 1;
  return {
    seq: cpSeq,
    hash: 'c'.repeat(64),
    createdAt: new Date().toISOString(),
    instance: 'suite',
    kid: 'kid-1',
    publicJwk: { kty: 'EC', crv: 'P-256', x: 'x', y: 'y' },
    signature: 'header.payload.signature',
    ...overrides,
  };
}

export function runChainSuite(name: string, open: () => Promise<Store>, makeEvent: (o?: Partial<AuditEvent>) => AuditEvent): void {
  describe(`store suite (audit chain): ${name}`, () => {
    const opened: Store[] = [];
    const openTracked = async (): Promise<Store> => {
      const s = await open();
      opened.push(s);
      return s;
    };
    after(async () => {
      for (const s of opened) await s.close();
    });

    test('appended events are linked after the head, batch after batch', async () => {
      const s = await openTracked();
      const before = await s.audit.head();
      const first = [makeEvent(), makeEvent({ sessionId: null, chain: ['a', 'b'] })];
      const second = Array.from({ length: 5 }, () => makeEvent());
      await s.audit.append(first);
      await s.audit.append(second);
      const firstSeq = (before?.seq ?? 0) + 1;
      const got = await s.audit.readChain(firstSeq - 1, 100);
      assertLinked(got.slice(0, 7), [...first, ...second], firstSeq, before?.hash ?? GENESIS_HASH);
      assert.deepEqual(await s.audit.head(), { seq: firstSeq + 6, hash: got[6]!.hash });
      // tail() carries the same chain fields.
      assert.deepEqual((await s.audit.tail({ limit: 7 })).map((e) => e.seq), got.slice(0, 7).map((e) => e.seq));
    });

    test('readChain pages by seq and checks its arguments', async () => {
      const s = await openTracked();
      await s.audit.append(Array.from({ length: 10 }, () => makeEvent()));
      const head = (await s.audit.head())!;
      const page = await s.audit.readChain(head.seq - 6, 3);
      assert.deepEqual(page.map((e) => e.seq), [head.seq - 5, head.seq - 4, head.seq - 3]);
      assert.deepEqual(await s.audit.readChain(head.seq, 10), []);
      await assert.rejects(s.audit.readChain(-1, 1), RangeError);
      await assert.rejects(s.audit.readChain(0, 1.5), RangeError);
    });

    test('a failing batch takes no seq: the next batch continues the chain', async () => {
      const s = await openTracked();
      const dup = makeEvent();
      await s.audit.append([dup]);
      const head = (await s.audit.head())!;
      await assert.rejects(s.audit.append([makeEvent(), { ...dup }]), (e: unknown) => e instanceof StoreError);
      const next = makeEvent();
      await s.audit.append([next]);
      assertLinked(await s.audit.readChain(head.seq, 10), [next], head.seq + 1, head.hash);
    });

    test('two handles appending concurrently build one contiguous chain', async () => {
      const [a, b] = [await openTracked(), await openTracked()];
      const start = (await a.audit.head())?.seq ?? 0;
      const sent: AuditEvent[] = [];
      const write = async (s: Store, n: number) => {
        for (let i = 0; i < n; i++) {
          const batch = [makeEvent(), makeEvent()];
          sent.push(...batch);
          await s.audit.append(batch);
        }
      };
      await Promise.all([write(a, 20), write(b, 20)]);
      const got = await a.audit.readChain(start, 1000);
      assert.equal(got.length, 80);
      got.forEach((e, i) => {
        assert.equal(e.seq, start + 1 + i);
        if (i > 0) assert.equal(e.prevHash, got[i - 1]!.hash);
        assert.equal(e.hash, eventHash(e.prevHash!, unchain(e)));
      });
      assert.deepEqual(new Set(got.map((e) => e.id)), new Set(sent.map((e) => e.id)));
      assert.equal(await a.audit.firstUnchained(), undefined);
    });

    test('checkpoints: add once per seq, read by seq, last', async () => {
      const s = await openTracked();
      const c1 = makeCheckpoint();
      const c2 = makeCheckpoint({ kid: 'kid-2', publicJwk: { kty: 'OKP', crv: 'Ed25519', x: 'ü' } });
      assert.equal(await s.audit.addCheckpoint(c1), true);
      assert.equal(await s.audit.addCheckpoint(c2), true);
      assert.equal(await s.audit.addCheckpoint({ ...c1, hash: 'd'.repeat(64) }), false, 'one checkpoint per seq');
      assert.deepEqual(await s.audit.checkpoints(c1.seq - 1, 10), [c1, c2]);
      assert.deepEqual(await s.audit.checkpoints(c1.seq, 1), [c2]);
      assert.deepEqual(await s.audit.lastCheckpoint(), c2);
      await assert.rejects(s.audit.addCheckpoint(makeCheckpoint({ createdAt: 'yesterday' })), RangeError);
      await assert.rejects(s.audit.addCheckpoint({ ...makeCheckpoint(), seq: 0 }), RangeError);
    });

    test('checkpoint keys: the first record of a kid is kept', async () => {
      const s = await openTracked();
      const kid = `audit-${randomUUID()}`;
      const key = { kid, alg: 'ES256', publicJwk: { kty: 'EC', crv: 'P-256', x: 'x1', y: 'y1' }, firstUsedAt: '2100-01-01T00:00:00.000Z' };
      await s.audit.registerKey(key);
      await s.audit.registerKey({ ...key, publicJwk: { kty: 'EC', x: 'other' }, firstUsedAt: '2100-02-01T00:00:00.000Z' });
      const mine = (await s.audit.keys()).filter((k) => k.kid === kid);
      assert.deepEqual(mine, [key]);
    });

    test('a closed store rejects the chain calls', async () => {
      const s = await open();
      await s.close();
      const isClosed = (e: unknown) => e instanceof StoreError && e.code === 'store_unavailable';
      await assert.rejects(s.audit.head(), isClosed);
      await assert.rejects(s.audit.readChain(0, 1), isClosed);
      await assert.rejects(s.audit.firstUnchained(), isClosed);
      await assert.rejects(s.audit.addCheckpoint(makeCheckpoint()), isClosed);
      await assert.rejects(s.audit.checkpoints(0, 1), isClosed);
      await assert.rejects(s.audit.lastCheckpoint(), isClosed);
      await assert.rejects(s.audit.keys(), isClosed);
    });
  });
}
