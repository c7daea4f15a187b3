/**
 * The shared suite's part for schema version 2: the audit principal columns, signing keys, replay markers
 * and issued tokens. Run by runStoreSuite, so every backend passes it. Tests share one database, so each
 * uses its own ids and a time range (2000 for expired, 2100 for future) no other test writes to.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { eventHash, GENESIS_HASH } from '../../src/audit/chain.js';
import type { AuditEvent } from '../../src/audit/event.js';
import { StoreError, type Store } from '../../src/store/index.js';
import type { IssuedTokenRecord, SigningKeyRecord } from '../../src/store/types.js';
import { unchain } from './chain-suite.js';

export interface SuiteHooks {
  /**
   * Creates a NEW database migrated with version 1 only, stores `row` (version-1 audit columns) in it
   * directly, then opens it with every migration. The suite closes the store it returns.
   */
  openUpgradedFromV1(row: Record<string, string | number | null>): Promise<Store>;
}

const isStoreError = (e: unknown) => e instanceof StoreError && e.code === 'store_unavailable';
const FUTURE = '2100-01-01T00:00:00.000Z';
const day = (d: number): string => new Date(Date.UTC(2100, 0, d)).toISOString();

function makeKey(kid: string, createdDay: number, expireDay: number): SigningKeyRecord {
  return {
    kid,
    alg: 'ES256',
    publicJwk: { kty: 'EC', crv: 'P-256', x: `x-${kid}`, y: 'y', kid },
    privateKey: `wk1.0123456789abcdef.sealed-${kid}`,
    createdAt: day(createdDay),
    retireAt: day(createdDay + 1),
    expireAt: day(expireDay),
  };
}

export function runIdentitySuite(
  name: string,
  open: () => Promise<Store>,
  hooks: SuiteHooks,
  makeEvent: (o?: Partial<AuditEvent>) => AuditEvent,
): void {
  describe(`store suite (identity): ${name}`, () => {
    const opened: Store[] = [];
    const openTracked = async (): Promise<Store> => {
      const s = await open();
      opened.push(s);
      return s;
    };
    after(async () => {
      for (const s of opened) await s.close();
    });

    test('audit principal fields round-trip, chains of any length and nulls included', async () => {
      const s = await openTracked();
      const events = [
        makeEvent({ agent: 'spiffe://acme/agent/b', user: 'ü@example.com', tenant: 't1', chain: ['a1', 'a2', 'a3'], authMethod: 'gateway-token' }),
        makeEvent({ chain: ['only'], authMethod: 'mtls' }),
        makeEvent({ agent: null, user: null, tenant: null, chain: [], authMethod: null }),
        makeEvent({ agent: 'x', user: null, tenant: null, chain: ['with "quotes", commas', ''], authMethod: 'none' }),
      ];
      await s.audit.append(events);
      assert.deepEqual((await s.audit.tail({ limit: events.length })).map(unchain), events);
    });

    test('an event written before migration 2 reads back with chain [] and null principal', async () => {
      const e = makeEvent({ agent: null, user: null, tenant: null, chain: [], authMethod: null });
      const s = await hooks.openUpgradedFromV1({
        id: e.id,
        time: e.time,
        instance: e.instance,
        session_id: e.sessionId,
        protocol_version: e.protocolVersion,
        method: e.method,
        upstream: e.upstream,
        target: e.target,
        args_digest: e.argsDigest,
        outcome: e.outcome,
        error_code: e.errorCode,
        latency_ms: e.latencyMs,
      });
      try {
        assert.ok((await s.schemaVersion()) >= 2);
        const [old] = await s.audit.tail({ limit: 10 });
        assert.deepEqual(unchain(old!), e);
        // Migration 3 linked the old row as the chain's first event.
        assert.deepEqual([old!.seq, old!.prevHash, old!.hash], [1, GENESIS_HASH, eventHash(GENESIS_HASH, e)]);
        const later = makeEvent({ chain: ['c1', 'c2'] });
        await s.audit.append([later]);
        const both = await s.audit.tail({ limit: 10 });
        assert.deepEqual(both.map(unchain), [e, later]);
        assert.deepEqual([both[1]!.seq, both[1]!.prevHash], [2, old!.hash]);
      } finally {
        await s.close();
      }
    });

    test('signing keys: round-trip, newest first, expiry filter, prune', async () => {
      const s = await openTracked();
      const p = `k-${randomUUID()}-`;
      const mine = (keys: SigningKeyRecord[]) => keys.filter((k) => k.kid.startsWith(p)).map((k) => k.kid);
      const [old, k1, k2, k3] = [makeKey(`${p}old`, 1, 10), makeKey(`${p}1`, 2, 60), makeKey(`${p}2`, 3, 32), makeKey(`${p}3`, 4, 90)];
      for (const k of [k1!, old!, k3!, k2!]) await s.keys.insert(k);

      assert.deepEqual(mine(await s.keys.list(day(5))), [k3!.kid, k2!.kid, k1!.kid, old!.kid]);
      const listed = await s.keys.list(day(20));
      assert.deepEqual(mine(listed), [k3!.kid, k2!.kid, k1!.kid]);
      assert.deepEqual(listed.find((k) => k.kid === k1!.kid), k1);
      // expireAt must be after now: a key expiring exactly now is gone.
      assert.deepEqual(mine(await s.keys.list(k2!.expireAt)), [k3!.kid, k1!.kid]);

      assert.equal(await s.keys.prune(k2!.expireAt), 2); // old and k2
      assert.equal(await s.keys.prune(k2!.expireAt), 0);
      assert.deepEqual(mine(await s.keys.list(day(1))), [k3!.kid, k1!.kid]);
      assert.equal(await s.keys.prune(day(200)), 2);

      await s.keys.insert(k1!);
      await assert.rejects(s.keys.insert(k1!), isStoreError); // kids are unique
      await assert.rejects(s.keys.list('2100-01-01'), RangeError); // not toISOString() form
      await assert.rejects(s.keys.insert({ ...k2!, expireAt: '2100-01-01T00:00:00Z' }), RangeError);
    });

    test('signing keys: the private key is replaced only by compare-and-set', async () => {
      const s = await openTracked();
      const k = makeKey(`k-${randomUUID()}`, 2, 60);
      await s.keys.insert(k);
      assert.equal(await s.keys.replacePrivate(k.kid, 'not what is stored', 'wk1.x.y'), false);
      assert.equal(await s.keys.replacePrivate(k.kid, k.privateKey, 'wk1.next'), true);
      // A second replica that read the old value loses: the row already changed.
      assert.equal(await s.keys.replacePrivate(k.kid, k.privateKey, 'wk1.other'), false);
      assert.equal((await s.keys.list(day(5))).find((x) => x.kid === k.kid)?.privateKey, 'wk1.next');
    });

    test('replay: the first claim wins, later ones lose until the marker expires', async () => {
      const s = await openTracked();
      const key = `jti-${randomUUID()}`;
      assert.equal(await s.replay.claimOnce(key, FUTURE), true);
      assert.equal(await s.replay.claimOnce(key, FUTURE), false);
      const other = await openTracked(); // another handle, as another replica would have
      assert.equal(await other.replay.claimOnce(key, FUTURE), false);

      const expired = `jti-${randomUUID()}`;
      assert.equal(await s.replay.claimOnce(expired, '2000-01-01T00:00:00.000Z'), true);
      assert.equal(await other.replay.claimOnce(expired, FUTURE), true); // the expired marker is replaced
      assert.equal(await s.replay.claimOnce(expired, FUTURE), false);
      await assert.rejects(s.replay.claimOnce(`jti-${randomUUID()}`, 'tomorrow'), RangeError);
    });

    test('replay: exactly one of 20 concurrent claims succeeds', async () => {
      const a = await openTracked();
      const b = await openTracked();
      for (const expiresAt of [FUTURE, undefined]) {
        const key = `jti-${randomUUID()}`;
        if (expiresAt === undefined) {
          // Also when they race to take over an expired marker.
          assert.equal(await a.replay.claimOnce(key, '2000-01-01T00:00:00.000Z'), true);
        }
        const claims = Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? a : b).replay.claimOnce(key, FUTURE));
        const won = (await Promise.all(claims)).filter(Boolean).length;
        assert.equal(won, 1, `${won} of 20 claims won`);
      }
    });

    test('replay: prune deletes expired markers only', async () => {
      const s = await openTracked();
      const keys = [`p-${randomUUID()}`, `p-${randomUUID()}`, `p-${randomUUID()}`];
      await s.replay.claimOnce(keys[0]!, '2000-02-01T00:00:00.000Z');
      await s.replay.claimOnce(keys[1]!, '2000-03-01T00:00:00.000Z');
      await s.replay.claimOnce(keys[2]!, FUTURE);
      assert.equal(await s.replay.prune('2000-01-15T00:00:00.000Z'), 0);
      assert.equal(await s.replay.prune('2000-03-01T00:00:00.000Z'), 2); // at or before now
      assert.equal(await s.replay.prune('2000-03-01T00:00:00.000Z'), 0);
      assert.equal(await s.replay.claimOnce(keys[2]!, FUTURE), false);
    });

    test('issued tokens round-trip; an unknown jti is undefined', async () => {
      const s = await openTracked();
      const full: IssuedTokenRecord = {
        jti: `t-${randomUUID()}`,
        user: 'alice@example.com',
        agent: 'spiffe://acme/agent/c',
        tenant: 'acme',
        chain: ['spiffe://acme/agent/b', 'spiffe://acme/agent/a'],
        scopes: ['files:read', 'files:write'],
        task: 'summarize ✓',
        parentJti: `t-${randomUUID()}`,
        issuedAt: '2026-01-02T03:04:05.678Z',
        expiresAt: '2026-01-02T03:09:05.678Z',
        agentIssuer: 'spiffe://acme',
        ancestors: [`t-${randomUUID()}`, `t-${randomUUID()}`],
      };
      const sparse: IssuedTokenRecord = {
        ...full,
        jti: `t-${randomUUID()}`,
        user: null,
        tenant: null,
        chain: [],
        scopes: [],
        task: null,
        parentJti: null,
        agentIssuer: null,
        ancestors: null,
      };
      await s.tokens.record(full);
      await s.tokens.record(sparse);
      assert.deepEqual(await s.tokens.get(full.jti), full);
      assert.deepEqual(await s.tokens.get(sparse.jti), sparse);
      assert.equal(await s.tokens.get(`t-${randomUUID()}`), undefined);
      await assert.rejects(s.tokens.record(full), isStoreError); // jtis are unique
      await assert.rejects(s.tokens.record({ ...full, jti: 'x', issuedAt: 'now' }), RangeError);
    });
  });
}
