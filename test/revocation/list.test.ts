/**
 * RevocationList on its own: an in-memory store and an injected clock, so staleness is exact. What is
 * refused (token id, task, agent, user, every agent of the chain), what the error says (never a token id),
 * fail closed before the first read, after a failed read and after stop, and the PostgreSQL-style feed:
 * reads go over the feed, notifications trigger them, a lost feed is reopened with backoff.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ANONYMOUS, type Principal } from '../../src/identity/principal.js';
import { WardenError } from '../../src/protocol/errors.js';
import { RevocationList } from '../../src/revocation/index.js';
import type { NewRevocation, RevocationFeed, RevocationRecord, RevocationStore } from '../../src/store/types.js';

class MemoryRevocations implements RevocationStore {
  rows: RevocationRecord[] = [];
  /** As the stores: a seq is never reused. */
  lastSeq = 0;
  reads = 0;
  failReads = false;
  /** Set to hold reads until released. */
  gate: Promise<void> | undefined;
  pruned: string[] = [];
  async add(r: NewRevocation) {
    // As the stores do: a record expired at the new revocation's time (a lifted one) counts as absent.
    this.rows = this.rows.filter((x) => !(x.kind === r.kind && x.value === r.value && x.expiresAt !== null && x.expiresAt <= r.revokedAt));
    const existing = this.rows.find((x) => x.kind === r.kind && x.value === r.value);
    if (existing) return { record: existing, created: false };
    const record = { ...r, seq: ++this.lastSeq };
    this.rows.push(record);
    return { record, created: true };
  }
  async list() {
    return [...this.rows].reverse();
  }
  async since(afterSeq: number, limit: number) {
    this.reads++;
    await this.gate;
    if (this.failReads) throw new Error('database unreachable');
    return this.rows.filter((r) => r.seq > afterSeq).slice(0, limit);
  }
  async prune(now: string) {
    this.pruned.push(now);
    return 0;
  }
  async lift(kind: NewRevocation['kind'], value: string, at: string) {
    const i = this.rows.findIndex((x) => x.kind === kind && x.value === value && (x.expiresAt === null || x.expiresAt > at));
    if (i < 0) return undefined;
    const [taken] = this.rows.splice(i, 1);
    const record = { ...taken!, expiresAt: taken!.revokedAt, seq: ++this.lastSeq };
    this.rows.push(record);
    return record;
  }
}

/** The same store with a PostgreSQL-style feed: reads over the feed count separately. */
class FeedRevocations extends MemoryRevocations {
  feeds: { notify: (id: string) => void; lose: (err: Error) => void; closed: boolean }[] = [];
  feedReads = 0;
  refuseSubscribe = false;
  async subscribe(onNotify: (id: string) => void, onLost: (err: Error) => void): Promise<RevocationFeed> {
    if (this.refuseSubscribe) throw new Error('connection refused');
    const handle = { notify: onNotify, lose: onLost, closed: false };
    this.feeds.push(handle);
    return {
      since: async (after, limit) => {
        if (handle.closed) throw new Error('feed closed');
        this.feedReads++;
        return this.since(after, limit);
      },
      close: async () => void (handle.closed = true),
    };
  }
}

const clock = { t: 1_000_000, now() { return this.t; } };
const principal = (o: Partial<Principal> = {}): Principal => ({ ...ANONYMOUS, agent: 'agent-a', user: 'alice', tenant: 'acme', tokenId: 'jti-1', task: 'task-1', method: 'gateway-token', ...o });
const revocation = (kind: NewRevocation['kind'], value: string): NewRevocation => ({ id: `id-${kind}-${value}`, kind, value, revokedAt: '2100-01-01T00:00:00.000Z', by: 'cli', reason: null, expiresAt: null });
const code = (fn: () => void): string | undefined => {
  try {
    fn();
    return undefined;
  } catch (e) {
    assert.ok(e instanceof WardenError);
    return e.code;
  }
};
const errorOf = (fn: () => void): WardenError => {
  try {
    fn();
  } catch (e) {
    if (e instanceof WardenError) return e;
  }
  throw new Error('no WardenError');
};
const until = async (cond: () => boolean, ms = 2000): Promise<void> => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 5));
  }
};

describe('RevocationList', () => {
  test('fails closed until the first read, then refuses each revoked kind and only those', async () => {
    const store = new MemoryRevocations();
    const list = new RevocationList({ store, maxStalenessMs: 5000, pollMs: 500, clock });
    assert.equal(code(() => list.check(principal())), 'revocation_unavailable', 'never read: fail closed');
    assert.equal(await list.refresh(), true);
    assert.equal(code(() => list.check(principal())), undefined);

    for (const [kind, value] of [['token', 'jti-9'], ['task', 'task-9'], ['agent', 'agent-9'], ['user', 'mallory']] as const) await store.add(revocation(kind, value));
    await list.refresh();
    assert.equal(list.status().size, 4);
    assert.equal(code(() => list.check(principal())), undefined, 'nothing of this principal is revoked');
    assert.equal(code(() => list.check(principal({ tokenId: 'jti-9' }))), 'revoked');
    assert.equal(code(() => list.check(principal({ task: 'task-9' }))), 'revoked');
    assert.equal(code(() => list.check(principal({ agent: 'agent-9' }))), 'revoked');
    assert.equal(code(() => list.check(principal({ user: 'mallory' }))), 'revoked');
    // Every agent of the delegation chain counts, wherever it stands.
    assert.equal(code(() => list.check(principal({ chain: ['planner', 'agent-9'] }))), 'revoked');
    assert.equal(code(() => list.check(principal({ chain: ['planner'] }))), undefined);
    // A value revoked as one kind does not refuse it as another.
    assert.equal(code(() => list.check(principal({ agent: 'mallory', user: null, tokenId: null, task: null }))), undefined);
    assert.equal(code(() => list.check(principal({ tokenId: 'task-9', task: null }))), undefined);
    // Nulls (no user, no token id, no task) never match.
    assert.equal(code(() => list.check(principal({ user: null, tokenId: null, task: null }))), undefined);
    // A token exchanged (however far down) from a revoked token is refused; an ancestor revoked as a task is not a token.
    assert.equal(code(() => list.check(principal({ tokenAncestors: ['jti-0', 'jti-9', 'jti-5'] }))), 'revoked');
    assert.match(errorOf(() => list.check(principal({ tokenAncestors: ['jti-9'] }))).message, /a token this one was exchanged from has been revoked/);
    assert.equal(code(() => list.check(principal({ tokenAncestors: ['jti-0', 'task-9'] }))), undefined);
  });

  test('the error names what was revoked, never a token id; JSON-RPC -32007', async () => {
    const store = new MemoryRevocations();
    for (const [kind, value] of [['token', 'jti-secretish-1'], ['agent', 'spiffe://example.org/agent/planner'], ['task', 'task-7'], ['user', 'bob']] as const) await store.add(revocation(kind, value));
    const list = new RevocationList({ store, maxStalenessMs: 5000, pollMs: 500, clock });
    await list.refresh();
    const tokenErr = errorOf(() => list.check(principal({ tokenId: 'jti-secretish-1' })));
    assert.equal(tokenErr.message, 'Access revoked: this token has been revoked');
    assert.ok(!JSON.stringify({ m: tokenErr.message, d: tokenErr.data }).includes('jti-secretish-1'));
    assert.equal(tokenErr.jsonRpcCode, -32007);
    assert.deepEqual(tokenErr.data, { kind: 'token', revokedAt: '2100-01-01T00:00:00.000Z' });
    const chainErr = errorOf(() => list.check(principal({ chain: ['spiffe://example.org/agent/planner'] })));
    assert.match(chainErr.message, /agent "spiffe:\/\/example\.org\/agent\/planner" in the delegation chain has been revoked/);
    assert.equal(chainErr.data?.subject, 'spiffe://example.org/agent/planner');
    assert.match(errorOf(() => list.check(principal({ task: 'task-7' }))).message, /task task-7 has been revoked/);
    assert.match(errorOf(() => list.check(principal({ user: 'bob' }))).message, /user "bob" has been revoked/);
  });

  test('stale beyond the window: every check fails closed until a read succeeds again', async () => {
    const store = new MemoryRevocations();
    const list = new RevocationList({ store, maxStalenessMs: 5000, pollMs: 500, clock });
    await list.refresh();
    clock.t += 5000;
    assert.equal(code(() => list.check(principal())), undefined, 'at the window: still served');
    clock.t += 1;
    const err = errorOf(() => list.check(principal()));
    assert.equal(err.code, 'revocation_unavailable');
    assert.equal(err.httpStatus, 503);
    assert.equal(list.status().fresh, false);

    store.failReads = true;
    assert.equal(await list.refresh(), false);
    assert.equal(code(() => list.check(principal())), 'revocation_unavailable', 'a failed read confirms nothing');
    store.failReads = false;
    assert.equal(await list.refresh(), true);
    assert.equal(code(() => list.check(principal())), undefined, 'fresh again');
  });

  test('a read confirms the list as of its start, not its end', async () => {
    const store = new MemoryRevocations();
    const list = new RevocationList({ store, maxStalenessMs: 5000, pollMs: 500, clock });
    let release!: () => void;
    store.gate = new Promise((r) => (release = r));
    const reading = list.refresh();
    const startedAt = clock.t;
    await until(() => store.reads === 1);
    clock.t += 4000; // the read is slow
    release();
    await reading;
    assert.equal(list.status().ageMs, clock.t - startedAt);
    clock.t = startedAt + 5001;
    assert.equal(code(() => list.check(principal())), 'revocation_unavailable');
  });

  test('reads follow the log by seq; a burst of refreshes costs at most two reads', async () => {
    const store = new MemoryRevocations();
    const list = new RevocationList({ store, maxStalenessMs: 5000, pollMs: 500, clock });
    await list.refresh();
    await store.add(revocation('agent', 'a1'));
    store.reads = 0;
    store.gate = new Promise((r) => setTimeout(r, 20));
    await Promise.all(Array.from({ length: 20 }, () => list.refresh()));
    store.gate = undefined;
    assert.ok(store.reads <= 2, `${store.reads} reads`);
    assert.equal(list.status().seq, 1);
    assert.equal(code(() => list.check(principal({ agent: 'a1' }))), 'revoked');
  });

  test('a lifted revocation (revoke undo) stops refusing at the next read; a record refuses nothing once its expiry passes', async () => {
    const store = new MemoryRevocations();
    const t = { t: Date.parse('2100-01-01T00:00:00.000Z'), now() { return this.t; } };
    const list = new RevocationList({ store, maxStalenessMs: 60_000, pollMs: 500, clock: t });
    await store.add(revocation('agent', 'agent-a'));
    await store.add({ ...revocation('user', 'alice'), expiresAt: '2100-01-01T00:00:10.000Z' });
    await list.refresh();
    assert.equal(code(() => list.check(principal())), 'revoked');
    assert.ok(await store.lift('agent', 'agent-a', new Date(t.t).toISOString()));
    assert.equal(code(() => list.check(principal({ user: null }))), 'revoked', 'not read yet: still refused');
    await list.refresh();
    assert.equal(code(() => list.check(principal({ user: null }))), undefined, 'lifted: accepted again');
    assert.equal(list.get('agent', 'agent-a'), undefined);
    assert.equal(code(() => list.check(principal())), 'revoked', 'the user is still revoked');
    // A replica whose clock is years behind applies the lift too: the record is marked lifted, not just expired.
    const behind = new RevocationList({ store, maxStalenessMs: 60_000, pollMs: 500, clock: { now: () => Date.parse('2001-01-01T00:00:00.000Z') } });
    await behind.refresh();
    assert.equal(code(() => behind.check(principal({ user: null }))), undefined);
    // This replica's clock passes the record's expiry (a lift dated by a clock ahead of this one, or the end of a token's life).
    t.t += 10_000;
    assert.equal(code(() => list.check(principal())), undefined);
    // Revoked again: refused again.
    await store.add({ ...revocation('agent', 'agent-a'), id: 'again' });
    await list.refresh();
    assert.equal(code(() => list.check(principal())), 'revoked');
  });

  test('stop: checks fail closed; an expired record refuses nothing and is not held; prune runs', async () => {
    const store = new MemoryRevocations();
    await store.add({ ...revocation('token', 'old'), expiresAt: '2000-01-01T00:00:00.000Z' });
    await store.add({ ...revocation('token', 'current'), expiresAt: '2100-06-01T00:00:00.000Z' });
    const list = new RevocationList({ store, maxStalenessMs: 5000, pollMs: 500, pruneEveryMs: 10, clock: { now: () => Date.now() } });
    await list.start();
    assert.equal(list.get('token', 'old'), undefined);
    assert.equal(list.get('token', 'current')?.value, 'current');
    assert.equal(list.status().size, 1);
    assert.equal(code(() => list.check(principal({ tokenId: 'old' }))), undefined);
    assert.equal(code(() => list.check(principal({ tokenId: 'current' }))), 'revoked');
    await until(() => store.pruned.length > 0);
    await list.stop();
    assert.equal(code(() => list.check(principal())), 'revocation_unavailable');
  });

  test('with a feed: reads go over it, a notification triggers one, a lost feed is reopened with backoff', async () => {
    const store = new FeedRevocations();
    const list = new RevocationList({ store, maxStalenessMs: 5000, pollMs: 60_000, clock, backoff: { minMs: 5, maxMs: 20 } });
    store.refuseSubscribe = true;
    await list.start();
    assert.equal(list.status().channel, 'down');
    assert.equal(code(() => list.check(principal())), 'revocation_unavailable', 'no feed: never confirmed');
    store.refuseSubscribe = false;
    await until(() => list.status().channel === 'listening' && list.status().fresh);
    assert.equal(store.reads, store.feedReads, 'every read went over the feed');

    await store.add(revocation('agent', 'agent-a'));
    store.feeds.at(-1)!.notify('id-agent-agent-a');
    await until(() => list.get('agent', 'agent-a') !== undefined);
    assert.equal(code(() => list.check(principal())), 'revoked');

    // The connection drops: no reads until a new feed is open, and the list goes stale meanwhile.
    store.refuseSubscribe = true;
    store.feeds.at(-1)!.lose(new Error('terminated'));
    assert.equal(list.status().channel, 'down');
    assert.equal(await list.refresh(), false);
    clock.t += 6000;
    assert.equal(code(() => list.check(principal({ agent: 'agent-b' }))), 'revocation_unavailable');
    await store.add(revocation('user', 'carol')); // revoked while the feed was down
    store.refuseSubscribe = false;
    await until(() => list.status().fresh);
    assert.equal(store.feeds.filter((f) => !f.closed).length, 1, 'one open feed');
    assert.equal(code(() => list.check(principal({ agent: 'agent-b' }))), undefined);
    assert.equal(code(() => list.check(principal({ agent: 'agent-b', user: 'carol' }))), 'revoked', 'caught up on reconnect');
    await list.stop();
    assert.ok(store.feeds.every((f) => f.closed), 'stop closes the feed');
  });
});
