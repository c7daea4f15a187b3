/**
 * Malformed and hostile HTTP input at the ingress. Every case checks the HTTP status, the JSON-RPC error
 * code and message, that an audit event with the right errorCode was stored, and that the gateway still
 * serves a normal call afterwards.
 */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, test } from 'node:test';
import type { AuditEvent } from '../../src/audit/index.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { parseBody, rawPost, RawSession, type RawResponse } from '../helpers/mcp-http.js';
import { tsFixtureStdio } from '../helpers/servers.js';

const MAX_BODY = 10_000;

interface NodeResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  messages: Array<Record<string, unknown>>;
}

/**
 * A request through node:http, which (unlike fetch) lets a test set Host and Origin freely and send a chunked
 * body with no Content-Length.
 */
function nodeRequest(url: string, opts: { method?: string; headers?: Record<string, string>; body?: string; chunks?: string[] }): Promise<NodeResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: opts.method ?? 'POST', headers: opts.headers ?? {}, timeout: 10_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => {
        const ct = res.headers['content-type'];
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, messages: parseBody(typeof ct === 'string' ? ct : null, text) });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    if (opts.chunks) {
      // Without a Content-Length node sends Transfer-Encoding: chunked.
      const chunks = [...opts.chunks];
      const next = (): void => {
        const c = chunks.shift();
        if (c === undefined) {
          req.end();
          return;
        }
        // The gateway may answer (and stop reading) before the whole body is sent; that is fine.
        if (req.destroyed) return;
        req.write(c, () => setImmediate(next));
      };
      next();
    } else {
      req.end(opts.body);
    }
  });
}

const JSON_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

function errorOf(messages: Array<Record<string, unknown>>): { code: number; message: string; data?: Record<string, unknown> } {
  assert.equal(messages.length, 1, `expected exactly one JSON-RPC message, got ${JSON.stringify(messages)}`);
  const err = messages[0]!.error as { code: number; message: string; data?: Record<string, unknown> } | undefined;
  assert.ok(err, `expected an error response, got ${JSON.stringify(messages[0])}`);
  assert.equal(typeof err.message, 'string');
  assert.ok(err.message.length > 5, `error message should be clear: ${JSON.stringify(err)}`);
  return err;
}

describe('bad input at the ingress', () => {
  let gw: TestGateway;
  let session: RawSession;

  before(async () => {
    gw = await startTestGateway({ bad: tsFixtureStdio('misbehaving-upstream.ts') }, { limits: { maxBodyBytes: MAX_BODY } });
    session = new RawSession(gw.url);
    const init = await session.initialize();
    assert.equal(init.status, 200);
    assert.ok(session.sessionId.length > 0);
  });

  after(async () => {
    await gw?.close();
  });

  /** Runs `fn` and returns what it returned plus the audit events it added. */
  async function audited<T>(fn: () => Promise<T>): Promise<{ value: T; events: AuditEvent[] }> {
    const seen = new Set((await gw.store.audit.tail({ limit: 100 })).map((e) => e.id));
    const value = await fn();
    const events = (await gw.store.audit.tail({ limit: 100 })).filter((e) => !seen.has(e.id));
    return { value, events };
  }

  function assertAudit(events: AuditEvent[], errorCode: string, outcome = 'error'): AuditEvent {
    assert.equal(events.length, 1, `expected one audit event, got ${JSON.stringify(events)}`);
    const e = events[0]!;
    assert.equal(e.errorCode, errorCode);
    assert.equal(e.outcome, outcome);
    return e;
  }

  async function assertStillServes(): Promise<void> {
    const { res, message } = await session.request('tools/call', { name: 'echo', arguments: { message: 'still serving' } });
    assert.equal(res.status, 200);
    assert.deepEqual(message.result, { content: [{ type: 'text', text: 'still serving' }] });
  }

  /** The common shape: an HTTP-level refusal with a JSON-RPC error body and one audit event. */
  async function expectRefused(send: () => Promise<RawResponse | NodeResponse>, status: number, rpcCode: number, reason: string, messageRe?: RegExp): Promise<void> {
    const { value: res, events } = await audited(send);
    assert.equal(res.status, status, `status for ${reason}: ${res.text}`);
    const err = errorOf(res.messages);
    assert.equal(err.code, rpcCode);
    assert.equal(err.data?.reason, reason);
    if (messageRe) assert.match(err.message, messageRe);
    assert.equal((res.messages[0] as { id: unknown }).id, null);
    assertAudit(events, reason);
    await assertStillServes();
  }

  test('a normal call works', async () => {
    await assertStillServes();
  });

  test('malformed JSON: 400, -32700', async () => {
    await expectRefused(() => session.post('{"jsonrpc": "2.0", "id": 1, "method": '), 400, -32700, 'parse_error', /JSON/);
  });

  test('empty body: 400, -32700', async () => {
    await expectRefused(() => session.post(''), 400, -32700, 'parse_error');
  });

  for (const [label, body, re] of [
    ['missing jsonrpc', { id: 1, method: 'tools/list' }, /jsonrpc/],
    ['wrong jsonrpc version', { jsonrpc: '1.0', id: 1, method: 'tools/list' }, /jsonrpc/],
    ['id as object', { jsonrpc: '2.0', id: { x: 1 }, method: 'tools/list' }, /id/],
    ['id null on a request', { jsonrpc: '2.0', id: null, method: 'tools/list' }, /id/],
    ['params as array', { jsonrpc: '2.0', id: 1, method: 'tools/call', params: ['echo'] }, /params/],
    ['method not a string', { jsonrpc: '2.0', id: 1, method: 7 }, /method/],
    ['a bare JSON string', '"hello"', /object/],
    ['a response without an id', { jsonrpc: '2.0', result: {} }, /id/],
  ] as const) {
    test(`invalid JSON-RPC (${label}): 400, -32600`, async () => {
      await expectRefused(() => session.post(body), 400, -32600, 'invalid_request', re);
    });
  }

  test('a JSON-RPC batch: 400, -32600', async () => {
    const batch = [
      { jsonrpc: '2.0', id: 1, method: 'tools/list' },
      { jsonrpc: '2.0', id: 2, method: 'ping' },
    ];
    await expectRefused(() => session.post(batch), 400, -32600, 'batch_not_supported', /batch/i);
  });

  test('unknown method: -32601 in the response, audited', async () => {
    const { value, events } = await audited(() => session.request('no/such/method'));
    assert.equal(value.res.status, 200);
    const err = value.message.error as { code: number; message: string; data?: Record<string, unknown> };
    assert.equal(err.code, -32601);
    assert.match(err.message, /no\/such\/method/);
    assert.equal(err.data?.reason, 'method_not_found');
    const e = assertAudit(events, 'method_not_found');
    assert.equal(e.method, 'no/such/method');
    assert.equal(e.sessionId, session.sessionId);
    await assertStillServes();
  });

  test('unknown tool: -32602 in the response, audited', async () => {
    const { value, events } = await audited(() => session.request('tools/call', { name: 'nope', arguments: {} }));
    assert.equal(value.res.status, 200);
    const err = value.message.error as { code: number; message: string; data?: Record<string, unknown> };
    assert.equal(err.code, -32602);
    assert.match(err.message, /nope/);
    assert.equal(err.data?.reason, 'unknown_tool');
    const e = assertAudit(events, 'unknown_tool');
    assert.equal(e.method, 'tools/call');
    await assertStillServes();
  });

  test('tools/call with a non-string name: -32602', async () => {
    const { value, events } = await audited(() => session.request('tools/call', { name: { evil: true } }));
    const err = value.message.error as { code: number; data?: Record<string, unknown> };
    assert.equal(err.code, -32602);
    assert.equal(err.data?.reason, 'invalid_params');
    assertAudit(events, 'invalid_params');
    await assertStillServes();
  });

  test('prototype-ish names are just unknown tools', async () => {
    for (const name of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
      const { message } = await session.request('tools/call', { name, arguments: {} });
      assert.equal((message.error as { code: number }).code, -32602, name);
    }
    await assertStillServes();
  });

  test('deeply nested arguments get an error, not a crash', async () => {
    // Fits the body limit of a default gateway (4 MiB) but is deeper than any recursive walker's stack: refused
    // before it is parsed (limits.maxJsonDepth), so nothing after the parse ever sees it.
    const depth = 200_000;
    const args = '{"message":' + '['.repeat(depth) + ']'.repeat(depth) + '}';
    const big = await startTestGateway({ bad: tsFixtureStdio('misbehaving-upstream.ts') });
    try {
      const s = new RawSession(big.url);
      await s.initialize();
      const res = await s.post(`{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":${args}}}`);
      assert.equal(res.status, 400, res.text.slice(0, 300));
      const err = res.messages[0]?.error as { code: number; message: string; data?: Record<string, unknown> } | undefined;
      assert.ok(err, `expected an error, got ${res.status} ${res.text.slice(0, 300)}`);
      // The client's input is at fault: an invalid request, not an internal error.
      assert.equal(err.code, -32600);
      assert.equal(err.data?.reason, 'body_too_deep');
      assert.match(err.message, /nested deeper than 64 levels/);
      const [event] = await big.store.audit.tail({ limit: 1 });
      assert.equal(event?.errorCode, 'body_too_deep');
      assert.doesNotMatch(big.logs(), /Maximum call stack/);
      // Just inside the bound still works: the limit is a depth, not a ban on nesting.
      const inside = '['.repeat(60) + ']'.repeat(60);
      const near = await s.post(`{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"echo","arguments":{"message":"near","x":${inside}}}}`);
      assert.equal(near.status, 200, near.text.slice(0, 300));
      const ok = await s.request('tools/call', { name: 'echo', arguments: { message: 'after deep' } });
      assert.deepEqual(ok.message.result, { content: [{ type: 'text', text: 'after deep' }] });
    } finally {
      await big.close();
    }
  });

  test('oversized body with Content-Length: 413', async () => {
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { message: 'x'.repeat(MAX_BODY * 2) } } });
    await expectRefused(() => session.post(body), 413, -32600, 'body_too_large', /limit/);
  });

  test('oversized chunked body without Content-Length: 413', async () => {
    const head = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"message":"';
    const chunks = [head, ...Array.from({ length: 30 }, () => 'y'.repeat(1000)), '"}}}'];
    await expectRefused(
      () => nodeRequest(gw.url, { headers: { ...JSON_HEADERS, ...session.headers() }, chunks }),
      413,
      -32600,
      'body_too_large',
      /limit/,
    );
  });

  test('a chunked body under the limit is accepted', async () => {
    const body = JSON.stringify({ jsonrpc: '2.0', id: 99, method: 'tools/call', params: { name: 'echo', arguments: { message: 'chunked' } } });
    const res = await nodeRequest(gw.url, { headers: { ...JSON_HEADERS, ...session.headers() }, chunks: [body.slice(0, 20), body.slice(20, 50), body.slice(50)] });
    assert.equal(res.status, 200);
    assert.deepEqual(res.messages.find((m) => m.id === 99)?.result, { content: [{ type: 'text', text: 'chunked' }] });
  });

  test('a made-up session id: 404', async () => {
    const body = { jsonrpc: '2.0', id: 1, method: 'tools/list' };
    await expectRefused(() => rawPost(gw.url, body, { 'mcp-session-id': 'made-up-session-id', 'mcp-protocol-version': '2025-11-25' }), 404, -32005, 'session_not_found', /[Ss]ession/);
  });

  test("another session's id after that session was DELETEd: 404", async () => {
    const other = new RawSession(gw.url);
    await other.initialize();
    const ok = await other.request('tools/call', { name: 'echo', arguments: { message: 'other' } });
    assert.deepEqual(ok.message.result, { content: [{ type: 'text', text: 'other' }] });
    const del = await fetch(gw.url, { method: 'DELETE', headers: other.headers() });
    assert.equal(del.status, 200);
    await del.arrayBuffer();
    await expectRefused(() => other.post({ jsonrpc: '2.0', id: 5, method: 'tools/list' }), 404, -32005, 'session_not_found');
    // Deleting it again is also a 404.
    const again = await fetch(gw.url, { method: 'DELETE', headers: other.headers() });
    assert.equal(again.status, 404);
    await again.arrayBuffer();
  });

  test('a non-initialize request without a session id: 400', async () => {
    await expectRefused(() => rawPost(gw.url, { jsonrpc: '2.0', id: 1, method: 'tools/list' }), 400, -32600, 'session_required', /Mcp-Session-Id/);
  });

  test('GET without a session id: 400', async () => {
    await expectRefused(() => nodeRequest(gw.url, { method: 'GET', headers: { accept: 'text/event-stream' } }), 400, -32600, 'session_required');
  });

  test('wrong Content-Type: 415', async () => {
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' });
    await expectRefused(() => session.post(body, { 'content-type': 'text/plain' }), 415, -32600, 'unsupported_media_type', /Content-Type/);
  });

  test('Accept without text/event-stream: 406', async () => {
    await expectRefused(() => session.post({ jsonrpc: '2.0', id: 1, method: 'tools/list' }, { accept: 'application/json' }), 406, -32600, 'not_acceptable', /text\/event-stream/);
  });

  test('Host header not ours: 403', async () => {
    await expectRefused(
      () => nodeRequest(gw.url, { headers: { ...JSON_HEADERS, ...session.headers(), host: 'evil.example.com' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }) }),
      403,
      -32006,
      'forbidden_host',
      /Host/,
    );
  });

  test('Host header ours but another port: 403', async () => {
    const port = Number(new URL(gw.url).port);
    await expectRefused(
      () => nodeRequest(gw.url, { headers: { ...JSON_HEADERS, ...session.headers(), host: `127.0.0.1:${port + 1}` }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }) }),
      403,
      -32006,
      'forbidden_host',
    );
  });

  test('Origin not ours: 403', async () => {
    await expectRefused(
      () => nodeRequest(gw.url, { headers: { ...JSON_HEADERS, ...session.headers(), origin: 'http://evil.example.com' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }) }),
      403,
      -32006,
      'forbidden_origin',
      /Origin/,
    );
  });

  test("a refused foreign request is not attributed to the session whose id it carries", async () => {
    const { value, events } = await audited(() =>
      nodeRequest(gw.url, { headers: { ...JSON_HEADERS, ...session.headers(), origin: 'http://evil.example.com' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }) }),
    );
    assert.equal(value.status, 403);
    assert.equal(assertAudit(events, 'forbidden_origin').sessionId, null);
  });

  test('Origin ours: OK', async () => {
    const origin = new URL(gw.url).origin;
    for (const o of [origin, origin.replace('127.0.0.1', 'localhost')]) {
      const res = await nodeRequest(gw.url, {
        headers: { ...JSON_HEADERS, ...session.headers(), origin: o },
        body: JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'echo', arguments: { message: 'same origin' } } }),
      });
      assert.equal(res.status, 200, o);
      assert.deepEqual(res.messages.find((m) => m.id === 3)?.result, { content: [{ type: 'text', text: 'same origin' }] });
    }
  });

  test('unsupported MCP-Protocol-Version header: 400', async () => {
    await expectRefused(
      () => session.post({ jsonrpc: '2.0', id: 1, method: 'tools/list' }, { 'mcp-protocol-version': '1999-01-01' }),
      400,
      -32022,
      'unsupported_protocol_version',
      /1999-01-01/,
    );
  });

  test('initialize carrying a session id: 400', async () => {
    const init = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '0' } } };
    await expectRefused(() => session.post(init), 400, -32600, 'invalid_request', /session/);
  });

  test('an unsupported HTTP method: 405 and the gateway still serves', async () => {
    const res = await nodeRequest(gw.url, { method: 'PUT', headers: session.headers(), body: '' });
    assert.equal(res.status, 405);
    await assertStillServes();
  });
});
