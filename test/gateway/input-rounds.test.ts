/**
 * Issue 15 item 1: multi round-trip requests for stateless (2026-07-28) clients in front of an upstream that
 * asks its client things mid-call (the repo's conformance fixture, over stdio, on the official SDK). The
 * upstream's elicitation or sampling request becomes an input-required result; the retry's inputResponses
 * answer it. The requestState is the gateway's seal: altered, another caller's, or another request's, it is
 * refused (-32602) and the parked call is untouched. Real JWTs for two callers.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { auditAfter, bearer, lastAuditId, post, startAuthGateway, type AuthGateway } from '../helpers/auth.js';
import { ALLOW_ALL_POLICY } from '../helpers/gateway.js';
import { createTestIssuer, type TestIssuer } from '../helpers/idp.js';
import type { RawResponse } from '../helpers/mcp-http.js';
import { tsFixtureStdio } from '../helpers/servers.js';

const MODERN = '2026-07-28';
type Item = Record<string, unknown>;
let nextId = 1;

function stateless(url: string, token: string, method: string, params: Item, caps: Item = {}): Promise<RawResponse> {
  const meta = { 'io.modelcontextprotocol/protocolVersion': MODERN, 'io.modelcontextprotocol/clientCapabilities': caps };
  const body = { jsonrpc: '2.0', id: nextId++, method, params: { ...params, _meta: meta } };
  const headers: Record<string, string> = { ...bearer(token), 'mcp-protocol-version': MODERN, 'mcp-method': method };
  if (typeof params.name === 'string') headers['mcp-name'] = params.name;
  return post(url, body, headers);
}

const last = (r: RawResponse): { result?: Item; error?: { code: number; message: string } } => r.messages.at(-1) as never;

describe('multi round-trip requests through the gateway', () => {
  const dir = mkdtempSync(join(tmpdir(), 'warden-rounds-'));
  let idp: TestIssuer;
  let gw: AuthGateway;
  const token = (user: string) => idp.sign({ aud: gw.publicUrl, sub: user, client_id: 'app' });
  const ELICIT = { elicitation: {} };

  before(async () => {
    idp = await createTestIssuer(dir);
    gw = await startAuthGateway(
      { up: tsFixtureStdio('conformance-upstream.ts', ['--stdio']) },
      { auth: { issuers: [{ issuer: idp.issuer, jwksFile: idp.jwksFile }] }, policy: { files: [ALLOW_ALL_POLICY] }, naming: { prefix: 'never' }, limits: { callTimeoutMs: 30_000 } },
    );
  });

  after(async () => {
    await gw?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The first try of test_elicitation: an input-required result with one elicitation question. */
  async function firstTry(user: string, message = 'who are you?') {
    const r = await stateless(gw.url, await token(user), 'tools/call', { name: 'test_elicitation', arguments: { message } }, ELICIT);
    assert.equal(r.status, 200, r.text);
    const result = last(r).result!;
    assert.equal(result.resultType, 'input_required', r.text);
    const requests = result.inputRequests as Record<string, { method: string; params: Item }>;
    const [key, question] = Object.entries(requests)[0]!;
    assert.equal(question.method, 'elicitation/create');
    assert.equal(question.params.message, message);
    assert.equal(typeof result.requestState, 'string');
    return { key, state: result.requestState as string, message };
  }

  const retry = async (user: string, first: { key: string; state: string; message: string }, answer: Item, state = first.state, message = first.message) =>
    stateless(gw.url, await token(user), 'tools/call', { name: 'test_elicitation', arguments: { message }, requestState: state, inputResponses: { [first.key]: answer } }, ELICIT);

  test("an upstream's elicitation becomes input_required; the retry's answer reaches the upstream and the call completes", async () => {
    const since = await lastAuditId(gw);
    const first = await firstTry('alice');
    const r = await retry('alice', first, { action: 'accept', content: { username: 'alice-u', email: 'a@example.test' } });
    const result = last(r).result!;
    assert.equal(result.resultType, 'complete', r.text);
    const text = (result.content as Array<{ text: string }>)[0]!.text;
    assert.match(text, /action=accept/);
    assert.match(text, /alice-u/);
    const calls = (await auditAfter(gw, since)).filter((e) => e.method === 'tools/call' && e.outcome !== 'intent');
    assert.equal(calls.length, 2, 'both tries are audited');
    assert.ok(calls.every((e) => e.outcome === 'ok' && e.target === 'test_elicitation'));
  });

  test('an altered requestState is refused and leaves the parked call to its rightful retry', async () => {
    const first = await firstTry('alice');
    const [body, mac] = first.state.split('.');
    const forged = Buffer.from(body!, 'base64url').toString('utf8').replace(/"o":"[^"]*"/, '"o":"someone-else"');
    for (const state of [`${Buffer.from(forged).toString('base64url')}.${mac}`, `${body}.${mac!.slice(0, -2)}AA`, 'not-a-state']) {
      const r = await retry('alice', first, { action: 'accept', content: { username: 'x', email: 'y' } }, state);
      assert.equal(last(r).error?.code, -32602, r.text);
    }
    const ok = await retry('alice', first, { action: 'decline' });
    assert.match((last(ok).result!.content as Array<{ text: string }>)[0]!.text, /action=decline/);
  });

  test("bob cannot continue alice's call with her requestState, nor alice another request with it", async () => {
    const first = await firstTry('alice');
    const stolen = await retry('bob', first, { action: 'accept', content: { username: 'bob', email: 'b@example.test' } });
    assert.equal(last(stolen).error?.code, -32602, stolen.text);
    assert.match(last(stolen).error!.message, /another caller or another request/);
    const moved = await retry('alice', first, { action: 'accept', content: { username: 'x', email: 'y' } }, first.state, 'a different message');
    assert.equal(last(moved).error?.code, -32602, moved.text);
    // Neither touched the call: alice's own retry still finishes it, with her answer.
    const ok = await retry('alice', first, { action: 'accept', content: { username: 'alice-2', email: 'a@example.test' } });
    assert.match((last(ok).result!.content as Array<{ text: string }>)[0]!.text, /alice-2/);
  });

  test('a retry without the answer is asked again; sampling takes the same path', async () => {
    const first = await firstTry('alice');
    const again = await stateless(gw.url, await token('alice'), 'tools/call', { name: 'test_elicitation', arguments: { message: first.message }, requestState: first.state, inputResponses: {} }, ELICIT);
    assert.equal(last(again).result!.resultType, 'input_required', again.text);
    assert.ok(first.key in (last(again).result!.inputRequests as Item));
    await retry('alice', first, { action: 'cancel' }, last(again).result!.requestState as string);

    const s1 = await stateless(gw.url, await token('alice'), 'tools/call', { name: 'test_sampling', arguments: { prompt: 'hi' } }, { sampling: {} });
    const r1 = last(s1).result!;
    assert.equal(r1.resultType, 'input_required', s1.text);
    const [key, q] = Object.entries(r1.inputRequests as Record<string, { method: string }>)[0]!;
    assert.equal(q.method, 'sampling/createMessage');
    const answer = { role: 'assistant', content: { type: 'text', text: 'sampled-reply' }, model: 'm', stopReason: 'endTurn' };
    const s2 = await stateless(gw.url, await token('alice'), 'tools/call', { name: 'test_sampling', arguments: { prompt: 'hi' }, requestState: r1.requestState, inputResponses: { [key]: answer } }, { sampling: {} });
    assert.match((last(s2).result!.content as Array<{ text: string }>)[0]!.text, /sampled-reply/, s2.text);
  });

  test('a client that did not declare elicitation is never asked: the upstream hears a refusal at once', async () => {
    const r = await stateless(gw.url, await token('alice'), 'tools/call', { name: 'test_elicitation', arguments: { message: 'x' } }, {});
    const m = last(r);
    assert.notEqual(m.result?.resultType, 'input_required', r.text);
    assert.ok(m.error !== undefined || m.result?.isError === true, r.text);
  });
});
