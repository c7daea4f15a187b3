/**
 * Approval binding and holding on a real store: an approval covers exactly one call (same principal, task,
 * tool, arguments) once; a call that timed out is answered with the request id and, retried after approval,
 * runs once; expired, denied and consumed approvals never authorise; self-approval and unknown approvers
 * are refused.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ApprovalService, callDigest, type HoldRequest } from '../../src/approvals/index.js';
import { WardenError } from '../../src/protocol/errors.js';
import { openStore, type Store } from '../../src/store/index.js';

/** A call to hold; `arguments` (default `{ path: '/data/x' }`) become its forwarded params. */
const call = ({ arguments: args = { path: '/data/x' }, ...over }: Partial<HoldRequest> & { arguments?: Record<string, unknown> } = {}): HoldRequest => ({
  agent: 'agent-a',
  user: 'alice',
  tenant: 'acme',
  chain: [],
  task: 't1',
  upstream: 'files',
  tool: 'files__delete',
  params: { name: 'delete', arguments: args },
  view: JSON.stringify(args),
  shown: { name: 'delete', arguments: args },
  reason: 'destructive in prod',
  policyIds: ['p'],
  ...over,
});

const code = (e: unknown) => (e instanceof WardenError ? e.code : String(e));

describe('approvals', () => {
  let dir: string;
  let store: Store;
  let now = Date.parse('2026-11-22T10:00:00Z');
  let svc: ApprovalService;
  const never = new AbortController().signal;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'warden-approvals-'));
    store = await openStore(join(dir, 'w.db'));
    svc = new ApprovalService({ store: store.approvals, holdMs: 60, ttlMs: 60_000, approvers: ['bob', 'alice', 'agent-b'], separationOfDuties: true, pollMs: 10, now: () => now });
  });
  after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const pendingId = async (c: HoldRequest): Promise<string> => {
    const e = await svc.hold(c, { signal: never }).then(
      () => assert.fail('the call was not held'),
      (err: unknown) => err,
    );
    assert.equal(code(e), 'approval_pending');
    return String((e as WardenError).data?.approvalId);
  };

  test('a held call times out with its request id; approved, the identical retry runs once; a third needs a new approval', async () => {
    const id = await pendingId(call());
    assert.equal(await pendingId(call()), id, 'a retry before the decision waits on the same request');
    await svc.decide(id, 'bob', 'approved', 'ok');
    const used = await svc.hold(call(), { signal: never });
    assert.equal(used.id, id);
    assert.equal((await store.approvals.get(id))?.state, 'consumed');
    const next = await pendingId(call());
    assert.notEqual(next, id);
  });

  test('an approval is bound to its digest: other arguments, another agent, another task, another tool need their own', async () => {
    const id = await pendingId(call({ arguments: { path: '/data/bound' } }));
    await svc.decide(id, 'bob', 'approved', null);
    for (const other of [call({ arguments: { path: '/data/other' } }), call({ arguments: { path: '/data/bound' }, agent: 'agent-c' }), call({ arguments: { path: '/data/bound' }, task: 't2' }), call({ arguments: { path: '/data/bound' }, tool: 'files__wipe' }), call({ arguments: { path: '/data/bound' }, chain: ['agent-z'] })]) {
      assert.notEqual(await pendingId(other), id, JSON.stringify(other));
    }
    assert.equal((await svc.hold(call({ arguments: { path: '/data/bound' } }), { signal: never })).id, id);
    assert.notEqual(callDigest(call({ arguments: { a: 1, b: 2 } })), callDigest(call({ arguments: { a: 1, b: 3 } })));
    assert.equal(callDigest(call({ arguments: { a: 1, b: 2 } })), callDigest(call({ arguments: { b: 2, a: 1 } })), 'key order does not matter');
  });

  test('self-approval, the user acting (separation of duties), strangers, unknown and twice-decided requests are refused', async () => {
    const id = await pendingId(call({ arguments: { path: '/data/sod' } }));
    await assert.rejects(svc.decide(id, 'agent-a', 'approved', null), /not an approver/);
    await assert.rejects(svc.decide(id, 'alice', 'approved', null), /separationOfDuties/);
    await assert.rejects(svc.decide('0190aaaa-0000-7000-8000-00000000dead', 'bob', 'approved', null), /no approval request/);
    const delegated = await pendingId(call({ arguments: { path: '/data/chain' }, chain: ['agent-b'] }));
    await assert.rejects(svc.decide(delegated, 'agent-b', 'approved', null), /its own request/);
    await svc.decide(id, 'bob', 'denied', 'no');
    await assert.rejects(svc.decide(id, 'bob', 'approved', null), /already denied/);
    const e = await svc.hold(call({ arguments: { path: '/data/sod' } }), { signal: never }).catch((err: unknown) => err);
    // Denied requests never authorise: the identical call opens a new request rather than running.
    assert.equal(code(e), 'approval_pending');
  });

  test('an expired request cannot be approved, and an approval past its expiry is not used', async () => {
    const id = await pendingId(call({ arguments: { path: '/data/late' } }));
    now += 61_000;
    await assert.rejects(svc.decide(id, 'bob', 'approved', null), /expired/);
    const fresh = await pendingId(call({ arguments: { path: '/data/late' } }));
    assert.notEqual(fresh, id);
    await svc.decide(fresh, 'bob', 'approved', null);
    now += 61_000;
    assert.equal(code(await svc.hold(call({ arguments: { path: '/data/late' } }), { signal: never }).catch((err: unknown) => err)), 'approval_pending');
  });

  test('a held call is released by an approval while it waits, and reports that it waits', async () => {
    const long = new ApprovalService({ store: store.approvals, holdMs: 5_000, ttlMs: 60_000, approvers: ['bob'], separationOfDuties: false, pollMs: 10, now: () => now });
    const seen: string[] = [];
    const held = long.hold(call({ arguments: { path: '/data/wait' } }), { signal: never, waiting: (r) => seen.push(r.id) });
    let id: string | undefined;
    for (let i = 0; i < 100 && id === undefined; i++) {
      await new Promise((r) => setTimeout(r, 10));
      id = seen[0];
    }
    assert.ok(id);
    await long.decide(id, 'bob', 'approved', null);
    assert.equal((await held).id, id);
    // The caller revoked (or its task ended) while it waits: the hold ends with that error, nothing runs.
    let revoked = false;
    const guarded = long.hold(call({ arguments: { path: '/data/guard' } }), { signal: never, guard: async () => {
      if (revoked) throw new WardenError('revoked', 'agent "agent-a" was revoked');
    } });
    setTimeout(() => (revoked = true), 30);
    assert.equal(code(await guarded.catch((e: unknown) => e)), 'revoked');
    const ac = new AbortController();
    const cancelled = long.hold(call({ arguments: { path: '/data/cancel' } }), { signal: ac.signal });
    setTimeout(() => ac.abort(), 30);
    assert.equal(code(await cancelled.catch((e: unknown) => e)), 'cancelled');
  });
});
