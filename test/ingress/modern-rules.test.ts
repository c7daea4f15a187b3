/**
 * Issue 15 item 1: what a 2026-07-28 client gets from the gateway, as the revision words it. Every refusal
 * carries the request's id; a `_meta` without its required fields is -32602 (400); removed methods are 404
 * -32601; results say their type, and lists (filtered per caller) are `private` with no lifetime; and
 * `subscriptions/listen` opens a stream whose notifications are the caller's own and of the kinds it asked
 * for. Real JWTs for two callers; the repo's conformance fixture over stdio as the upstream.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { bearer, post, startAuthGateway, type AuthGateway } from '../helpers/auth.js';
import { ALLOW_ALL_POLICY } from '../helpers/gateway.js';
import { createTestIssuer, type TestIssuer } from '../helpers/idp.js';
import { BASE_HEADERS, type RawResponse } from '../helpers/mcp-http.js';
import { tsFixtureStdio } from '../helpers/servers.js';

const MODERN = '2026-07-28';
const META = { 'io.modelcontextprotocol/protocolVersion': MODERN, 'io.modelcontextprotocol/clientCapabilities': {} };
type Item = Record<string, unknown>;
let nextId = 100;

function send(url: string, token: string, method: string, params: Item, id: number = nextId++, meta: Item | null = META): Promise<RawResponse> {
  const body = { jsonrpc: '2.0', id, method, params: meta === null ? params : { ...params, _meta: meta } };
  const headers: Record<string, string> = { ...bearer(token), 'mcp-protocol-version': MODERN, 'mcp-method': method };
  if (typeof params.name === 'string') headers['mcp-name'] = params.name;
  return post(url, body, headers);
}

/** Opens a listen stream and collects its messages until `close` is called. */
async function listen(url: string, token: string, notifications: Item): Promise<{ frames: Item[]; close: () => void; ready: Promise<void> }> {
  const id = nextId++;
  const controller = new AbortController();
  const res = await fetch(url, {
    method: 'POST',
    headers: { ...BASE_HEADERS, ...bearer(token), 'mcp-protocol-version': MODERN, 'mcp-method': 'subscriptions/listen' },
    body: JSON.stringify({ jsonrpc: '2.0', id, method: 'subscriptions/listen', params: { notifications, _meta: META } }),
    signal: controller.signal,
  });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
  const frames: Item[] = [];
  let first!: () => void;
  const ready = new Promise<void>((r) => (first = r));
  void (async () => {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of res.body!) {
        buffer += decoder.decode(chunk as Uint8Array, { stream: true });
        let at: number;
        while ((at = buffer.indexOf('\n\n')) >= 0) {
          const event = buffer.slice(0, at);
          buffer = buffer.slice(at + 2);
          const data = event.split('\n').find((l) => l.startsWith('data: '));
          if (data) frames.push(JSON.parse(data.slice(6)) as Item);
          if (frames.length === 1) first();
        }
      }
    } catch {
      // aborted by close()
    }
  })();
  return { frames, close: () => controller.abort(), ready };
}

const waitFor = async (cond: () => boolean, ms = 10_000) => {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
};

describe('2026-07-28 as the revision words it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'warden-modern-rules-'));
  let idp: TestIssuer;
  let gw: AuthGateway;
  const token = (user: string) => idp.sign({ aud: gw.publicUrl, sub: user, client_id: 'app' });

  before(async () => {
    idp = await createTestIssuer(dir);
    gw = await startAuthGateway(
      { up: tsFixtureStdio('conformance-upstream.ts', ['--stdio']) },
      { auth: { issuers: [{ issuer: idp.issuer, jwksFile: idp.jwksFile }] }, policy: { files: [ALLOW_ALL_POLICY] }, naming: { prefix: 'never' } },
    );
  });

  after(async () => {
    await gw?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a _meta without protocolVersion or clientCapabilities is 400 -32602, carrying the request id', async () => {
    const t = await token('alice');
    const cases: Array<Item | null> = [null, { 'io.modelcontextprotocol/clientCapabilities': {} }, { 'io.modelcontextprotocol/protocolVersion': MODERN }];
    for (const [i, meta] of cases.entries()) {
      const r = await send(gw.url, t, 'server/discover', {}, 500 + i, meta);
      assert.equal(r.status, 400, r.text);
      const m = r.messages[0] as { id: unknown; error: { code: number } };
      assert.equal(m.error.code, -32602, r.text);
      assert.equal(m.id, 500 + i, 'the refusal carries the request id');
    }
  });

  test('header refusals carry the request id too', async () => {
    const body = { jsonrpc: '2.0', id: 'abc', method: 'tools/list', params: { _meta: META } };
    const r = await post(gw.url, body, { ...bearer(await token('alice')), 'mcp-protocol-version': MODERN, 'mcp-method': 'tools/call' });
    assert.equal(r.status, 400);
    const m = r.messages[0] as { id: unknown; error: { code: number } };
    assert.deepEqual([m.id, m.error.code], ['abc', -32020]);
  });

  test('methods 2026-07-28 removed are 404 -32601 (initialize included), and nothing reaches the upstream', async () => {
    const t = await token('alice');
    for (const method of ['initialize', 'ping', 'logging/setLevel', 'resources/subscribe', 'resources/unsubscribe']) {
      const params = method.startsWith('resources/') ? { uri: 'test://watched-resource' } : {};
      const r = await send(gw.url, t, method, params, 700);
      assert.equal(r.status, 404, `${method}: ${r.text}`);
      const m = r.messages[0] as { id: unknown; error: { code: number } };
      assert.deepEqual([m.id, m.error.code], [700, -32601], method);
      assert.equal(r.headers.get('mcp-session-id'), null);
    }
  });

  test('results say their type; lists are per caller, so private and not to be kept', async () => {
    const t = await token('alice');
    for (const method of ['tools/list', 'prompts/list', 'resources/list', 'resources/templates/list']) {
      const r = await send(gw.url, t, method, {});
      const result = (r.messages[0] as { result: Item }).result;
      assert.deepEqual([result.resultType, result.cacheScope, result.ttlMs], ['complete', 'private', 0], method);
    }
    const call = await send(gw.url, t, 'tools/call', { name: 'test_simple_text', arguments: {} });
    const result = (call.messages.at(-1) as { result: Item }).result;
    assert.equal(result.resultType, 'complete');
    assert.equal('cacheScope' in result, false, 'a call result is not cacheable');
  });

  test("subscriptions/listen: acknowledged first; each caller hears only its own upstream's notifications, of the kinds it asked for", async () => {
    const alice = await token('alice');
    const bob = await token('bob');
    const a = await listen(gw.url, alice, { toolsListChanged: true, resourceSubscriptions: ['test://watched-resource'] });
    const aPrompts = await listen(gw.url, alice, { promptsListChanged: true });
    const b = await listen(gw.url, bob, { toolsListChanged: true, resourceSubscriptions: ['test://watched-resource'] });
    try {
      await Promise.all([a.ready, aPrompts.ready, b.ready]);
      const ack = a.frames[0] as { method: string; params: { notifications: Item; _meta: Item } };
      assert.equal(ack.method, 'notifications/subscriptions/acknowledged');
      assert.deepEqual(ack.params.notifications, { toolsListChanged: true, resourceSubscriptions: ['test://watched-resource'] });
      const subId = ack.params._meta['io.modelcontextprotocol/subscriptionId'];
      assert.equal(typeof subId, 'number');

      const r = await send(gw.url, alice, 'tools/call', { name: 'test_trigger_tool_change', arguments: {} });
      assert.match(JSON.stringify(r.messages.at(-1)), /1 subscribed/);
      await waitFor(() => a.frames.length >= 3);
      const methods = a.frames.slice(1).map((f) => f.method);
      assert.deepEqual(methods.sort(), ['notifications/resources/updated', 'notifications/tools/list_changed']);
      for (const f of a.frames.slice(1)) assert.equal(((f.params as Item)._meta as Item)['io.modelcontextprotocol/subscriptionId'], subId);
      // Give stray messages time to arrive where they must not.
      await new Promise((res) => setTimeout(res, 500));
      assert.equal(aPrompts.frames.length, 1, `a prompts-only stream hears no tool or resource news: ${JSON.stringify(aPrompts.frames)}`);
      assert.equal(b.frames.length, 1, `bob hears nothing alice's call caused: ${JSON.stringify(b.frames)}`);
    } finally {
      a.close();
      aPrompts.close();
      b.close();
    }
  });
});
