/**
 * Fail closed: when the audit store cannot record, calls are refused with audit_unavailable (-32004) and
 * never reach an upstream; the gateway itself stays up. And under concurrency every call is recorded once.
 *
 * Whether a call reached the upstream is observed through the misbehaving fixture's call log
 * (MISBEHAVE_CALL_LOG): it appends one line per tools/call it receives, before handling it.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { AuditEvent } from '../../src/audit/index.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { RawSession } from '../helpers/mcp-http.js';
import { tsFixtureStdio } from '../helpers/servers.js';

type Item = Record<string, unknown>;
interface RpcError { code: number; message: string; data?: Record<string, unknown> }

const texts = (result: unknown): string => (((result as Item | undefined)?.content as Item[] | undefined) ?? []).map((c) => String(c.text ?? '')).join('\n');

function callLines(file: string): string[] {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter((l) => l.length > 0) : [];
}

async function newSession(url: string): Promise<RawSession> {
  const s = new RawSession(url);
  const init = await s.initialize();
  assert.equal(init.status, 200, init.text);
  assert.ok(s.sessionId, `initialize failed: ${init.text}`);
  return s;
}

async function echo(s: RawSession, message: string): Promise<{ result?: Item; error?: RpcError }> {
  const { res, message: m } = await s.request('tools/call', { name: 'echo', arguments: { message } });
  // A refusal because the audit cannot be written is HTTP 503 (a balancer retries elsewhere); answers are 200.
  const unavailable = (m.error as RpcError | undefined)?.data?.reason === 'audit_unavailable';
  assert.equal(res.status, unavailable ? 503 : 200, res.text);
  if (unavailable) assert.equal(res.headers.get('retry-after'), '1');
  return { result: m.result as Item | undefined, error: m.error as RpcError | undefined };
}

function assertAuditRefusal(r: { result?: Item; error?: RpcError }): void {
  assert.ok(r.error, `the call must be refused, got ${JSON.stringify(r.result)}`);
  assert.equal(r.error.code, -32004);
  assert.equal(r.error.data?.reason, 'audit_unavailable');
  assert.match(r.error.message, /audit/i);
}

async function healthz(gw: TestGateway): Promise<number> {
  const res = await fetch(new URL('/healthz', gw.url), { signal: AbortSignal.timeout(5000) });
  await res.arrayBuffer();
  return res.status;
}

describe('fail closed: the audit store is closed under a running gateway', () => {
  let gw: TestGateway;
  let s: RawSession;
  let dir: string;
  let log: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'warden-fail-closed-'));
    log = join(dir, 'calls.log');
    gw = await startTestGateway({ bad: tsFixtureStdio('misbehaving-upstream.ts', [], { MISBEHAVE_CALL_LOG: log }) });
    s = await newSession(gw.url);
  });

  after(async () => {
    // close() closes the store a second time: that must be harmless.
    await gw?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a good call before the failure is served and recorded', async () => {
    assert.equal(texts((await echo(s, 'before')).result), 'before');
    assert.deepEqual(callLines(log).map((l) => l.split(' ')[1]), ['echo']);
    const [last] = await gw.store.audit.tail({ limit: 1 });
    assert.equal(last?.method, 'tools/call');
    assert.equal(last?.outcome, 'ok');
  });

  test('the first call after the store fails is refused and never reaches the upstream', async () => {
    await gw.store.close();
    const before = callLines(log).length;
    assertAuditRefusal(await echo(s, 'after-close-1'));
    assert.equal(callLines(log).length, before, `the upstream was called although nothing could be audited: ${callLines(log).join(' | ')}`);
  });

  test('later calls are refused too, without reaching the upstream', async () => {
    const before = callLines(log).length;
    for (let i = 0; i < 3; i++) assertAuditRefusal(await echo(s, `after-close-${i + 2}`));
    assert.equal(callLines(log).length, before);
  });

  test('the gateway stays up: healthz answers, and a new session is refused, not crashed', async () => {
    assert.equal(await healthz(gw), 200);
    const other = new RawSession(gw.url);
    const init = await other.initialize();
    assert.equal(init.status, 503);
    const err = init.messages[0]?.error as RpcError | undefined;
    assert.equal(err?.data?.reason, 'audit_unavailable');
    assert.equal(other.sessionId, '', 'no session is opened without an audit record');
    assert.equal(await healthz(gw), 200);
  });
});

describe('fail closed: a transient store failure', () => {
  let gw: TestGateway;
  let s: RawSession;
  let dir: string;
  let log: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'warden-fail-transient-'));
    log = join(dir, 'calls.log');
    gw = await startTestGateway({ bad: tsFixtureStdio('misbehaving-upstream.ts', [], { MISBEHAVE_CALL_LOG: log }) });
    s = await newSession(gw.url);
  });

  after(async () => {
    await gw?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('calls are refused while appends fail, and served again once they succeed', async () => {
    assert.equal(texts((await echo(s, 'ok-1')).result), 'ok-1');
    const audit = gw.store.audit as { append: (events: readonly AuditEvent[]) => Promise<void> };
    const original = audit.append;
    audit.append = () => Promise.reject(new Error('disk full'));
    try {
      // The first call is refused (whether it reached the upstream is the previous suite's concern).
      assertAuditRefusal(await echo(s, 'while-failing-1'));
      const before = callLines(log).length;
      assertAuditRefusal(await echo(s, 'while-failing-2'));
      assertAuditRefusal(await echo(s, 'while-failing-3'));
      assert.equal(callLines(log).length, before, 'once the failure is known, no call reaches the upstream');
      assert.equal(await healthz(gw), 200);
    } finally {
      audit.append = original;
    }
    // The store is back: the next call is refused (it carries the news) or served, and the one after is served.
    const first = await echo(s, 'recovering');
    if (first.error) assertAuditRefusal(first);
    assert.equal(texts((await echo(s, 'ok-2')).result), 'ok-2');
    // Strict audit: the served call has its intent and its outcome, which names the intent.
    const events = (await gw.store.audit.tail({ limit: 20 })).filter((e) => e.method === 'tools/call');
    const last = events[events.length - 1]!;
    assert.equal(last.outcome, 'ok');
    assert.ok(last.intentId && events.some((e) => e.id === last.intentId && e.outcome === 'intent'), 'the served call was recorded with its intent');
  });
});

describe('concurrent sessions', () => {
  const SESSIONS = 20;
  const CALLS = 10;
  let gw: TestGateway;
  let dir: string;
  let log: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'warden-concurrent-'));
    log = join(dir, 'calls.log');
    gw = await startTestGateway({ bad: tsFixtureStdio('misbehaving-upstream.ts', [], { MISBEHAVE_CALL_LOG: log }) });
  });

  after(async () => {
    await gw?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test(`${SESSIONS} sessions x ${CALLS} calls in parallel: all succeed, each recorded exactly once`, { timeout: 120_000 }, async () => {
    const countBefore = await gw.store.audit.count();
    const sessions = await Promise.all(Array.from({ length: SESSIONS }, () => newSession(gw.url)));
    assert.equal(new Set(sessions.map((x) => x.sessionId)).size, SESSIONS, 'session ids are distinct');
    // Upstreams start on first use: each session lists once first, so the burst below does not pile up (past
    // the per-principal cap of calls in flight) behind the process start.
    await Promise.all(sessions.map((sess) => sess.request('tools/list')));
    await Promise.all(
      sessions.map((sess, i) =>
        Promise.all(
          Array.from({ length: CALLS }, async (_, j) => {
            const msg = `s${i}-c${j}`;
            const r = await echo(sess, msg);
            assert.equal(texts(r.result), msg, `session ${i} call ${j}: ${JSON.stringify(r.error)}`);
          }),
        ),
      ),
    );
    // One initialize, one tools/list and CALLS tools/call per session, each call an intent then an outcome;
    // notifications are not audited. The first list also pins the upstream's tools (tool integrity): one
    // `integrity/pinned` event each, not the sessions'.
    const total = (await gw.store.audit.count()) - countBefore;
    const events = (await gw.store.audit.tail({ limit: total })).filter((e) => !e.method.startsWith('integrity/'));
    const added = events.length;
    assert.equal(added, SESSIONS * (2 * CALLS + 2));
    assert.equal(new Set(events.map((e) => e.id)).size, added, 'audit ids are unique');
    for (const sess of sessions) {
      const mine = events.filter((e) => e.sessionId === sess.sessionId);
      assert.equal(mine.filter((e) => e.method === 'initialize').length, 1);
      const intents = mine.filter((e) => e.method === 'tools/call' && e.outcome === 'intent');
      const calls = mine.filter((e) => e.method === 'tools/call' && e.outcome !== 'intent');
      assert.equal(calls.length, CALLS);
      assert.deepEqual(calls.map((e) => e.intentId).sort(), intents.map((e) => e.id).sort(), 'each call closes its own intent');
      for (const e of calls) {
        assert.equal(e.outcome, 'ok');
        assert.equal(e.target, 'echo');
        assert.equal(e.upstream, 'bad');
        assert.match(e.argsDigest ?? '', /^sha256:[0-9a-f]{64}$/);
      }
      // Distinct arguments give distinct digests.
      assert.equal(new Set(calls.map((e) => e.argsDigest)).size, CALLS);
    }
    assert.equal(callLines(log).length, SESSIONS * CALLS, 'each call reached the upstream exactly once');
    assert.equal(await healthz(gw), 200);
  });
});
