/**
 * The shared suite's part for traces: the store's trace() against matchesTrace (src/audit/trace.ts, the
 * reference semantics) over the same ~200 varied events, for many queries, on a database of its own.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AuditEvent } from '../../src/audit/event.js';
import { matchesTrace } from '../../src/audit/trace.js';
import type { Store, TraceQuery } from '../../src/store/index.js';
import type { FreshHooks } from './audit-v4-suite.js';
import { v3Row } from './audit-v4-suite.js';

/** A small deterministic PRNG (mulberry32), so a failure can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Values that are prefixes or substrings of each other, differ in case, or hold SQL/JSON metacharacters.
const TASKS = ['t1', 't10', 'T1', "t'%_", 'ü-task'];
const SESSIONS = ['s1', 's2', 's10'];
const USERS = ['alice', 'al', 'bob', 'Alice'];
const AGENTS = ['a1', 'a10', 'a2', 'planner', 'coder', 'ag"q', 'a%', '[a1]'];
const OUTCOMES = ['ok', 'error', 'denied', 'timeout', 'cancelled'] as const;
const BASE = Date.parse('2026-01-01T00:00:00.000Z');

export function runTraceSuite(name: string, hooks: FreshHooks, makeEvent: (o?: Partial<AuditEvent>) => AuditEvent): void {
  describe(`store suite (trace): ${name}`, () => {
    const rand = prng(0x5eed);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const maybe = <T>(p: number, x: () => T): T | undefined => (rand() < p ? x() : undefined);
    let store: Store;
    let all: AuditEvent[] = [];
    const times: string[] = [];

    const randomEvent = (): AuditEvent => {
      const time = new Date(BASE + Math.floor(rand() * 10 * 24 * 3600_000)).toISOString(); // not in seq order
      times.push(time);
      const agent = maybe(0.9, () => pick(AGENTS)) ?? null;
      const chain = Array.from({ length: Math.floor(rand() * 4) }, () => pick(AGENTS));
      const task = maybe(0.7, () => pick(TASKS));
      return makeEvent({
        time,
        sessionId: maybe(0.8, () => pick(SESSIONS)) ?? null,
        user: maybe(0.8, () => pick(USERS)) ?? null,
        agent,
        chain,
        outcome: pick(OUTCOMES),
        ...(task === undefined ? (rand() < 0.5 ? { task: null } : {}) : { task }),
        ...(rand() < 0.5 ? { decision: { effect: pick(['allow', 'deny', 'needs-approval'] as const), policyIds: [pick(['p1', 'p2'])] } } : {}),
        ...(rand() < 0.3 ? { leaseIds: ['lease-' + Math.floor(rand() * 5)] } : {}),
      });
    };

    before(async () => {
      // On SQLite a row without a seq can exist (never written by warden); trace shows only chained rows.
      const unchained = makeEvent({ task: 't1', sessionId: 's1', user: 'alice', agent: 'a1', chain: ['a2'], time: new Date(BASE).toISOString() });
      store = await hooks.openFresh(undefined, []);
      if (store.kind === 'sqlite') {
        await store.close();
        store = await hooks.openFresh(3, [v3Row(unchained)]);
      }
      for (let n = 0; n < 200; ) {
        const size = Math.min(200 - n, 1 + Math.floor(rand() * 17));
        await store.audit.append(Array.from({ length: size }, randomEvent));
        n += size;
      }
      all = await store.audit.readChain(0, 10_000);
      assert.equal(all.length, 200);
    });
    after(() => store.close());

    const expected = (q: TraceQuery): AuditEvent[] => {
      const m = all.filter((e) => matchesTrace(q, e));
      return q.limit === 0 ? [] : m.slice(-q.limit);
    };
    const check = async (q: TraceQuery): Promise<AuditEvent[]> => {
      const got = await store.audit.trace(q);
      assert.deepEqual(got, expected(q), `query ${JSON.stringify(q)}`);
      return got;
    };

    test('each filter alone, for every value (and values nobody has)', async () => {
      for (const task of [...TASKS, 'none', 't']) assert.ok((await check({ task, limit: 1000 })).every((e) => e.task === task));
      for (const session of [...SESSIONS, 's']) await check({ session, limit: 1000 });
      for (const user of [...USERS, 'ALICE', '']) await check({ user, limit: 1000 });
      for (const agent of [...AGENTS, 'a', '1', 'a1"]']) await check({ agent, limit: 1000 });
      for (const outcome of [...OUTCOMES, 'OK', 'o']) assert.ok((await check({ outcome, limit: 1000 })).every((e) => e.outcome === outcome));
      const a1 = await check({ agent: 'a1', limit: 1000 });
      assert.ok(a1.length > 0 && a1.every((e) => e.agent === 'a1' || e.chain.includes('a1')), 'a1 is matched exactly, not as a substring');
      assert.ok(a1.some((e) => e.agent !== 'a1'), 'some match by the chain only');
      await check({ limit: 1000 });
    });

    test('since: at or after, canonical or not', async () => {
      for (const t of times.slice(0, 20)) {
        const got = await check({ since: t, limit: 1000 });
        assert.ok(got.some((e) => e.time === t), 'an event at exactly `since` is included');
      }
      for (const since of ['2026-01-05', '2026-01-05T00:00:00Z', '2026-01-05T02:00:00+02:00', '2026-01-03T12:30:00.5Z', '2025-01-01', '2030-01-01']) {
        await check({ since, limit: 1000 });
      }
    });

    test('limit: the newest matches, oldest first', async () => {
      for (const limit of [0, 1, 2, 7, 199, 200, 201]) {
        const got = await check({ limit });
        if (limit > 0) assert.equal(got.at(-1)!.seq, 200);
        for (let i = 1; i < got.length; i++) assert.ok(got[i]!.seq! > got[i - 1]!.seq!);
      }
      await check({ agent: 'a2', task: 't1', limit: 2 });
    });

    test('300 random combinations agree with matchesTrace', async () => {
      let nonEmpty = 0;
      for (let i = 0; i < 300; i++) {
        const q: TraceQuery = { limit: pick([0, 1, 3, 10, 50, 1000]) };
        if (rand() < 0.4) q.task = pick([...TASKS, 'none']);
        if (rand() < 0.4) q.session = pick(SESSIONS);
        if (rand() < 0.4) q.user = pick(USERS);
        if (rand() < 0.5) q.agent = pick(AGENTS);
        if (rand() < 0.3) q.outcome = pick(OUTCOMES);
        if (rand() < 0.4) q.since = rand() < 0.8 ? pick(times) : new Date(BASE + rand() * 10 * 24 * 3600_000).toISOString().replace('.000Z', 'Z');
        if ((await check(q)).length > 0) nonEmpty += 1;
      }
      assert.ok(nonEmpty > 100, `${nonEmpty} of the queries matched something`);
    });

    test('a bad query is a RangeError', async () => {
      await assert.rejects(store.audit.trace({ limit: -1 }), RangeError);
      await assert.rejects(store.audit.trace({ limit: 1.5 }), RangeError);
      await assert.rejects(store.audit.trace({ limit: 1, since: 'yesterday' }), RangeError);
    });
  });
}
