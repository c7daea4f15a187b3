/**
 * The same attacks from HTTP upstreams (test/fixtures/hostile-http-upstream.ts, a real process): over
 * Streamable HTTP (`web`) and the legacy HTTP+SSE transport (`legacy`), a message nested 200,000 levels
 * deep (in an SSE event, and as a JSON body), an answer of 100 MiB, an SSE event that never ends, and a
 * flood of notifications. Each broken bound drops only the attacked connection (upstream_protocol_error,
 * audited upstream/down), the next call reconnects, and another principal is served throughout.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { auditAfter, BearerSession, lastAuditId, startAuthGateway, type AuthGateway } from '../helpers/auth.js';
import { assertAuditIntact } from '../helpers/gateway.js';
import { createTestIssuer, type TestIssuer } from '../helpers/idp.js';
import { ROOT, startHttpProcess, type Started } from '../helpers/servers.js';

type Rpc = { result?: { content?: Array<{ text?: string }> }; error?: { code: number; message: string; data?: Record<string, unknown> } };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const textOf = (m: Rpc) => (m.result?.content ?? []).map((c) => c.text ?? '').join('');

async function callRaw(s: BearerSession, name: string, args: Record<string, unknown> = {}): Promise<{ message: Rpc; messages: number }> {
  const { res, message } = await s.request('tools/call', { name, arguments: args });
  assert.equal(res.status, 200, res.text.slice(0, 300));
  return { message: message as Rpc, messages: res.messages.length };
}

/** Echo through `upstream` once its connection is back (it reconnects after a backoff). */
async function echoWhenBack(s: BearerSession, upstream: string): Promise<void> {
  for (const deadline = Date.now() + 15_000; Date.now() < deadline; await sleep(200)) {
    const { message } = await callRaw(s, `${upstream}__echo`, { message: 'back' });
    if (textOf(message) === 'back') return;
  }
  assert.fail(`${upstream} did not come back`);
}

describe('hostile HTTP upstreams (Streamable HTTP and legacy SSE) cannot take the gateway down', () => {
  let dir: string;
  let idp: TestIssuer;
  let upstream: Started;
  let gw: AuthGateway;
  let alice: BearerSession;
  let bob: BearerSession;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'warden-hostile-http-'));
    idp = await createTestIssuer(dir);
    upstream = await startHttpProcess(process.execPath, ['--import', 'tsx', join(ROOT, 'test', 'fixtures', 'hostile-http-upstream.ts')], /listening on/);
    const base = new URL(upstream.url);
    gw = await startAuthGateway(
      { web: { url: upstream.url }, legacy: { url: new URL('/sse', base).href, transport: 'sse' } },
      { auth: { issuers: [{ issuer: idp.issuer, jwksFile: idp.jwksFile }] } },
    );
    const token = (sub: string) => idp.sign({ aud: gw.publicUrl, sub, client_id: 'app-1', scope: 'mcp:tools' });
    alice = new BearerSession(gw.url, await token('alice'));
    bob = new BearerSession(gw.url, await token('bob'));
    await alice.initialize();
    await bob.initialize();
  });

  after(async () => {
    await gw?.close();
    await upstream?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const attacks = [
    { via: 'web', tool: 'deep_event', bound: /sent a message nested deeper than 64 levels/ },
    { via: 'web', tool: 'deep_json', bound: /sent a message nested deeper than 64 levels/ },
    { via: 'web', tool: 'huge_json', bound: /sent an SSE event larger than 16777216 bytes/ },
    { via: 'web', tool: 'endless_event', bound: /sent an SSE event larger than 16777216 bytes/ },
    { via: 'legacy', tool: 'deep_event', bound: /sent a message nested deeper than 64 levels/ },
    { via: 'legacy', tool: 'huge_json', bound: /sent an SSE event larger than 16777216 bytes/ },
    { via: 'legacy', tool: 'endless_event', bound: /sent an SSE event larger than 16777216 bytes/ },
  ];

  for (const { via, tool, bound } of attacks) {
    test(`${via} ${tool}: the connection is dropped, audited and reconnected; another principal is served`, async () => {
      await echoWhenBack(alice, via);
      const mark = await lastAuditId(gw);
      const started = Date.now();
      const [attack, meanwhile] = await Promise.all([callRaw(alice, `${via}__${tool}`), bob.call(`${via}__echo`, { message: 'meanwhile' })]);
      assert.ok(attack.message.error, `${tool} should fail: ${JSON.stringify(attack.message).slice(0, 200)}`);
      assert.equal(attack.message.error.data?.reason, 'upstream_protocol_error');
      assert.match(attack.message.error.message, bound);
      assert.ok(Date.now() - started < 15_000, `answered after ${Date.now() - started} ms`);
      assert.equal(meanwhile, 'meanwhile');

      const down = (await auditAfter(gw, mark)).filter((e) => e.method === 'upstream/down');
      assert.deepEqual(down.map((e) => [e.upstream, e.sessionId, e.errorCode]), [[via, alice.sessionId, 'upstream_protocol_error']]);
      await echoWhenBack(alice, via);
      assert.equal(await bob.call(`${via}__echo`, { message: 'after' }), 'after');
    });
  }

  for (const via of ['web', 'legacy']) {
    test(`${via}: a flood of notifications is cut to the rate and the call answers`, async () => {
      await echoWhenBack(alice, via);
      const started = Date.now();
      const { message, messages } = await callRaw(alice, `${via}__flood`, { count: 100_000 });
      const seconds = Math.ceil((Date.now() - started) / 1000);
      assert.equal(textOf(message), 'flooded');
      assert.ok(messages <= 500 * (seconds + 1) + 1, `${messages} messages relayed in ${seconds} s`);
      assert.equal(await bob.call(`${via}__echo`, { message: 'fine' }), 'fine');
    });
  }

  test('the gateway is healthy, logged every drop, and the audit chain is intact', async () => {
    assert.match(gw.logs(), /upstream broke the protocol: connection dropped/);
    assert.doesNotMatch(gw.logs(), /Maximum call stack/);
    assert.equal((await fetch(new URL('/healthz', gw.url))).status, 200);
    await assertAuditIntact(gw);
  });
});
