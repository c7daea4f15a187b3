/**
 * Issue 15 item 2: a modern-only upstream (2026-07-28 and nothing older: the official v2 server SDK with
 * legacy traffic refused) behind the gateway. The gateway discovers it and speaks 2026-07-28 to it; a
 * 2026-07-28 client and a 2025-11-25 client (the official v1 SDK client) both use it, including its
 * elicitation, a multi round-trip request upstream: the stateless client answers it on a retry, carrying
 * the gateway's sealed state (the upstream's own is inside it, never shown); the session client is asked
 * on its stream, as 2025-11-25 does it.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CallToolResultSchema, ElicitRequestSchema, LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { rawPost, type RawResponse } from '../helpers/mcp-http.js';
import { ROOT, startHttpProcess, type Started } from '../helpers/servers.js';

const MODERN = '2026-07-28';
type Item = Record<string, unknown>;
let nextId = 1;

function stateless(url: string, method: string, params: Item, caps: Item = {}): Promise<RawResponse> {
  const body = { jsonrpc: '2.0', id: nextId++, method, params: { ...params, _meta: { 'io.modelcontextprotocol/protocolVersion': MODERN, 'io.modelcontextprotocol/clientCapabilities': caps } } };
  const headers: Record<string, string> = { 'mcp-protocol-version': MODERN, 'mcp-method': method };
  if (typeof params.name === 'string') headers['mcp-name'] = params.name;
  return rawPost(url, body, headers);
}
const last = (r: RawResponse) => r.messages.at(-1) as { result?: Item; error?: { code: number; message: string; data?: Item } };
const text = (r: Item) => (r.content as Array<{ text: string }>)[0]!.text;

describe('a modern-only upstream behind the gateway', () => {
  let upstream: Started;
  let gw: TestGateway;

  before(async () => {
    upstream = await startHttpProcess(process.execPath, ['--import', 'tsx', join(ROOT, 'test/fixtures/modern-upstream.ts'), '--port', '0'], /listening on/);
    gw = await startTestGateway({ modern: { url: upstream.url } }, { naming: { prefix: 'never' } });
  });

  after(async () => {
    await gw?.close();
    await upstream?.stop();
  });

  test('the upstream refuses the 2025-11-25 handshake, so the gateway speaks 2026-07-28 to it', async () => {
    const init = { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '0' } } };
    const direct = await rawPost(upstream.url, init, { 'mcp-protocol-version': '2025-11-25' });
    assert.equal(direct.status, 400, 'the fixture is modern-only');
    const r = await stateless(gw.url, 'tools/call', { name: 'echo', arguments: { text: 'hi' } });
    assert.equal(text(last(r).result!), 'echo: hi', r.text);
    assert.equal(last(r).result!.resultType, 'complete');
  });

  test("2026-07-28 client: the upstream's elicitation round trip goes through the gateway's sealed state", async () => {
    const caps = { elicitation: {} };
    const first = last(await stateless(gw.url, 'tools/call', { name: 'ask_name', arguments: { greeting: 'Hi' } }, caps)).result!;
    assert.equal(first.resultType, 'input_required');
    const q = (first.inputRequests as Record<string, { method: string; params: Item }>).name!;
    assert.equal(q.method, 'elicitation/create');
    assert.equal(q.params.message, 'What is your name?');
    const state = first.requestState as string;
    // The upstream's own state (its greeting, base64url "SGk") is sealed inside the gateway's, not handed out as is.
    assert.doesNotMatch(state, /^SGk\./);

    const tampered = `${state.slice(0, -3)}AAA`;
    const bad = last(await stateless(gw.url, 'tools/call', { name: 'ask_name', arguments: { greeting: 'Hi' }, requestState: tampered, inputResponses: { name: { action: 'accept', content: { name: 'Eve' } } } }, caps));
    assert.equal(bad.error?.code, -32602);

    const moved = last(await stateless(gw.url, 'tools/call', { name: 'ask_name', arguments: { greeting: 'Bye' }, requestState: state, inputResponses: { name: { action: 'accept', content: { name: 'Eve' } } } }, caps));
    assert.equal(moved.error?.code, -32602, 'the state is bound to the request it came with');

    const done = last(await stateless(gw.url, 'tools/call', { name: 'ask_name', arguments: { greeting: 'Hi' }, requestState: state, inputResponses: { name: { action: 'accept', content: { name: 'Ada' } } } }, caps));
    assert.equal(text(done.result!), 'Hi, Ada!');
  });

  test('2026-07-28 client without elicitation: 400 -32021 naming the capability', async () => {
    const r = await stateless(gw.url, 'tools/call', { name: 'ask_name', arguments: { greeting: 'Hi' } }, {});
    assert.equal(r.status, 400, r.text);
    assert.equal(last(r).error?.code, -32021);
    // The upstream hears the client's own capabilities and refuses itself; the gateway would refuse the same way.
    assert.ok('elicitation' in (last(r).error?.data?.requiredCapabilities as Item), r.text);
  });

  test('an upstream that asks what the client did not declare gets nothing: the client is told -32021', async () => {
    const r = await stateless(gw.url, 'tools/call', { name: 'ask_anyway', arguments: {} }, { elicitation: {} });
    assert.equal(r.status, 400, r.text);
    assert.equal(last(r).error?.code, -32021);
    assert.deepEqual(last(r).error?.data?.requiredCapabilities, { sampling: {} });
    const ok = await stateless(gw.url, 'tools/call', { name: 'ask_anyway', arguments: {} }, { sampling: {} });
    assert.equal(last(ok).result?.resultType, 'input_required', ok.text);
  });

  test("a modern upstream's list changes reach the stateless caller's listen stream (the gateway listens upstream)", async () => {
    const controller = new AbortController();
    const meta = { 'io.modelcontextprotocol/protocolVersion': MODERN, 'io.modelcontextprotocol/clientCapabilities': {} };
    const res = await fetch(gw.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': MODERN, 'mcp-method': 'subscriptions/listen' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 'L', method: 'subscriptions/listen', params: { notifications: { toolsListChanged: true }, _meta: meta } }),
      signal: controller.signal,
    });
    const seen: string[] = [];
    const reading = (async () => {
      const decoder = new TextDecoder();
      try {
        for await (const chunk of res.body!) for (const m of decoder.decode(chunk as Uint8Array).matchAll(/"method":"([^"]+)"/g)) seen.push(m[1]!);
      } catch {
        // aborted
      }
    })();
    try {
      const end = Date.now() + 10_000;
      // The upstream's listen stream opens when the caller's connection is made; announce until it is heard.
      while (!seen.includes('notifications/tools/list_changed') && Date.now() < end) {
        await stateless(gw.url, 'tools/call', { name: 'change_tools', arguments: {} });
        await new Promise((r) => setTimeout(r, 300));
      }
      assert.ok(seen.includes('notifications/subscriptions/acknowledged'), seen.join(', '));
      assert.ok(seen.includes('notifications/tools/list_changed'), seen.join(', '));
    } finally {
      controller.abort();
      await reading;
    }
  });

  test('2025-11-25 client (official SDK): tools work, and the elicitation is asked on its stream', async () => {
    const client = new Client({ name: 'legacy-client', version: '0' }, { capabilities: { elicitation: {} } });
    const asked: string[] = [];
    client.setRequestHandler(ElicitRequestSchema, async (req) => {
      asked.push(String(req.params.message));
      return { action: 'accept', content: { name: 'Grace' } };
    });
    await client.connect(new StreamableHTTPClientTransport(new URL(gw.url)));
    try {
      const tools = await client.listTools();
      assert.deepEqual(tools.tools.map((t) => t.name).sort(), ['ask_anyway', 'ask_name', 'change_tools', 'echo', 'log_line', 'slow']);
      const echo = await client.request({ method: 'tools/call', params: { name: 'echo', arguments: { text: 'x' } } }, CallToolResultSchema);
      assert.equal((echo.content[0] as { text: string }).text, 'echo: x');
      assert.equal('resultType' in echo, false, 'a 2025-11-25 result carries no resultType');
      const greeted = await client.request({ method: 'tools/call', params: { name: 'ask_name', arguments: { greeting: 'Hello' } } }, CallToolResultSchema);
      assert.equal((greeted.content[0] as { text: string }).text, 'Hello, Grace!');
      assert.deepEqual(asked, ['What is your name?']);
      // logging/setLevel becomes the log level in the _meta of the session's later requests upstream.
      const logged: unknown[] = [];
      client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void logged.push(n.params.data));
      await client.request({ method: 'tools/call', params: { name: 'log_line', arguments: {} } }, CallToolResultSchema);
      assert.deepEqual(logged, [], 'no level asked for: no log lines');
      await client.setLoggingLevel('info');
      await client.request({ method: 'tools/call', params: { name: 'log_line', arguments: {} } }, CallToolResultSchema);
      assert.deepEqual(logged, ['a log line']);
    } finally {
      await client.close();
    }
  });
});
