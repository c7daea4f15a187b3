/**
 * Resource limits through the real gateway, with real tokens: sessions per principal, sessions opened a
 * minute, requests in flight per principal and per upstream, the gateway-wide session cap, and the header,
 * request and idle timeouts against raw sockets (slow headers, slow bodies, an unauthenticated slow body).
 * Every refusal is 429 or 503 with Retry-After and a stable code; one principal never locks another out;
 * refusals are audited within a budget; afterwards the gateway serves and `warden audit verify` is intact.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { auditAfter, bearer, BearerSession, initializeBody, lastAuditId, LATEST, post, startAuthGateway, type AuthGateway } from '../helpers/auth.js';
import { assertAuditIntact } from '../helpers/gateway.js';
import { createTestIssuer, type TestIssuer } from '../helpers/idp.js';
import { BASE_HEADERS, type RawResponse } from '../helpers/mcp-http.js';
import { ROOT, startHttpProcess, type Started } from '../helpers/servers.js';

const LIMITS = {
  maxSessions: 10,
  maxSessionsPerPrincipal: 3,
  sessionsPerMinutePerPrincipal: 6,
  maxConcurrentCallsPerPrincipal: 2,
  maxConcurrentCallsPerUpstream: 3,
  headersTimeoutMs: 500,
  requestTimeoutMs: 2_000,
  idleTimeoutMs: 1_500,
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
type RpcError = { code: number; message: string; data?: Record<string, unknown> };

function refusal(r: RawResponse, status: number, reason: string): RpcError {
  assert.equal(r.status, status, r.text.slice(0, 300));
  const retryAfter = Number(r.headers.get('retry-after'));
  assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1, `Retry-After: ${r.headers.get('retry-after')}`);
  const err = r.messages[0]?.error as RpcError | undefined;
  assert.equal(err?.code, -32010, r.text);
  assert.equal(err?.data?.reason, reason);
  assert.equal(err?.data?.retryAfter, retryAfter);
  return err;
}

/** What a raw socket saw: the status line (if any) and when the gateway closed it. */
interface RawOutcome {
  status: number | null;
  closedAfterMs: number;
}

/** Opens a socket, writes `head`, then trickles `body` a byte every `everyMs` until the gateway closes it. */
function slowRequest(port: number, head: string, body = '', everyMs = 100, giveUpMs = 15_000): Promise<RawOutcome> {
  return new Promise((resolve) => {
    const started = Date.now();
    let received = '';
    const socket: Socket = connect(port, '127.0.0.1', () => {
      socket.write(head);
      let i = 0;
      const trickle = setInterval(() => (i < body.length && !socket.destroyed ? socket.write(body[i++]!) : undefined), everyMs);
      const giveUp = setTimeout(() => socket.destroy(), giveUpMs);
      socket.on('close', () => {
        clearInterval(trickle);
        clearTimeout(giveUp);
        const m = /^HTTP\/1\.1 (\d{3})/.exec(received);
        resolve({ status: m ? Number(m[1]) : null, closedAfterMs: Date.now() - started });
      });
    });
    socket.on('data', (d: Buffer) => (received += d.toString('latin1')));
    socket.on('error', () => undefined);
  });
}

describe('resource limits per principal', () => {
  let dir: string;
  let idp: TestIssuer;
  let upstream: Started;
  let gw: AuthGateway;
  let alice: BearerSession;

  const token = (sub: string, client = 'app-1') => idp.sign({ aud: gw.publicUrl, sub, client_id: client, scope: 'mcp:tools' });
  const session = async (sub: string, client?: string) => {
    const s = new BearerSession(gw.url, await token(sub, client));
    await s.initialize();
    return s;
  };
  const openSessions = async () => ((await (await fetch(new URL('/healthz', gw.url))).json()) as { sessions: number }).sessions;
  const del = (s: BearerSession) => fetch(gw.url, { method: 'DELETE', headers: s.headers() });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'warden-limits-'));
    idp = await createTestIssuer(dir);
    upstream = await startHttpProcess(process.execPath, ['--import', 'tsx', join(ROOT, 'test', 'fixtures', 'hostile-http-upstream.ts')], /listening on/);
    gw = await startAuthGateway(
      { web: { url: upstream.url } },
      { auth: { issuers: [{ issuer: idp.issuer, jwksFile: idp.jwksFile }] }, naming: { prefix: 'always' }, limits: LIMITS },
    );
    alice = await session('alice');
  });

  after(async () => {
    await gw?.close();
    await upstream?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('sessions per principal: the fourth is refused (429); another client id is no new budget; others are not locked out', async () => {
    const mallory = [await session('mallory'), await session('mallory'), await session('mallory')];
    const mark = await lastAuditId(gw);
    const firstSecond = Math.floor(Date.now() / 1000);
    const fourth = await post(gw.url, initializeBody(), bearer(await token('mallory')));
    const err = refusal(fourth, 429, 'principal_session_limit');
    assert.match(err.message, /at most 3/);
    // A newly registered OAuth client of the same person is the same budget.
    refusal(await post(gw.url, initializeBody(), bearer(await token('mallory', 'app-2'))), 429, 'principal_session_limit');
    // A flood of refused opens: every one refused, few audited one by one.
    const flood = await Promise.all(Array.from({ length: 60 }, async () => post(gw.url, initializeBody(), bearer(await token('mallory')))));
    for (const r of flood) refusal(r, 429, 'principal_session_limit');
    const seconds = Math.floor(Date.now() / 1000) - firstSecond + 1;
    const audited = (await auditAfter(gw, mark)).filter((e) => e.errorCode === 'principal_session_limit');
    // The budget: five a second for one principal and reason, however many were refused.
    assert.ok(audited.length >= 1 && audited.length <= 5 * seconds, `${audited.length} of 62 refusals audited in ${seconds} s`);
    assert.equal(audited[0]?.method, 'initialize');
    assert.equal(audited[0]?.user, 'mallory');

    // Another principal is not locked out, and calls work.
    const bob = await session('bob');
    assert.equal(await bob.call('web__echo', { message: 'hi' }), 'hi');
    // Ending one session frees one.
    assert.equal((await del(mallory[0]!)).status, 200);
    const again = await session('mallory');
    for (const s of [mallory[1]!, mallory[2]!, again, bob]) await del(s);
  });

  test('sessions opened a minute: past the rate, 429 with the wait; others unaffected', async () => {
    for (let i = 0; i < LIMITS.sessionsPerMinutePerPrincipal; i++) await del(await session('eve'));
    const err = refusal(await post(gw.url, initializeBody(), bearer(await token('eve'))), 429, 'session_rate_limit');
    assert.match(err.message, /at most 6 a minute/);
    assert.ok(Number(err.data?.retryAfter) >= 5 && Number(err.data?.retryAfter) <= 10, `retryAfter ${String(err.data?.retryAfter)}`);
    await del(await session('carol'));
  });

  test('the gateway-wide session cap says what it is (503 session_limit, not upstream_unavailable)', async () => {
    const held: BearerSession[] = [];
    for (let i = 0; (await openSessions()) < LIMITS.maxSessions; i++) held.push(await session(`filler-${Math.floor(i / 3)}`));
    const err = refusal(await post(gw.url, initializeBody(), bearer(await token('gina'))), 503, 'session_limit');
    assert.match(err.message, /maximum of 10 sessions/);
    for (const s of held) await del(s);
    await del(await session('gina'));
  });

  test('requests in flight per principal: the third is refused (429) while two hang; another principal is served', async () => {
    const trudy = await session('trudy');
    // Calls that hang until cancelled, so no timing on this machine decides when they end.
    const hang = (s: BearerSession, id: string) =>
      fetch(gw.url, { method: 'POST', headers: { ...BASE_HEADERS, ...s.headers() }, body: JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'web__hang', arguments: {} } }) }).then((r) => r.text());
    const cancel = (s: BearerSession, id: string) => s.post({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: id } });
    const hangsAt = async () => ((await (await fetch(new URL('/stats', upstream.url))).json()) as { hangs: number }).hangs;
    const inFlight = async (n: number) => {
      for (const deadline = Date.now() + 15_000; Date.now() < deadline && (await hangsAt()) < n; ) await sleep(50);
      assert.equal(await hangsAt(), n, `${n} hanging calls reached the upstream`);
    };
    const before = await hangsAt();
    const hangs = [hang(trudy, 'h1'), hang(trudy, 'h2')];
    await inFlight(before + 2);
    refusal((await trudy.request('tools/call', { name: 'web__echo', arguments: { message: 'x' } })).res, 429, 'principal_call_limit');
    // Trudy holds 2 of the upstream's 3 slots: alice still gets the third.
    assert.equal(await alice.call('web__echo', { message: 'not locked out' }), 'not locked out');

    // With bob holding the third slot the upstream is full: 503 for anyone, until a call ends.
    const bob = await session('bob');
    hangs.push(hang(bob, 'h3'));
    await inFlight(before + 3);
    refusal((await alice.request('tools/call', { name: 'web__echo', arguments: { message: 'y' } })).res, 503, 'upstream_call_limit');

    await Promise.all([cancel(trudy, 'h1'), cancel(trudy, 'h2'), cancel(bob, 'h3')]);
    await Promise.all(hangs);
    assert.equal(await trudy.call('web__echo', { message: 'after' }), 'after');
    assert.equal(await alice.call('web__echo', { message: 'after' }), 'after');
    const events = await auditAfter(gw);
    assert.ok(events.some((e) => e.errorCode === 'principal_call_limit' && e.user === 'trudy' && e.method === 'tools/call' && e.outcome !== 'intent'));
    assert.ok(events.some((e) => e.errorCode === 'upstream_call_limit' && e.upstream === 'web'));
    await del(trudy);
    await del(bob);
  });

  test('slow bodies are cut off after requestTimeoutMs (408), fifty at once, while others are served', async () => {
    const mark = await lastAuditId(gw);
    const t = await token('slowpoke');
    const head = `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:${gw.port}\r\nAuthorization: Bearer ${t}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nMcp-Protocol-Version: ${LATEST}\r\nContent-Length: 10000\r\n\r\n`;
    const slow = Promise.all(Array.from({ length: 50 }, () => slowRequest(gw.port, head, 'x'.repeat(10_000))));
    await sleep(300);
    const started = Date.now();
    assert.equal(await alice.call('web__echo', { message: 'served' }), 'served');
    assert.ok(Date.now() - started < 2_000, 'others are served while slow bodies trickle');
    const outcomes = await slow;
    for (const o of outcomes) {
      assert.equal(o.status, 408);
      assert.ok(o.closedAfterMs >= LIMITS.requestTimeoutMs - 100 && o.closedAfterMs < LIMITS.requestTimeoutMs + 3_000, `closed after ${o.closedAfterMs} ms`);
    }
    const events = await auditAfter(gw, mark);
    const audited = events.filter((e) => e.errorCode === 'request_timeout');
    // The budget: five a second per client address; the fifty were cut off within `seconds` windows.
    const closed = outcomes.map((o) => o.closedAfterMs);
    const seconds = Math.ceil((Math.max(...closed) - Math.min(...closed)) / 1000) + 2;
    assert.ok(audited.length >= 1 && audited.length <= 5 * seconds, `${audited.length} of 50 timeouts audited in ${seconds} s`);
    // A request cut off is not also recorded as a failure of its own (fifty records more).
    assert.deepEqual(events.filter((e) => e.errorCode !== 'request_timeout' && e.user !== 'alice').map((e) => [e.method, e.errorCode]), []);
  });

  test('an unauthenticated slow body is answered 401 and its connection closed at once', async () => {
    const head = `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:${gw.port}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: 10000\r\n\r\n`;
    const outcomes = await Promise.all(Array.from({ length: 50 }, () => slowRequest(gw.port, head, 'x'.repeat(10_000))));
    for (const o of outcomes) {
      assert.equal(o.status, 401);
      assert.ok(o.closedAfterMs < LIMITS.requestTimeoutMs - 500, `closed after ${o.closedAfterMs} ms (not held for the body)`);
    }
  });

  test('slow headers are cut off after headersTimeoutMs (408)', async () => {
    const o = await slowRequest(gw.port, 'POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n', 'X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 100);
    assert.equal(o.status, 408);
    assert.ok(o.closedAfterMs < LIMITS.headersTimeoutMs + 2_000, `closed after ${o.closedAfterMs} ms`);
  });

  test('an idle keep-alive connection is closed after idleTimeoutMs', async () => {
    const o = await slowRequest(gw.port, `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:${gw.port}\r\n\r\n`);
    assert.equal(o.status, 200);
    assert.ok(o.closedAfterMs >= LIMITS.idleTimeoutMs - 100 && o.closedAfterMs < LIMITS.idleTimeoutMs + 3_000, `closed after ${o.closedAfterMs} ms`);
  });

  test('afterwards the gateway serves and the audit chain is intact', async () => {
    assert.equal(await alice.call('web__echo', { message: 'still here' }), 'still here');
    await assertAuditIntact(gw);
  });
});

test('a per-principal cap at or above the gateway-wide cap is a config error', async () => {
  const { validateConfig } = await import('../../src/config/index.js');
  assert.throws(() => validateConfig({ mcpServers: {}, limits: { maxSessions: 10, maxSessionsPerPrincipal: 10 } }, 'test'), /limits\.maxSessionsPerPrincipal: must be below limits\.maxSessions/);
  assert.throws(() => validateConfig({ mcpServers: {}, limits: { maxConcurrentCallsPerUpstream: 4, maxConcurrentCallsPerPrincipal: 8 } }, 'test'), /maxConcurrentCallsPerPrincipal/);
  const derived = validateConfig({ mcpServers: {}, limits: { maxSessions: 10 } }, 'test').limits;
  assert.equal(derived.maxSessionsPerPrincipal, 5);
  const defaults = validateConfig({ mcpServers: {} }, 'test').limits;
  assert.deepEqual(
    [defaults.maxSessions, defaults.maxSessionsPerPrincipal, defaults.maxConcurrentCallsPerUpstream, defaults.maxConcurrentCallsPerPrincipal, defaults.requestTimeoutMs, defaults.headersTimeoutMs],
    [1000, 100, 256, 64, 30_000, 10_000],
  );
});
