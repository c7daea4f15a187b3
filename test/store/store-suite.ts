/**
 * The one behavioural suite every store backend must pass. `open` returns a new handle on the SAME
 * database each call, so tests share data: they measure deltas and only look at events they appended
 * (ids come from a monotonic source, so a test's events are always the newest).
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AuditEvent } from '../../src/audit/event.js';
import { StoreError, type AuditQuery, type Store } from '../../src/store/index.js';
import { runChainSuite, unchain } from './chain-suite.js';
import { runAuditV4Suite, type FreshHooks } from './audit-v4-suite.js';
import { runIdentitySuite, type SuiteHooks as IdentityHooks } from './identity-suite.js';
import { runSecretsSuite } from './secrets-suite.js';
import { runTraceSuite } from './trace-suite.js';

export type SuiteHooks = IdentityHooks & FreshHooks;
export { unchain } from './chain-suite.js';

let seq = 0;
const runStamp = Date.now().toString(16).padStart(12, '0');

/** UUIDv7-shaped and strictly increasing within this process. */
export function nextId(): string {
  seq += 1;
  const s = seq.toString(16).padStart(16, '0');
  return `${runStamp.slice(0, 8)}-${runStamp.slice(8, 12)}-7${s.slice(0, 3)}-8${s.slice(3, 6)}-${s.slice(6, 16)}00`;
}

/** tail() without the chain fields, to compare with what was appended. */
export async function plainTail(s: Store, q: AuditQuery): Promise<AuditEvent[]> {
  return (await s.audit.tail(q)).map(unchain);
}

export function makeEvent(overrides: Partial<AuditEvent> = {}): AuditEvent {
  return {
    id: nextId(),
    time: new Date().toISOString(),
    instance: 'test-instance',
    sessionId: 'sess-1',
    agent: 'agent-1',
    user: 'alice',
    tenant: 'acme',
    chain: [],
    authMethod: 'oauth-jwt',
    protocolVersion: '2025-11-25',
    method: 'tools/call',
    upstream: 'files',
    target: 'read_file',
    argsDigest: 'sha256:' + 'a'.repeat(64),
    outcome: 'ok',
    errorCode: null,
    latencyMs: 3,
    ...overrides,
  };
}

export function runStoreSuite(name: string, open: () => Promise<Store>, hooks: SuiteHooks): void {
  describe(`store suite: ${name}`, () => {
    const opened: Store[] = [];
    const openTracked = async (): Promise<Store> => {
      const s = await open();
      opened.push(s);
      return s;
    };
    after(async () => {
      for (const s of opened) await s.close();
    });

    test('migrations are idempotent', async () => {
      const a = await openTracked();
      const v = await a.schemaVersion();
      assert.ok(v >= 1, `schema version ${v}`);
      const b = await openTracked(); // while the first is open
      assert.equal(await b.schemaVersion(), v);
      await b.close();
      const c = await openTracked(); // after one closed
      assert.equal(await c.schemaVersion(), v);
    });

    test('append then tail returns events oldest first', async () => {
      const s = await openTracked();
      const before = await s.audit.count();
      const events = [makeEvent(), makeEvent(), makeEvent()];
      await s.audit.append(events);
      assert.equal(await s.audit.count(), before + 3);
      assert.deepEqual(await plainTail(s, { limit: 3 }), events);
      // Several appends keep the order too.
      const more = [makeEvent()];
      await s.audit.append(more);
      assert.deepEqual(await plainTail(s, { limit: 2 }), [events[2], more[0]]);
    });

    test('tail limit returns the newest events', async () => {
      const s = await openTracked();
      const events = Array.from({ length: 10 }, () => makeEvent());
      await s.audit.append(events);
      assert.deepEqual(await plainTail(s, { limit: 4 }), events.slice(6));
      assert.deepEqual(await plainTail(s, { limit: 1 }), events.slice(9));
      assert.deepEqual(await plainTail(s, { limit: 0 }), []);
      await assert.rejects(s.audit.tail({ limit: -1 }), RangeError);
    });

    test('afterId returns only later events', async () => {
      const s = await openTracked();
      const events = Array.from({ length: 6 }, () => makeEvent());
      await s.audit.append(events);
      assert.deepEqual(await plainTail(s, { limit: 100, afterId: events[2]!.id }), events.slice(3));
      // With a limit, the newest after the id, still oldest first.
      assert.deepEqual(await plainTail(s, { limit: 2, afterId: events[0]!.id }), events.slice(4));
      assert.deepEqual(await plainTail(s, { limit: 10, afterId: events[5]!.id }), []);
    });

    test('count counts every stored event', async () => {
      const s = await openTracked();
      const before = await s.audit.count();
      await s.audit.append([]);
      assert.equal(await s.audit.count(), before);
      await s.audit.append([makeEvent(), makeEvent()]);
      assert.equal(await s.audit.count(), before + 2);
    });

    test('appends 1,000 events in one call', async () => {
      const s = await openTracked();
      const before = await s.audit.count();
      const events = Array.from({ length: 1000 }, (_, i) => makeEvent({ latencyMs: i }));
      await s.audit.append(events);
      assert.equal(await s.audit.count(), before + 1000);
      assert.deepEqual(await plainTail(s, { limit: 1000 }), events);
    });

    test('a failing batch stores nothing', async () => {
      const s = await openTracked();
      const before = await s.audit.count();
      const first = makeEvent();
      await s.audit.append([first]);
      // The duplicate id fails the second event; the first of the batch must not be kept.
      await assert.rejects(s.audit.append([makeEvent(), { ...first }]), (e: unknown) => e instanceof StoreError);
      assert.equal(await s.audit.count(), before + 1);
    });

    test('every field round-trips exactly, nulls included', async () => {
      const s = await openTracked();
      const full = makeEvent({
        time: '2026-01-02T03:04:05.678Z',
        method: 'resources/read',
        target: 'file:///tmp/ünïcødé ✓.txt',
        outcome: 'error',
        errorCode: 'upstream_timeout',
        latencyMs: 12.345,
      });
      const sparse = makeEvent({
        sessionId: null,
        agent: null,
        user: null,
        tenant: null,
        authMethod: null,
        protocolVersion: null,
        method: 'http',
        upstream: null,
        target: null,
        argsDigest: null,
        outcome: 'denied',
        errorCode: 'forbidden_origin',
        latencyMs: 0,
      });
      const outcomes = (['ok', 'timeout', 'cancelled'] as const).map((outcome) => makeEvent({ outcome, instance: 'other' }));
      const events = [full, sparse, ...outcomes];
      await s.audit.append(events);
      const got = await plainTail(s, { limit: events.length });
      assert.deepEqual(got, events);
      assert.equal(got[1]!.sessionId, null);
      assert.equal(typeof got[0]!.latencyMs, 'number');
    });

    test('a closed store rejects every call', async () => {
      const s = await open();
      await s.close();
      await s.close(); // closing twice is harmless
      const isClosed = (e: unknown) => e instanceof StoreError && e.code === 'store_unavailable';
      await assert.rejects(s.audit.append([makeEvent()]), isClosed);
      await assert.rejects(s.audit.tail({ limit: 1 }), isClosed);
      await assert.rejects(s.audit.count(), isClosed);
      await assert.rejects(s.schemaVersion(), isClosed);
      const t = new Date().toISOString();
      await assert.rejects(s.keys.list(t), isClosed);
      await assert.rejects(s.keys.prune(t), isClosed);
      await assert.rejects(s.replay.claimOnce('closed-key', t), isClosed);
      await assert.rejects(s.replay.prune(t), isClosed);
      await assert.rejects(s.tokens.get('closed-jti'), isClosed);
    });
  });

  runIdentitySuite(name, open, hooks, makeEvent);
  runChainSuite(name, open, makeEvent);
  runAuditV4Suite(name, open, hooks, makeEvent);
  runTraceSuite(name, hooks, makeEvent);
  runSecretsSuite(name, open, hooks);
}
