/**
 * Upstreams that crash, hang, lie or are not there. Two upstreams sit behind one gateway: the misbehaving
 * fixture (`bad`, with a short per-call timeout) and server-everything (`good`). Each failure must give the
 * client a clear error, leave the other upstream (and the gateway) working, and be audited with the right
 * errorCode and outcome.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { AuditEvent } from '../../src/audit/index.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { RawSession } from '../helpers/mcp-http.js';
import { everythingStdio, tsFixtureStdio } from '../helpers/servers.js';

type Item = Record<string, unknown>;
interface RpcError { code: number; message: string; data?: Record<string, unknown> }

const SENTINEL = 's3cr3t-sentinel';
const HANG_TIMEOUT_MS = 800;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const texts = (result: unknown): string => (((result as Item | undefined)?.content as Item[] | undefined) ?? []).map((c) => String(c.text ?? '')).join('\n');

/** A loopback port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

async function newSession(url: string): Promise<RawSession> {
  const s = new RawSession(url);
  const init = await s.initialize();
  assert.equal(init.status, 200, init.text);
  assert.ok(s.sessionId);
  return s;
}

async function callTool(s: RawSession, name: string, args: Item = {}): Promise<{ result?: Item; error?: RpcError }> {
  const { res, message } = await s.request('tools/call', { name, arguments: args });
  assert.equal(res.status, 200, `${name}: HTTP ${res.status} ${res.text.slice(0, 300)}`);
  return { result: message.result as Item | undefined, error: message.error as RpcError | undefined };
}

async function expectError(s: RawSession, name: string, args: Item = {}): Promise<RpcError> {
  const r = await callTool(s, name, args);
  assert.ok(r.error, `${name} should fail, got ${JSON.stringify(r.result)}`);
  assert.ok(r.error.message.length > 5, `a clear message: ${JSON.stringify(r.error)}`);
  return r.error;
}

/** The newest audit event for a tools/call of `target`. */
async function auditFor(gw: TestGateway, target: string): Promise<AuditEvent> {
  const events = (await gw.store.audit.tail({ limit: 200 })).filter((e) => e.method === 'tools/call' && e.outcome !== 'intent' && e.target === target);
  const e = events.at(-1);
  assert.ok(e, `no audit event for ${target}`);
  return e;
}

describe('upstream failures (bad = misbehaving fixture, good = server-everything)', () => {
  let gw: TestGateway;
  let s: RawSession;
  const savedSentinel = process.env.WARDEN_TEST_SENTINEL;

  before(async () => {
    // Set before the gateway starts: nothing of the gateway's own environment but PATH and HOME may leak.
    process.env.WARDEN_TEST_SENTINEL = SENTINEL;
    gw = await startTestGateway({
      // One connection per session: the crash test shows another session's own connection unaffected.
      bad: { ...tsFixtureStdio('misbehaving-upstream.ts', [], { ONLY_THIS: '1' }), timeoutMs: HANG_TIMEOUT_MS, share: 'per-session' },
      good: everythingStdio(),
    });
    s = await newSession(gw.url);
  });

  after(async () => {
    await gw?.close();
    if (savedSentinel === undefined) delete process.env.WARDEN_TEST_SENTINEL;
    else process.env.WARDEN_TEST_SENTINEL = savedSentinel;
  });

  test('both upstreams serve, with prefixed names', async () => {
    assert.equal(texts((await callTool(s, 'bad__echo', { message: 'hi' })).result), 'hi');
    assert.equal(texts((await callTool(s, 'good__echo', { message: 'hi' })).result), 'Echo: hi');
  });

  test('malformed tools are dropped from tools/list, valid ones kept', async () => {
    const { message } = await s.request('tools/list');
    const names = ((message.result as Item).tools as Item[]).map((t) => t.name);
    const bad = names.filter((n) => typeof n === 'string' && n.startsWith('bad__')).sort();
    assert.deepEqual(bad, [
      'bad__ask_sampling',
      'bad__cancelled_ids',
      'bad__count',
      'bad__crash',
      'bad__echo',
      'bad__env',
      'bad__error_result',
      'bad__garbage',
      'bad__hang',
      'bad__invalid_result',
      'bad__non_object_result',
    ]);
    assert.ok(names.includes('good__echo'));
    assert.ok(!names.includes('bad__no_schema'));
    assert.ok(!names.includes('bad__schema_not_object'));
    for (const n of names) assert.equal(typeof n, 'string');
    // A dropped tool cannot be called either.
    const err = await expectError(s, 'bad__no_schema');
    assert.equal(err.code, -32602);
    assert.equal(err.data?.reason, 'unknown_tool');
  });

  test('invalid_result: upstream_invalid_result', async () => {
    const err = await expectError(s, 'bad__invalid_result');
    assert.equal(err.code, -32003);
    assert.equal(err.data?.reason, 'upstream_invalid_result');
    assert.match(err.message, /bad/);
    const e = await auditFor(gw, 'invalid_result');
    assert.equal(e.errorCode, 'upstream_invalid_result');
    assert.equal(e.outcome, 'error');
    assert.equal(e.upstream, 'bad');
  });

  test('a non-object result: upstream_invalid_result', async () => {
    const err = await expectError(s, 'bad__non_object_result');
    assert.equal(err.code, -32003);
    assert.equal(err.data?.reason, 'upstream_invalid_result');
    const e = await auditFor(gw, 'non_object_result');
    assert.equal(e.errorCode, 'upstream_invalid_result');
    assert.equal(e.outcome, 'error');
  });

  test("error_result: the upstream's own JSON-RPC error is relayed", async () => {
    const err = await expectError(s, 'bad__error_result');
    assert.equal(err.code, -32000);
    assert.equal(err.message, 'tool failed');
    const e = await auditFor(gw, 'error_result');
    assert.equal(e.errorCode, 'upstream_error');
    assert.equal(e.outcome, 'error');
    assert.equal(e.upstream, 'bad');
  });

  test('garbage on stdout is ignored and the call succeeds', async () => {
    assert.equal(texts((await callTool(s, 'bad__garbage')).result), 'after garbage');
    assert.equal(texts((await callTool(s, 'bad__echo', { message: 'next' })).result), 'next');
    const e = await auditFor(gw, 'garbage');
    assert.equal(e.outcome, 'ok');
    assert.equal(e.errorCode, null);
  });

  test('a server-to-client request the client cannot take is refused, not hung', async () => {
    // The client declared no sampling capability: the gateway answers the upstream with method-not-found.
    const r = await callTool(s, 'bad__ask_sampling');
    assert.ok(r.result, JSON.stringify(r.error));
    const answer = JSON.parse(texts(r.result)) as { result: unknown; error: RpcError | null };
    assert.equal(answer.result, null);
    assert.equal(answer.error?.code, -32601);
  });

  test('hang: upstream_timeout after the per-upstream timeout, and the upstream is told to cancel', async () => {
    const started = Date.now();
    // The good upstream keeps serving while bad hangs.
    const [hang, good] = await Promise.all([expectError(s, 'bad__hang'), callTool(s, 'good__echo', { message: 'meanwhile' }).then((r) => ({ r, at: Date.now() - started }))]);
    const elapsed = Date.now() - started;
    assert.equal(texts(good.r.result), 'Echo: meanwhile');
    assert.ok(good.at < HANG_TIMEOUT_MS, `good answered after ${good.at} ms, while bad hung`);
    assert.equal(hang.code, -32002);
    assert.equal(hang.data?.reason, 'upstream_timeout');
    assert.ok(elapsed >= HANG_TIMEOUT_MS - 50, `timed out too early: ${elapsed} ms`);
    assert.ok(elapsed < HANG_TIMEOUT_MS + 700, `timed out too late: ${elapsed} ms`);
    const e = await auditFor(gw, 'hang');
    assert.equal(e.outcome, 'timeout');
    assert.equal(e.errorCode, 'upstream_timeout');
    assert.equal(e.upstream, 'bad');

    // notifications/cancelled is sent after the timeout; give it a bounded moment to arrive.
    let seen: { hangIds: unknown[]; cancelledIds: unknown[] } = { hangIds: [], cancelledIds: [] };
    for (const deadline = Date.now() + 3000; Date.now() < deadline; await sleep(50)) {
      seen = JSON.parse(texts((await callTool(s, 'bad__cancelled_ids')).result)) as typeof seen;
      if (seen.cancelledIds.length > 0) break;
    }
    assert.equal(seen.hangIds.length, 1);
    assert.deepEqual(seen.cancelledIds, seen.hangIds, 'the upstream got notifications/cancelled for the hung request id');
  });

  test('a client cancellation is forwarded upstream and audited as cancelled', async () => {
    const before = JSON.parse(texts((await callTool(s, 'bad__cancelled_ids')).result)) as { hangIds: unknown[]; cancelledIds: unknown[] };
    const id = 'cancel-me';
    const pending = s.post({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'bad__hang', arguments: {} } });
    // Wait until the hang reached the upstream, then cancel it from the client side.
    let seen = before;
    for (const deadline = Date.now() + 3000; Date.now() < deadline && seen.hangIds.length === before.hangIds.length; await sleep(25)) {
      seen = JSON.parse(texts((await callTool(s, 'bad__cancelled_ids')).result)) as typeof seen;
    }
    assert.equal(seen.hangIds.length, before.hangIds.length + 1, 'the hang reached the upstream');
    const started = Date.now();
    const note = await s.post({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: id, reason: 'test' } });
    assert.equal(note.status, 202);
    const res = await pending;
    assert.ok(Date.now() - started < HANG_TIMEOUT_MS, 'the cancelled request ended before its timeout');
    const msg = res.messages.find((m) => m.id === id);
    assert.equal((msg?.error as RpcError | undefined)?.data?.reason, 'cancelled');
    let after = seen;
    for (const deadline = Date.now() + 3000; Date.now() < deadline && after.cancelledIds.length === seen.cancelledIds.length; await sleep(25)) {
      after = JSON.parse(texts((await callTool(s, 'bad__cancelled_ids')).result)) as typeof seen;
    }
    assert.equal(after.cancelledIds.at(-1), after.hangIds.at(-1), 'the upstream got notifications/cancelled for the upstream request id');
    const e = await auditFor(gw, 'hang');
    assert.equal(e.outcome, 'cancelled');
    assert.equal(e.errorCode, 'cancelled');
  });

  test('scrubbed environment: the upstream sees only PATH, HOME and its configured env', async () => {
    assert.equal(process.env.WARDEN_TEST_SENTINEL, SENTINEL);
    const r = await callTool(s, 'bad__env');
    const raw = texts(r.result);
    assert.ok(!raw.includes(SENTINEL), 'the sentinel leaked to the upstream');
    const env = JSON.parse(raw) as Record<string, string>;
    const expected = ['HOME', 'PATH'].filter((k) => process.env[k] !== undefined).concat('ONLY_THIS').sort();
    assert.deepEqual(Object.keys(env).sort(), expected);
    assert.equal(env.ONLY_THIS, '1');
    assert.equal(env.PATH, process.env.PATH);
  });

  test('crash: upstream_crashed; the gateway and the other upstream are unaffected; bad comes back after backoff', async () => {
    const other = await newSession(gw.url);
    assert.equal(texts((await callTool(other, 'bad__echo', { message: 'warm' })).result), 'warm');
    const err = await expectError(s, 'bad__crash');
    assert.equal(err.code, -32001);
    assert.equal(err.data?.reason, 'upstream_crashed');
    assert.match(err.message, /bad/);
    const e = await auditFor(gw, 'crash');
    assert.equal(e.errorCode, 'upstream_crashed');
    assert.equal(e.outcome, 'error');
    assert.equal(e.upstream, 'bad');

    // The other upstream works at once, and so does another session's own connection to bad.
    assert.equal(texts((await callTool(s, 'good__echo', { message: 'after crash' })).result), 'Echo: after crash');
    assert.equal(texts((await callTool(other, 'bad__echo', { message: 'other session' })).result), 'other session');
    // During the backoff, bad fails fast with upstream_unavailable (or already works again).
    const during = await callTool(s, 'bad__echo', { message: 'during' });
    if (during.error) {
      assert.equal(during.error.data?.reason, 'upstream_unavailable');
      assert.equal(during.error.code, -32001);
    }
    // After the backoff (500 ms initially) it is restarted.
    let last: { result?: Item; error?: RpcError } = during;
    for (const deadline = Date.now() + 15_000; Date.now() < deadline && !last.result; await sleep(100)) {
      last = await callTool(s, 'bad__echo', { message: 'back' });
    }
    assert.equal(texts(last.result), 'back', `bad never came back: ${JSON.stringify(last.error)}`);
    // tools/list shows both upstreams again.
    const { message } = await s.request('tools/list');
    const names = ((message.result as Item).tools as Item[]).map((t) => String(t.name));
    assert.ok(names.includes('bad__echo') && names.includes('good__echo'));
    // And the gateway itself never went down.
    const health = await fetch(new URL('/healthz', gw.url));
    assert.equal(health.status, 200);
    await health.arrayBuffer();
  });
});

describe('an unreachable HTTP upstream', () => {
  let gw: TestGateway;
  let s: RawSession;

  before(async () => {
    const port = await closedPort();
    gw = await startTestGateway({ good: everythingStdio(), dead: { url: `http://127.0.0.1:${port}/mcp` } });
    s = await newSession(gw.url);
  });

  after(async () => {
    await gw?.close();
  });

  test('makes only its own tools unavailable', async () => {
    const { res, message } = await s.request('tools/list');
    assert.equal(res.status, 200);
    const names = ((message.result as Item).tools as Item[]).map((t) => String(t.name));
    assert.ok(names.includes('good__echo'), 'the reachable upstream is listed');
    assert.ok(!names.some((n) => n.startsWith('dead__')));
    assert.equal(texts((await callTool(s, 'good__echo', { message: 'ok' })).result), 'Echo: ok');
  });

  test('a call to it fails with upstream_unavailable', async () => {
    const err = await expectError(s, 'dead__echo', { message: 'x' });
    assert.equal(err.code, -32001);
    assert.equal(err.data?.reason, 'upstream_unavailable');
    assert.match(err.message, /dead/);
    const e = (await gw.store.audit.tail({ limit: 50 })).filter((ev) => ev.method === 'tools/call' && ev.outcome !== 'intent').at(-1);
    assert.ok(e);
    assert.equal(e.upstream, 'dead');
    assert.equal(e.errorCode, 'upstream_unavailable');
    assert.equal(e.outcome, 'error');
    // And the other upstream is still fine.
    assert.equal(texts((await callTool(s, 'good__echo', { message: 'still' })).result), 'Echo: still');
  });

  test('names that no upstream could own are still unknown tools', async () => {
    for (const name of ['good__no_such_tool', 'no_prefix_at_all', 'deadish__echo']) {
      const err = await expectError(s, name);
      assert.equal(err.code, -32602, name);
      assert.equal(err.data?.reason, 'unknown_tool', name);
    }
  });
});

describe('an upstream that answers initialize with an unsupported protocol version', () => {
  let gw: TestGateway;
  let s: RawSession;

  before(async () => {
    gw = await startTestGateway({ liar: tsFixtureStdio('misbehaving-upstream.ts', ['--protocol', '1999-01-01']), good: everythingStdio() });
    s = await newSession(gw.url);
  });

  after(async () => {
    await gw?.close();
  });

  test('is not used: its tools are not listed and calls to it fail with upstream_unavailable', async () => {
    const { message } = await s.request('tools/list');
    const names = ((message.result as Item).tools as Item[]).map((t) => String(t.name));
    assert.ok(names.includes('good__echo'));
    assert.ok(!names.some((n) => n.startsWith('liar__')), names.join(','));
    const err = await expectError(s, 'liar__echo', { message: 'x' });
    assert.equal(err.data?.reason, 'upstream_unavailable');
    assert.equal(texts((await callTool(s, 'good__echo', { message: 'fine' })).result), 'Echo: fine');
  });
});
