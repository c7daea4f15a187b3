/**
 * Shared by the backends' migration 25 tests (the audit indexes no query uses are dropped): events appended
 * before the upgrade, and traces by every filter that must still find exactly theirs after it.
 */
import assert from 'node:assert/strict';
import type { AuditEvent } from '../../src/audit/event.js';
import { matchesTrace } from '../../src/audit/trace.js';
import type { Store, TraceQuery } from '../../src/store/index.js';

const BASE = Date.parse('2026-03-01T00:00:00.000Z');

/** 60 events, each filter's value shared by some and missed by others; agent b2 is also in a1's chain. */
export function upgradeEvents(makeEvent: (o?: Partial<AuditEvent>) => AuditEvent): AuditEvent[] {
  return Array.from({ length: 60 }, (_, i) =>
    makeEvent({
      time: new Date(BASE + i * 60_000).toISOString(),
      task: i % 3 === 0 ? `task-${i % 2}` : null,
      sessionId: `s-${i % 4}`,
      user: i % 5 === 0 ? null : `user-${i % 3}`,
      agent: i % 2 === 0 ? 'a1' : 'b2',
      chain: i % 7 === 0 ? ['b2'] : [],
      outcome: (['ok', 'denied', 'error'] as const)[i % 3],
      intentId: i % 2 === 1 ? `intent-${i}` : null,
    }),
  );
}

/** Each filter alone, and since with the others, as the store's trace() against matchesTrace. */
export async function assertTracesFind(store: Store, events: readonly AuditEvent[]): Promise<void> {
  const since = new Date(BASE + 45 * 60_000).toISOString();
  const queries: TraceQuery[] = [
    { task: 'task-0' },
    { session: 's-1' },
    { user: 'user-2' },
    { agent: 'b2' },
    { agent: 'a1' },
    { since },
    { outcome: 'denied' },
    { agent: 'b2', since },
    { user: 'user-1', outcome: 'denied', since },
  ].map((q) => ({ ...q, limit: 1000 }));
  for (const q of queries) {
    const want = events.filter((e) => matchesTrace(q, e)).map((e) => e.id);
    assert.ok(want.length > 0 && want.length < events.length, `query ${JSON.stringify(q)} selects some events, not all`);
    assert.deepEqual((await store.audit.trace(q)).map((e) => e.id), want, `query ${JSON.stringify(q)}`);
  }
  // b2 acts in the odd events and is in the chain of some even ones: the chain side of the agent filter.
  assert.ok(events.some((e) => e.agent === 'a1' && e.chain.includes('b2') && matchesTrace({ agent: 'b2', limit: 1 }, e)));
}
