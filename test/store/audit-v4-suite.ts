/**
 * The shared suite's part for schema version 4: the decision, task and lease columns (and that rows chained
 * before them still verify), sink cursors and pruning. Traces are in trace-suite.ts. Run by runStoreSuite on
 * every backend; tests that need a database of their own get one from `hooks.openFresh`.
 */
import { trackedStores } from './tracked.js';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { eventContent, eventHash, linkContents } from '../../src/audit/chain.js';
import { Checkpointer } from '../../src/audit/checkpoints.js';
import type { AuditEvent } from '../../src/audit/event.js';
import { verifyAudit } from '../../src/audit/verify.js';
import { SigningKeys } from '../../src/identity/signing-keys.js';
import { StoreError, type Store } from '../../src/store/index.js';
import { silentLogger } from '../../src/telemetry/log.js';
import { unchain } from './chain-suite.js';
import { testKeyRing } from '../helpers/vault.js';

export type RawRow = Record<string, string | number | null>;

export interface FreshHooks {
  /**
   * A NEW database migrated up to `version` only (default: every migration), with `rows` inserted into
   * warden_audit_events directly, then opened with every migration. The suite closes the store it returns.
   */
  openFresh(version?: number, rows?: RawRow[]): Promise<Store>;
}

/** The row an event was stored as under schema version 3 (before the decision, task and lease columns). */
export function v3Row(e: AuditEvent, link?: { seq: number; prevHash: string; hash: string }): RawRow {
  return {
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
    agent: e.agent,
    user_subject: e.user,
    tenant: e.tenant,
    chain: JSON.stringify(e.chain),
    auth_method: e.authMethod,
    ...(link === undefined ? {} : { seq: link.seq, prev_hash: link.prevHash, hash: link.hash }),
  };
}

const isClosed = (e: unknown) => e instanceof StoreError && e.code === 'store_unavailable';

export function runAuditV4Suite(name: string, open: () => Promise<Store>, hooks: FreshHooks, makeEvent: (o?: Partial<AuditEvent>) => AuditEvent): void {
  describe(`store suite (audit v4): ${name}`, () => {
    const track = trackedStores();

    test('events chained under schema 3 still verify after migration 4; new fields round-trip and verify', async () => {
      const old = Array.from({ length: 12 }, (_, i) => makeEvent({ chain: i % 3 === 0 ? ['p', 'q'] : [], sessionId: i % 2 ? null : 's' }));
      const links = linkContents(undefined, old.map(eventContent));
      const s = await track(hooks.openFresh(3, old.map((e, i) => v3Row(e, links[i]))));
      assert.ok((await s.schemaVersion()) >= 4);
      const before = await s.audit.readChain(0, 100);
      assert.deepEqual(before.map(unchain), old, 'old rows read back exactly, without the new fields');
      assert.ok(before.every((e) => !('leaseIds' in e) && !('task' in e) && !('decision' in e)));
      const r1 = await verifyAudit(s);
      assert.equal(r1.ok, true, JSON.stringify(r1.firstBroken));
      assert.equal(r1.events, 12);

      const full = makeEvent({
        task: 'task-ü 1',
        decision: { effect: 'needs-approval', policyIds: ['p-1', 'p-2'], reason: 'needs "a human"', policyVersion: 'sha256:abc' },
        approvalId: 'appr-1',
        leaseIds: ['lease-1', 'lease-2'],
        arguments: '{"path":"[redacted]","n":1}',
        upstreamStatus: 'timeout',
      });
      const partial = makeEvent({ task: 't', decision: { effect: 'allow', policyIds: [] }, upstreamStatus: 'ok' });
      // null, [] and absent are the same to the hash, and read back as absent.
      const empty = makeEvent({ task: null, decision: null, approvalId: null, leaseIds: [], arguments: null, upstreamStatus: null });
      await s.audit.append([full, partial, empty]);
      const got = await s.audit.readChain(12, 10);
      assert.deepEqual(got.map(unchain), [full, partial, makeLike(empty)]);
      let prev = before[11]!.hash!;
      [full, partial, empty].forEach((e, i) => {
        assert.equal(got[i]!.hash, eventHash(prev, e), 'the hash is over the event as given');
        prev = got[i]!.hash!;
      });
      const r2 = await verifyAudit(s);
      assert.equal(r2.ok, true, JSON.stringify(r2.firstBroken));
      assert.equal(r2.events, 15);
      assert.deepEqual((await s.audit.tail({ limit: 3 })).map(unchain), [full, partial, makeLike(empty)]);
    });

    test('sink cursors: 0 when absent, forward only, one per sink', async () => {
      const s = await track(open());
      const sink = `sink-${randomUUID()}`;
      const other = `${sink}-other`;
      assert.equal(await s.audit.getSinkCursor(sink), 0);
      await s.audit.setSinkCursor(sink, 5);
      assert.equal(await s.audit.getSinkCursor(sink), 5);
      await s.audit.setSinkCursor(sink, 3);
      assert.equal(await s.audit.getSinkCursor(sink), 5, 'a lower seq does not rewind it');
      await s.audit.setSinkCursor(sink, 5);
      await s.audit.setSinkCursor(sink, 9_007_199_254_740_991);
      assert.equal(await s.audit.getSinkCursor(sink), Number.MAX_SAFE_INTEGER);
      assert.equal(await s.audit.getSinkCursor(other), 0);
      await s.audit.setSinkCursor(other, 0);
      assert.equal(await s.audit.getSinkCursor(other), 0);
      await assert.rejects(s.audit.setSinkCursor(sink, -1), RangeError);
      await assert.rejects(s.audit.setSinkCursor(sink, 1.5), RangeError);
      await assert.rejects(s.audit.setSinkCursor('', 1), RangeError);
      await assert.rejects(s.audit.getSinkCursor(''), RangeError);
    });

    test('sink cursors: a stale writer cannot rewind; concurrent writers end at the highest seq', async () => {
      const [a, b] = [await track(open()), await track(open())];
      const sink = `sink-${randomUUID()}`;
      const seen = await a.audit.getSinkCursor(sink);
      await b.audit.setSinkCursor(sink, 50);
      await a.audit.setSinkCursor(sink, seen + 20); // a delivered up to 20 from its stale view
      assert.equal(await a.audit.getSinkCursor(sink), 50);
      // Both create the row at once.
      const fresh = `sink-${randomUUID()}`;
      await Promise.all([a.audit.setSinkCursor(fresh, 7), b.audit.setSinkCursor(fresh, 3), a.audit.setSinkCursor(fresh, 5)]);
      assert.equal(await b.audit.getSinkCursor(fresh), 7);
      // Many writers, in shuffled order.
      const seqs = Array.from({ length: 60 }, (_, i) => i + 1).sort(() => Math.random() - 0.5);
      await Promise.all(seqs.map((n, i) => (i % 2 ? a : b).audit.setSinkCursor(sink, 50 + n)));
      assert.equal(await a.audit.getSinkCursor(sink), 110);
      assert.equal(await b.audit.getSinkCursor(sink), 110);
    });

    test('prune deletes through a checkpoint; verify anchors there; the chain goes on', async () => {
      const s = await track(hooks.openFresh());
      const keys = new SigningKeys(s.keys, testKeyRing(), 'ES256', 24 * 3600_000, 3600_000);
      const cp = new Checkpointer({ audit: s.audit, keys, log: silentLogger(), instance: 'prune-test', everyEvents: 1_000_000, everySeconds: 3600 });
      for (let i = 0; i < 10; i++) {
        await s.audit.append(Array.from({ length: 10 }, (_, k) => makeEvent({ task: `t${(i + k) % 3}`, leaseIds: k % 2 ? ['l'] : [] })));
        if (i % 2 === 1) await cp.checkpoint(true); // at 20, 40, 60, 80, 100
      }
      assert.deepEqual((await s.audit.checkpoints(0, 10)).map((c) => c.seq), [20, 40, 60, 80, 100]);
      assert.equal((await verifyAudit(s)).ok, true);

      assert.equal(await s.audit.prune(0), 0);
      assert.equal(await s.audit.prune(40), 40);
      assert.equal(await s.audit.count(), 60);
      assert.equal((await s.audit.readChain(0, 1))[0]!.seq, 41);
      const r = await verifyAudit(s);
      assert.equal(r.ok, true, JSON.stringify(r.firstBroken));
      assert.equal(r.anchorSeq, 40);
      assert.equal(r.events, 60);
      assert.equal(await s.audit.prune(40), 0, 'nothing left through 40');
      assert.equal(await s.audit.prune(30), 0);

      // The head is never pruned (the next append would restart the chain at seq 1).
      await assert.rejects(s.audit.prune(100), RangeError);
      await assert.rejects(s.audit.prune(1000), RangeError);
      await assert.rejects(s.audit.prune(-1), RangeError);
      await assert.rejects(s.audit.prune(2.5), RangeError);
      assert.equal(await s.audit.count(), 60);

      await s.audit.append([makeEvent(), makeEvent()]);
      assert.deepEqual(await s.audit.head(), { seq: 102, hash: (await s.audit.readChain(101, 1))[0]!.hash });
      assert.equal(await s.audit.prune(60), 20);
      const r2 = await verifyAudit(s);
      assert.equal(r2.ok, true, JSON.stringify(r2.firstBroken));
      assert.equal(r2.anchorSeq, 60);
      assert.equal(r2.events, 42);
    });

    test('prune on an empty chain deletes nothing', async () => {
      const s = await track(hooks.openFresh());
      assert.equal(await s.audit.prune(0), 0);
      assert.equal(await s.audit.prune(10), 0);
    });

    test('a closed store rejects the v4 calls', async () => {
      const s = await open();
      await s.close();
      await assert.rejects(s.audit.getSinkCursor('x'), isClosed);
      await assert.rejects(s.audit.setSinkCursor('x', 1), isClosed);
      await assert.rejects(s.audit.trace({ limit: 1 }), isClosed);
      await assert.rejects(s.audit.prune(0), isClosed);
    });
  });
}

/** An event as it reads back: the fields set to null or [] are absent. */
function makeLike(e: AuditEvent): AuditEvent {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(e)) {
    const optional = ['task', 'decision', 'approvalId', 'leaseIds', 'arguments', 'upstreamStatus'].includes(k);
    if (optional && (v === null || v === undefined || (Array.isArray(v) && v.length === 0))) continue;
    out[k] = v;
  }
  return out as unknown as AuditEvent;
}
