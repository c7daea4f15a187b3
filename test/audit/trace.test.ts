/** Traces: the timeline rendering (delegation, errors, sessions, decisions, approvals, leases) and `warden audit trace`. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AuditEvent } from '../../src/audit/event.js';
import { matchesTrace, renderTrace, type TraceQuery } from '../../src/audit/trace.js';
import { auditTrace, parseSince, parseTraceQuery } from '../../src/cli/audit-trace.js';

let n = 0;
/** An event with optional fields the schema is still gaining (task, decision, approval, leases). */
function ev(o: Partial<AuditEvent> & Record<string, unknown> = {}): AuditEvent {
  n += 1;
  const base: AuditEvent = { id: `0197aaaa-0000-7000-8000-${String(n).padStart(12, '0')}`, time: `2025-06-01T10:00:${String(n).padStart(2, '0')}.000Z`, instance: 'gw-1', sessionId: 'sess-A', agent: 'coder', user: 'alice', tenant: 'acme', chain: ['planner'], authMethod: 'gateway-token', protocolVersion: '2025-11-25', method: 'tools/call', upstream: 'github', target: 'create_issue', argsDigest: null, outcome: 'ok', errorCode: null, latencyMs: 12.34 };
  return { ...base, seq: n, ...o } as AuditEvent;
}

const A1 = ev({ method: 'tools/list', upstream: null, target: null, agent: 'planner', chain: [], task: 'task-7', decision: { effect: 'allow', policyIds: ['p-list'] } });
const A2 = ev({ task: 'task-7', decision: { effect: 'needs-approval', policyIds: ['p-write', 'p-github'], reason: 'writes need a human', policyVersion: 'v3' }, approvalId: 'appr-1', leaseIds: ['lease-gh-1'], upstreamStatus: 'ok' });
const B1 = ev({ sessionId: 'sess-B', agent: 'reviewer', chain: ['coder', 'planner'], target: 'delete_repo', outcome: 'denied', errorCode: 'forbidden', task: 'task-7', decision: { effect: 'deny', policyIds: ['p-no-delete'] }, latencyMs: 0.2 });
const N1 = ev({ sessionId: null, user: null, agent: null, chain: [], authMethod: null, method: 'http', upstream: null, target: null, outcome: 'error', errorCode: 'unauthenticated', latencyMs: 0.05 });
const A3 = ev({ task: 'task-7', outcome: 'timeout', errorCode: 'upstream_timeout', latencyMs: 60000 });

describe('renderTrace', () => {
  const text = renderTrace([B1, A3, N1, A2, A1]);
  const lines = text.split('\n');

  test('a header counts events, sessions and failures', () => {
    assert.equal(lines[0], `trace: 5 events in 3 sessions, ${A1.time} .. ${A3.time}, 3 not ok`);
  });

  test('groups by session in order of first event, each hop in order', () => {
    const sA = lines.findIndex((l) => l.startsWith('session sess-A'));
    const sB = lines.findIndex((l) => l.startsWith('session sess-B'));
    const none = lines.findIndex((l) => l.startsWith('no session'));
    assert.ok(sA > 0 && sA < sB && sB < none, text);
    assert.equal(lines[sA], 'session sess-A (task task-7, tenant acme)');
    const hops = lines.slice(sA, sB).filter((l) => l.startsWith('  20'));
    assert.deepEqual(hops.map((l) => l.slice(2, 26)), [A1.time, A2.time, A3.time], 'B1 and N1 are in their own sessions');
  });

  test('shows the delegation, farthest first, and the acting agent last', () => {
    assert.match(text, / {2}by alice → planner \| alice → planner → coder\n/);
    assert.match(text, /alice → planner → coder → reviewer\s+tools\/call\s+github\/delete_repo\s+denied \(forbidden\)\s+0\.2 ms/);
    assert.match(text, /anonymous\s+http\s+-\s+error \(unauthenticated\)/);
  });

  test('shows decisions with policies, the approval, the leases and errors', () => {
    const after = (e: AuditEvent) => lines.slice(lines.findIndex((l) => l.startsWith(`  ${e.time}`)) + 1);
    assert.equal(after(A1)[0], '      decision allow by p-list');
    assert.equal(after(A2)[0], '      decision needs-approval by p-write, p-github (policy v3) · approval appr-1 · lease lease-gh-1 · upstream status ok');
    assert.equal(after(A2)[1], '      reason: writes need a human');
    assert.equal(after(B1)[0], '      decision deny by p-no-delete');
    assert.match(text, /timeout \(upstream_timeout\)\s+60000\.0 ms/);
    assert.match(text, /ok\s+12\.3 ms/);
  });

  test('events without the optional fields still render; nothing is a placeholder crash', () => {
    assert.equal(renderTrace([]), 'no matching audit events\n');
    const plain = renderTrace([ev({ chain: [] })]);
    assert.match(plain, /alice → coder\s+tools\/call\s+github\/create_issue\s+ok/);
    assert.ok(!plain.includes('decision'));
  });
});

describe('matchesTrace', () => {
  const q = (o: Partial<TraceQuery>): TraceQuery => ({ limit: 100, ...o });
  test('each filter, and agent matching the chain too', () => {
    const all = [A1, A2, B1, N1, A3];
    const ids = (query: TraceQuery) => all.filter((e) => matchesTrace(query, e)).map((e) => e.id);
    assert.deepEqual(ids(q({ task: 'task-7' })), [A1, A2, B1, A3].map((e) => e.id));
    assert.deepEqual(ids(q({ session: 'sess-B' })), [B1.id]);
    assert.deepEqual(ids(q({ agent: 'reviewer' })), [B1.id]);
    assert.deepEqual(ids(q({ agent: 'planner' })), [A1, A2, B1, A3].map((e) => e.id), 'planner delegated the others');
    assert.deepEqual(ids(q({ user: 'alice', since: A3.time })), [A3.id]);
  });
});

describe('warden audit trace', () => {
  const NOW = Date.parse('2025-06-02T00:00:00.000Z');
  const run = async (opts: Parameters<typeof auditTrace>[0], events = [A1, A2]) => {
    const seen: TraceQuery[] = [];
    let out = '';
    await auditTrace(opts, { query: async (q) => (seen.push(q), events), write: (s) => (out += s), now: () => NOW });
    return { q: seen[0], out };
  };

  test('passes the query through and prints the timeline', async () => {
    const { q, out } = await run({ task: 'task-7', since: '2h', limit: '50' });
    assert.deepEqual(q, { task: 'task-7', since: '2025-06-01T22:00:00.000Z', limit: 50 });
    assert.equal(out, renderTrace([A1, A2]));
  });

  test('--json prints one event per line', async () => {
    const { out } = await run({ session: 'sess-A', json: true });
    assert.deepEqual(out.trim().split('\n').map((l) => JSON.parse(l) as AuditEvent), [A1, A2]);
  });

  test('says when the limit cut the trace', async () => {
    const { out } = await run({ user: 'alice', limit: '2' });
    assert.match(out, /limit of 2 events reached/);
  });

  test('refuses a query without a selector, a bad limit or a bad --since', () => {
    assert.throws(() => parseTraceQuery({}, NOW), /--task ID, --session ID, --user U or --agent A/);
    assert.throws(() => parseTraceQuery({ agent: 'x', limit: '0' }, NOW), /--limit/);
    assert.throws(() => parseTraceQuery({ agent: ' ' }, NOW), /--agent must not be empty/);
    assert.throws(() => parseSince('yesterday', NOW), /--since/);
    assert.equal(parseSince('2025-05-31T12:00:00+02:00', NOW), '2025-05-31T10:00:00.000Z');
    assert.equal(parseSince('7d', NOW), '2025-05-26T00:00:00.000Z');
    assert.deepEqual(parseTraceQuery({ agent: 'coder' }, NOW), { agent: 'coder', limit: 1000 });
  });
});
