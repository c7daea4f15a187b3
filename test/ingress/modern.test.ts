/**
 * The stateless 2026-07-28 revision over raw HTTP: server/discover, per-request `_meta`, the mirrored
 * Mcp-Method / Mcp-Name headers and their validation, version errors, and an audit event for every outcome.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { AuditEvent } from '../../src/audit/index.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { rawPost, type RawResponse } from '../helpers/mcp-http.js';
import { everythingStdio, startConformanceHttp, tsFixtureStdio, type Started } from '../helpers/servers.js';

const MODERN = '2026-07-28';
const META_VERSION = 'io.modelcontextprotocol/protocolVersion';
const META_CLIENT_INFO = 'io.modelcontextprotocol/clientInfo';
const META_CLIENT_CAPS = 'io.modelcontextprotocol/clientCapabilities';
const NAMED: Record<string, string> = { 'tools/call': 'name', 'prompts/get': 'name', 'resources/read': 'uri' };

type Item = Record<string, unknown>;

/**
 * A stdio upstream that answers tools/call with the params it received, so a test can see exactly what the
 * gateway forwarded. Plain JavaScript with no dependencies, run with `node -e`.
 */
const PARAMS_ECHO_SERVER = `
const rl = require('node:readline').createInterface({ input: process.stdin });
const send = (m) => process.stdout.write(JSON.stringify(m) + '\\n');
rl.on('line', (line) => {
  let m;
  try { m = JSON.parse(line); } catch { return; }
  if (m.id === undefined || typeof m.method !== 'string') return;
  const reply = (result) => send({ jsonrpc: '2.0', id: m.id, result });
  if (m.method === 'initialize') return reply({ protocolVersion: m.params.protocolVersion, capabilities: { tools: {} }, serverInfo: { name: 'params-echo', version: '0' } });
  if (m.method === 'tools/list') return reply({ tools: [{ name: 'echo_params', description: 'Returns the params it was called with', inputSchema: { type: 'object' } }] });
  if (m.method === 'tools/call') return reply({ content: [{ type: 'text', text: JSON.stringify(m.params) }] });
  if (m.method === 'ping') return reply({});
  send({ jsonrpc: '2.0', id: m.id, error: { code: -32601, message: 'Method not found' } });
});
`;

interface ModernOptions {
  /** Header overrides; `null` removes a header. */
  headers?: Record<string, string | null>;
  /** Replaces the `_meta` protocol version (`null` removes it). */
  metaVersion?: string | null;
  extraMeta?: Item;
  id?: number | string;
}

let nextId = 1;

/** A 2026-07-28 request: `_meta` version and client info in the body, mirrored headers on the request. */
function modern(url: string, method: string, params: Item = {}, opts: ModernOptions = {}): Promise<RawResponse> {
  const meta: Item = { [META_CLIENT_INFO]: { name: 'modern-test', version: '0' }, [META_CLIENT_CAPS]: {}, ...opts.extraMeta };
  if (opts.metaVersion !== null) meta[META_VERSION] = opts.metaVersion ?? MODERN;
  const body = { jsonrpc: '2.0', id: opts.id ?? nextId++, method, params: { ...params, _meta: meta } };
  const headers: Record<string, string | null> = { 'mcp-protocol-version': MODERN, 'mcp-method': method };
  const field = NAMED[method];
  if (field) headers['mcp-name'] = String(params[field]);
  Object.assign(headers, opts.headers);
  const sent = Object.fromEntries(Object.entries(headers).filter((e): e is [string, string] => e[1] !== null));
  return rawPost(url, body, sent);
}

const only = (r: RawResponse): Item => {
  assert.equal(r.messages.length, 1, `one message expected: ${r.text.slice(0, 500)}`);
  return r.messages[0]!;
};
const resultOf = (r: RawResponse): Item => {
  const m = only(r);
  assert.ok(m.result, `expected a result, got ${JSON.stringify(m.error)}`);
  return m.result as Item;
};
const errorOf = (r: RawResponse): { code: number; message: string; data?: Item } => {
  const m = only(r);
  assert.ok(m.error, `expected an error, got ${JSON.stringify(m.result)}`);
  return m.error as { code: number; message: string; data?: Item };
};
const b64 = (s: string) => `=?base64?${Buffer.from(s, 'utf8').toString('base64')}?=`;

describe('2026-07-28 stateless requests', () => {
  let gw: TestGateway;
  let url: string;
  let web: Started;

  before(async () => {
    web = await startConformanceHttp();
    gw = await startTestGateway({
      every: everythingStdio(),
      probe: { command: process.execPath, args: ['-e', PARAMS_ECHO_SERVER] },
      conf: tsFixtureStdio('conformance-upstream.ts', ['--stdio']),
      web: { url: web.url },
    });
    url = gw.url;
  });
  after(async () => {
    await gw?.close();
    await web?.stop();
  });

  /**
   * Runs `fn` and returns the audit events it added (the gateway stores each before it answers). Found by id
   * set difference, not by `afterId`: UUIDv7 ids only order events to the millisecond.
   */
  async function audited(fn: () => Promise<void>): Promise<AuditEvent[]> {
    const count = await gw.store.audit.count();
    const seen = new Set((await gw.store.audit.tail({ limit: 100 })).map((e) => e.id));
    await fn();
    const added = (await gw.store.audit.tail({ limit: 100 })).filter((e) => !seen.has(e.id));
    assert.equal(await gw.store.audit.count(), count + added.length, 'every new event is accounted for');
    return added;
  }

  test('server/discover lists the supported revisions and names the gateway', async () => {
    let r!: RawResponse;
    const events = await audited(async () => {
      r = await modern(url, 'server/discover');
    });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('mcp-session-id'), null);
    const result = resultOf(r);
    const supported = result.supportedVersions as string[];
    assert.ok(supported.includes(MODERN) && supported.includes('2025-11-25'), supported.join(', '));
    assert.equal(((result._meta as Item)['io.modelcontextprotocol/serverInfo'] as Item).name, 'mcp-warden');
    assert.equal(result.resultType, 'complete');
    assert.equal(result.cacheScope, 'private');
    assert.equal(result.ttlMs, 0);
    assert.ok(result.capabilities && typeof result.capabilities === 'object');
    assert.equal(events.length, 1);
    assert.equal(events[0]!.method, 'server/discover');
    assert.equal(events[0]!.outcome, 'ok');
    assert.equal(events[0]!.sessionId, null);
    assert.equal(events[0]!.protocolVersion, MODERN);
  });

  test('tools/list and tools/call work without a session', async () => {
    const list = await modern(url, 'tools/list');
    assert.equal(list.status, 200, list.text);
    assert.equal(list.headers.get('mcp-session-id'), null);
    const names = (resultOf(list).tools as Item[]).map((t) => t.name);
    assert.ok(names.includes('every__echo') && names.includes('probe__echo_params'), names.join(', '));

    let call!: RawResponse;
    const events = await audited(async () => {
      call = await modern(url, 'tools/call', { name: 'every__echo', arguments: { message: 'stateless' } });
    });
    assert.equal(call.status, 200, call.text);
    assert.equal(call.headers.get('mcp-session-id'), null);
    assert.deepEqual(resultOf(call).content, [{ type: 'text', text: 'Echo: stateless' }]);
    // Strict audit: the intent, committed before the call was forwarded, then the outcome that closes it.
    assert.equal(events.length, 2);
    assert.deepEqual(events.map((e) => e.outcome), ['intent', 'ok']);
    assert.equal(events[1]!.intentId, events[0]!.id);
    assert.deepEqual(
      { method: events[1]!.method, upstream: events[1]!.upstream, target: events[1]!.target, outcome: events[1]!.outcome, sessionId: events[1]!.sessionId },
      { method: 'tools/call', upstream: 'every', target: 'echo', outcome: 'ok', sessionId: null },
    );
    assert.match(events[0]!.argsDigest ?? '', /^sha256:[0-9a-f]{64}$/);

    const prompt = await modern(url, 'prompts/get', { name: 'every__simple-prompt' });
    assert.equal(prompt.status, 200, prompt.text);
    assert.ok((resultOf(prompt).messages as Item[]).length > 0);
    const read = await modern(url, 'resources/read', { uri: 'demo://resource/dynamic/text/1' });
    assert.equal(read.status, 200, read.text);
    assert.equal((resultOf(read).contents as Item[])[0]!.uri, 'demo://resource/dynamic/text/1');
  });

  test('io.modelcontextprotocol/* _meta keys are not forwarded upstream; other _meta keys are', async () => {
    const r = await modern(url, 'tools/call', { name: 'probe__echo_params', arguments: { x: 1 } }, { extraMeta: { 'com.example/trace': 'abc' } });
    assert.equal(r.status, 200, r.text);
    const forwarded = JSON.parse(String((resultOf(r).content as Item[])[0]!.text)) as Item;
    assert.equal(forwarded.name, 'echo_params', 'the upstream sees its own tool name');
    assert.deepEqual(forwarded.arguments, { x: 1 });
    const meta = (forwarded._meta ?? {}) as Item;
    assert.deepEqual(Object.keys(meta).filter((k) => k.startsWith('io.modelcontextprotocol/')), []);
    assert.equal(meta['com.example/trace'], 'abc');

    const plain = await modern(url, 'tools/call', { name: 'probe__echo_params', arguments: {} });
    const plainForwarded = JSON.parse(String((resultOf(plain).content as Item[])[0]!.text)) as Item;
    assert.equal(plainForwarded._meta, undefined, 'a _meta holding only reserved keys is dropped entirely');
  });

  test('a base64-sentinel Mcp-Name is decoded and accepted', async () => {
    const r = await modern(url, 'tools/call', { name: 'every__echo', arguments: { message: 'b64' } }, { headers: { 'mcp-name': b64('every__echo') } });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(resultOf(r).content, [{ type: 'text', text: 'Echo: b64' }]);
    const uri = 'demo://resource/dynamic/text/2';
    const read = await modern(url, 'resources/read', { uri }, { headers: { 'mcp-name': b64(uri) } });
    assert.equal(read.status, 200, read.text);
    const wrong = await modern(url, 'tools/call', { name: 'every__echo', arguments: { message: 'x' } }, { headers: { 'mcp-name': b64('every__get-sum') } });
    assert.equal(wrong.status, 400);
    assert.equal(errorOf(wrong).code, -32020);
  });

  /** Expects HTTP `status` with JSON-RPC `code`, and exactly one audit event carrying `errorCode`. */
  async function rejected(send: () => Promise<RawResponse>, status: number, code: number, errorCode: string): Promise<{ error: { code: number; message: string; data?: Item }; event: AuditEvent }> {
    let r!: RawResponse;
    const events = await audited(async () => {
      r = await send();
    });
    assert.equal(r.status, status, r.text);
    assert.equal(r.headers.get('mcp-session-id'), null);
    const error = errorOf(r);
    assert.equal(error.code, code);
    assert.equal(events.length, 1, `one audit event, got ${JSON.stringify(events)}`);
    assert.equal(events[0]!.errorCode, errorCode);
    assert.notEqual(events[0]!.outcome, 'ok');
    return { error, event: events[0]! };
  }

  test('a missing Mcp-Method header is 400 -32020', async () => {
    await rejected(() => modern(url, 'tools/list', {}, { headers: { 'mcp-method': null } }), 400, -32020, 'header_mismatch');
  });

  test('an Mcp-Method header that does not match the body is 400 -32020', async () => {
    await rejected(() => modern(url, 'tools/list', {}, { headers: { 'mcp-method': 'prompts/list' } }), 400, -32020, 'header_mismatch');
  });

  test('tools/call without Mcp-Name is 400 -32020, and a mismatching one too', async () => {
    await rejected(() => modern(url, 'tools/call', { name: 'every__echo', arguments: { message: 'x' } }, { headers: { 'mcp-name': null } }), 400, -32020, 'header_mismatch');
    await rejected(() => modern(url, 'tools/call', { name: 'every__echo', arguments: { message: 'x' } }, { headers: { 'mcp-name': 'every__get-sum' } }), 400, -32020, 'header_mismatch');
    await rejected(() => modern(url, 'prompts/get', { name: 'every__simple-prompt' }, { headers: { 'mcp-name': null } }), 400, -32020, 'header_mismatch');
    await rejected(() => modern(url, 'resources/read', { uri: 'demo://resource/dynamic/text/1' }, { headers: { 'mcp-name': 'demo://other' } }), 400, -32020, 'header_mismatch');
  });

  test('an MCP-Protocol-Version header that differs from the _meta version is 400 -32020', async () => {
    await rejected(() => modern(url, 'tools/list', {}, { headers: { 'mcp-protocol-version': '2025-11-25' } }), 400, -32020, 'header_mismatch');
    // A _meta without its version is malformed params (the revision's -32602), before any header comparison.
    await rejected(() => modern(url, 'tools/list', {}, { metaVersion: null }), 400, -32602, 'invalid_params');
    await rejected(() => modern(url, 'tools/list', {}, { headers: { 'mcp-protocol-version': null } }), 400, -32020, 'header_mismatch');
  });

  test('an unsupported version in both places is 400 -32022 with the supported list', async () => {
    const { error } = await rejected(
      () => modern(url, 'tools/list', {}, { metaVersion: '2099-01-01', headers: { 'mcp-protocol-version': '2099-01-01' } }),
      400,
      -32022,
      'unsupported_protocol_version',
    );
    const supported = error.data?.supported as string[];
    assert.ok(Array.isArray(supported) && supported.includes(MODERN) && supported.includes('2025-11-25'), JSON.stringify(error.data));
  });

  test('an unknown method is 404 -32601', async () => {
    const { event } = await rejected(() => modern(url, 'no/such-method'), 404, -32601, 'method_not_found');
    assert.equal(event.method, 'no/such-method');
    assert.equal(event.protocolVersion, MODERN);
  });

  test('a notification is accepted with 202 and no body', async () => {
    const r = await rawPost(url, { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 1, _meta: { [META_VERSION]: MODERN } } }, { 'mcp-protocol-version': MODERN, 'mcp-method': 'notifications/cancelled' });
    assert.equal(r.status, 202);
    assert.equal(r.text, '');
  });

  test('progress reaches the stateless request that asked for it, even when two clients pick the same token', async () => {
    // Stateless clients share the gateway's upstream connections, and progress tokens are chosen by each client.
    const call = () =>
      modern(url, 'tools/call', { name: 'every__trigger-long-running-operation', arguments: { duration: 0.4, steps: 2 } }, { extraMeta: { progressToken: 'same-token' } });
    const responses = await Promise.all([call(), call()]);
    const progress = responses.map((r) => {
      assert.equal(r.status, 200, r.text);
      assert.match(JSON.stringify(r.messages.at(-1)?.result), /Long running operation completed/, r.text.slice(0, 300));
      return r.messages.filter((m) => m.method === 'notifications/progress').map((m) => (m.params as Item).progress);
    });
    assert.deepEqual(progress, [[1, 2], [1, 2]], `each request gets only its own progress; got ${JSON.stringify(progress)}`);
  });

  /** A calls the logging tool (messages at 0, 50 and 100 ms); B starts a 250 ms call to the same upstream just after. */
  async function overlappingCalls(server: string) {
    const a = modern(url, 'tools/call', { name: `${server}__test_tool_with_logging`, arguments: {} });
    await new Promise((r) => setTimeout(r, 10));
    const b = modern(url, 'tools/call', { name: `${server}__test_reconnection`, arguments: {} });
    const [resA, resB] = await Promise.all([a, b]);
    assert.equal(resA.status, 200, resA.text);
    assert.equal(resB.status, 200, resB.text);
    assert.match(JSON.stringify(resB.messages.at(-1)?.result), /Reconnection test completed/);
    const logsOf = (r: RawResponse) => r.messages.filter((m) => m.method === 'notifications/message').map((m) => (m.params as Item).data);
    return { logsA: logsOf(resA), logsB: logsOf(resB) };
  }

  test("over stdio, one stateless client's log messages never reach another client's response", async () => {
    // stdio does not say which request a message belongs to: while two calls overlap, the gateway drops
    // what it cannot attribute rather than show it to the wrong client.
    const { logsA, logsB } = await overlappingCalls('conf');
    assert.deepEqual(logsB, [], `B received A's log messages: ${JSON.stringify(logsB)}`);
    const expected = ['Tool execution started', 'Tool processing data', 'Tool execution completed'];
    assert.ok(logsA.every((m) => expected.includes(m as string)), 'A sees only its own messages');
  });

  test('over Streamable HTTP, each log message reaches exactly the stateless request it belongs to', async () => {
    // The upstream sends each message on its request's own SSE stream, so attribution is exact.
    const { logsA, logsB } = await overlappingCalls('web');
    assert.deepEqual(logsB, []);
    assert.deepEqual(logsA, ['Tool execution started', 'Tool processing data', 'Tool execution completed']);
  });

  test('GET without a session from a 2026-07-28 client is 405, and is audited', async () => {
    let res!: Response;
    const events = await audited(async () => {
      res = await fetch(url, { headers: { accept: 'text/event-stream', 'mcp-protocol-version': MODERN } });
      await res.body?.cancel();
    });
    assert.equal(res.status, 405);
    assert.equal(events.length, 1, 'the refused GET leaves an audit event');
  });
});
