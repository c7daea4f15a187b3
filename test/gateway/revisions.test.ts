/**
 * Session-based protocol revisions (2025-06-18, 2025-11-25, and headerless clients assumed to be 2025-03-26):
 * version negotiation in initialize, the MCP-Protocol-Version header, the standalone GET stream and DELETE.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { BASE_HEADERS, rawPost, RawSession } from '../helpers/mcp-http.js';
import { everythingStdio } from '../helpers/servers.js';

type Item = Record<string, unknown>;

const initBody = (protocolVersion: string) => ({
  jsonrpc: '2.0',
  id: 0,
  method: 'initialize',
  params: { protocolVersion, capabilities: {}, clientInfo: { name: 'revisions-test', version: '0' } },
});

/** Rejects if `p` does not settle within `ms` (every wait in these tests is bounded). */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms)))]).finally(() => clearTimeout(timer));
}

describe('legacy (session) revisions', () => {
  let gw: TestGateway;
  const cleanups: Array<() => Promise<unknown>> = [];

  before(async () => {
    gw = await startTestGateway({ every: everythingStdio() });
  });
  after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    await gw?.close();
  });

  async function openSession(version: string): Promise<RawSession> {
    const s = new RawSession(gw.url);
    s.protocolVersion = version;
    const r = await s.initialize();
    assert.equal(r.status, 200, r.text);
    cleanups.push(() => fetch(gw.url, { method: 'DELETE', headers: { 'mcp-session-id': s.sessionId } }));
    return s;
  }

  test('a 2025-06-18 client gets 2025-06-18 back and can work with that header', async () => {
    const s = new RawSession(gw.url);
    s.protocolVersion = '2025-06-18';
    const init = await s.initialize();
    assert.equal(init.status, 200);
    const result = init.messages[0]!.result as Item;
    assert.equal(result.protocolVersion, '2025-06-18');
    assert.equal((result.serverInfo as Item).name, 'mcp-warden');
    assert.ok(s.sessionId.length > 0, 'a session id is issued');
    assert.match(s.sessionId, /^[\x21-\x7e]+$/, 'session ids are visible ASCII');
    cleanups.push(() => fetch(gw.url, { method: 'DELETE', headers: { 'mcp-session-id': s.sessionId } }));

    const { res, message } = await s.request('tools/list');
    assert.equal(res.status, 200);
    assert.ok(((message.result as Item).tools as Item[]).some((t) => t.name === 'echo'));
    const called = await s.request('tools/call', { name: 'echo', arguments: { message: 'old' } });
    assert.deepEqual((called.message.result as Item).content, [{ type: 'text', text: 'Echo: old' }]);
    const event = (await gw.store.audit.tail({ limit: 20 })).find((e) => e.sessionId === s.sessionId && e.method === 'tools/call' && e.outcome !== 'intent');
    assert.equal(event?.protocolVersion, '2025-06-18', 'the audit record carries the client leg revision');
  });

  test('a 2025-11-25 client through the official SDK', async () => {
    const client = new Client({ name: 'sdk-client', version: '0' });
    const transport = new StreamableHTTPClientTransport(new URL(gw.url));
    await within(client.connect(transport), 10_000, 'SDK connect');
    cleanups.push(() => client.close());
    assert.equal(transport.protocolVersion, '2025-11-25');
    assert.equal(client.getServerVersion()?.name, 'mcp-warden');
    assert.ok(transport.sessionId);
    const tools = await client.listTools();
    assert.ok(tools.tools.some((t) => t.name === 'get-sum'));
    const r = await client.callTool({ name: 'get-sum', arguments: { a: 20, b: 22 } });
    assert.match(JSON.stringify(r.content), /42/);
    await client.ping();
  });

  test('an initialize asking for an unknown revision gets the newest legacy one', async () => {
    for (const asked of ['2030-01-01', 'not-a-version', '2026-07-28']) {
      const r = await rawPost(gw.url, initBody(asked));
      assert.equal(r.status, 200, r.text);
      assert.equal((r.messages[0]!.result as Item).protocolVersion, '2025-11-25', `asked ${asked}`);
      const sid = r.headers.get('mcp-session-id');
      assert.ok(sid);
      await fetch(gw.url, { method: 'DELETE', headers: { 'mcp-session-id': sid } });
    }
    const old = await rawPost(gw.url, initBody('2024-11-05'));
    assert.equal((old.messages[0]!.result as Item).protocolVersion, '2024-11-05', 'an older supported revision is kept');
    await fetch(gw.url, { method: 'DELETE', headers: { 'mcp-session-id': old.headers.get('mcp-session-id')! } });
  });

  test('the GET stream opens once per session; a second GET gets 409; DELETE ends the session and its stream', async () => {
    const s = await openSession('2025-11-25');
    const abort = new AbortController();
    cleanups.push(async () => abort.abort());
    const get = () => fetch(gw.url, { headers: { accept: 'text/event-stream', ...s.headers() }, signal: abort.signal });
    const first = await within(get(), 5_000, 'first GET');
    assert.equal(first.status, 200);
    assert.match(first.headers.get('content-type') ?? '', /^text\/event-stream/);

    const second = await within(get(), 5_000, 'second GET');
    assert.equal(second.status, 409);
    await second.body?.cancel();

    const noAccept = await fetch(gw.url, { headers: { accept: 'application/json', ...s.headers() } });
    assert.equal(noAccept.status, 406, 'a GET that does not accept SSE is refused');

    const del = await fetch(gw.url, { method: 'DELETE', headers: s.headers() });
    assert.equal(del.status, 200);
    // The open stream ends with the session.
    const reader = first.body!.getReader();
    for (;;) {
      const { done } = await within(reader.read(), 5_000, 'GET stream to end after DELETE');
      if (done) break;
    }

    const after = await s.request('tools/list');
    assert.equal(after.res.status, 404);
    assert.equal((after.message.error as Item | undefined)?.code ?? (after.res.messages[0]?.error as Item).code, -32005);
    assert.equal((await fetch(gw.url, { method: 'DELETE', headers: s.headers() })).status, 404, 'a second DELETE finds nothing');
    assert.equal((await fetch(gw.url, { headers: { accept: 'text/event-stream', ...s.headers() } })).status, 404, 'GET on an ended session');
  });

  test('session ids are checked: unknown → 404, missing → 400', async () => {
    const unknown = await rawPost(gw.url, { jsonrpc: '2.0', id: 1, method: 'tools/list' }, { 'mcp-session-id': 'no-such-session', 'mcp-protocol-version': '2025-11-25' });
    assert.equal(unknown.status, 404);
    const missing = await rawPost(gw.url, { jsonrpc: '2.0', id: 1, method: 'tools/list' }, { 'mcp-protocol-version': '2025-11-25' });
    assert.equal(missing.status, 400);
    const getMissing = await fetch(gw.url, { headers: { accept: 'text/event-stream' } });
    assert.equal(getMissing.status, 400);
  });

  test('requests without MCP-Protocol-Version are accepted and recorded as 2025-03-26', async () => {
    const s = await openSession('2025-11-25');
    const r = await rawPost(gw.url, { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'echo', arguments: { message: 'bare' } } }, { 'mcp-session-id': s.sessionId });
    assert.equal(r.status, 200, r.text);
    const msg = r.messages.find((m) => m.id === 7)!;
    assert.deepEqual((msg.result as Item).content, [{ type: 'text', text: 'Echo: bare' }]);
    const event = (await gw.store.audit.tail({ limit: 20 })).find((e) => e.sessionId === s.sessionId && e.method === 'tools/call' && e.outcome !== 'intent');
    assert.equal(event?.protocolVersion, '2025-03-26');
  });

  test('an unsupported MCP-Protocol-Version on a session request is 400 -32022', async () => {
    const s = await openSession('2025-11-25');
    const r = await rawPost(gw.url, { jsonrpc: '2.0', id: 1, method: 'tools/list' }, { 'mcp-session-id': s.sessionId, 'mcp-protocol-version': '2099-01-01' });
    assert.equal(r.status, 400);
    const error = r.messages[0]!.error as Item;
    assert.equal(error.code, -32022);
    assert.ok(((error.data as Item).supported as string[]).includes('2025-11-25'));
    // The session survives a bad request.
    assert.equal((await s.request('ping')).res.status, 200);
  });

  test('initialize must not carry a session id, and needs both accepted media types', async () => {
    const s = await openSession('2025-11-25');
    const reinit = await rawPost(gw.url, initBody('2025-11-25'), { 'mcp-session-id': s.sessionId });
    assert.equal(reinit.status, 400);
    const r = await fetch(gw.url, { method: 'POST', headers: { ...BASE_HEADERS, accept: 'application/json' }, body: JSON.stringify(initBody('2025-11-25')) });
    assert.equal(r.status, 406);
    await r.body?.cancel();
  });
});
