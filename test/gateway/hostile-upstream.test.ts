/**
 * A stdio upstream that attacks the gateway through what it writes (test/fixtures/hostile-upstream.ts): a
 * message nested 200,000 levels deep (as a notification, a result and a server-to-client request), a
 * 100 MiB line, a line that never ends, bytes that are not UTF-8, a flood of notifications. Before the
 * bounds, the first of these killed the whole process (RangeError from JSON.stringify on the way out).
 *
 * Each attack must end only the attacked connection (alice's connection to `h`): alice's call fails with
 * upstream_protocol_error and a message naming the bound, the drop is logged and audited (upstream/down),
 * the connection is restarted (a new process), bob (another principal, his own connection to the same
 * upstream) is served during and after, and `warden audit verify` finds the chain intact.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { auditAfter, BearerSession, lastAuditId, startAuthGateway, type AuthGateway } from '../helpers/auth.js';
import { assertAuditIntact } from '../helpers/gateway.js';
import { createTestIssuer, type TestIssuer } from '../helpers/idp.js';
import { tsFixtureStdio } from '../helpers/servers.js';

type Rpc = { result?: { content?: Array<{ text?: string }> }; error?: { code: number; message: string; data?: Record<string, unknown> } };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const textOf = (m: Rpc) => (m.result?.content ?? []).map((c) => c.text ?? '').join('');

async function callRaw(s: BearerSession, name: string, args: Record<string, unknown> = {}): Promise<{ message: Rpc; messages: number }> {
  const { res, message } = await s.request('tools/call', { name, arguments: args });
  assert.equal(res.status, 200, res.text.slice(0, 300));
  return { message: message as Rpc, messages: res.messages.length };
}

/** The upstream's pid once its connection answers again (it restarts after a backoff). */
async function pidWhenBack(s: BearerSession, upstream: string): Promise<string> {
  for (const deadline = Date.now() + 15_000; Date.now() < deadline; await sleep(200)) {
    const { message } = await callRaw(s, `${upstream}__pid`);
    if (message.result) return textOf(message);
  }
  assert.fail(`${upstream} did not come back`);
}

async function withAuthGateway(servers: Record<string, unknown>, run: (gw: AuthGateway, token: (sub: string) => Promise<string>) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'warden-hostile-'));
  const idp: TestIssuer = await createTestIssuer(dir);
  const gw = await startAuthGateway(servers, { auth: { issuers: [{ issuer: idp.issuer, jwksFile: idp.jwksFile }] }, naming: { prefix: 'always' } });
  try {
    await run(gw, (sub) => idp.sign({ aud: gw.publicUrl, sub, client_id: `app-${sub}`, scope: 'mcp:tools' }));
  } finally {
    await gw.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('a hostile stdio upstream cannot take the gateway down', () => {
  let dir: string;
  let idp: TestIssuer;
  let gw: AuthGateway;
  let alice: BearerSession;
  let bob: BearerSession;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'warden-hostile-'));
    idp = await createTestIssuer(dir);
    gw = await startAuthGateway({ h: tsFixtureStdio('hostile-upstream.ts') }, { auth: { issuers: [{ issuer: idp.issuer, jwksFile: idp.jwksFile }] }, naming: { prefix: 'always' } });
    const token = (sub: string) => idp.sign({ aud: gw.publicUrl, sub, client_id: 'app-1', scope: 'mcp:tools' });
    alice = new BearerSession(gw.url, await token('alice'));
    bob = new BearerSession(gw.url, await token('bob'));
    await alice.initialize();
    await bob.initialize();
  });

  after(async () => {
    await gw?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const attacks = [
    { tool: 'deep_notify', bound: /sent a message nested deeper than 64 levels/ },
    { tool: 'deep_result', bound: /sent a message nested deeper than 64 levels/ },
    { tool: 'deep_request', bound: /sent a message nested deeper than 64 levels/ },
    { tool: 'huge_line', bound: /wrote a line longer than 16777216 bytes/ },
    { tool: 'endless_line', bound: /wrote a line longer than 16777216 bytes/ },
  ];

  for (const { tool, bound } of attacks) {
    test(`${tool}: only the attacked connection is dropped, reported and restarted; another principal is served throughout`, async () => {
      const alicePid = await pidWhenBack(alice, 'h');
      const bobPid = textOf((await callRaw(bob, 'h__pid')).message);
      const mark = await lastAuditId(gw);
      const started = Date.now();
      const [attack, meanwhile] = await Promise.all([callRaw(alice, `h__${tool}`), bob.call('h__echo', { message: 'meanwhile' })]);

      assert.ok(attack.message.error, `${tool} should fail: ${JSON.stringify(attack.message).slice(0, 200)}`);
      assert.equal(attack.message.error.code, -32001);
      assert.equal(attack.message.error.data?.reason, 'upstream_protocol_error');
      assert.match(attack.message.error.message, bound);
      assert.ok(Date.now() - started < 15_000, `answered after ${Date.now() - started} ms`);
      assert.equal(meanwhile, 'meanwhile');

      const events = await auditAfter(gw, mark);
      const down = events.filter((e) => e.method === 'upstream/down');
      assert.deepEqual(
        down.map((e) => [e.upstream, e.sessionId, e.errorCode]),
        [['h', alice.sessionId, 'upstream_protocol_error']],
        'one upstream/down event, for alice’s connection only',
      );
      const call = events.find((e) => e.method === 'tools/call' && e.outcome !== 'intent' && e.target === tool);
      assert.equal(call?.errorCode, 'upstream_protocol_error');
      assert.match(gw.logs(), /upstream broke the protocol: connection dropped/);
      assert.doesNotMatch(gw.logs(), /Maximum call stack/);

      // Restarted: a new process answers alice; bob's connection was never touched.
      assert.notEqual(await pidWhenBack(alice, 'h'), alicePid);
      assert.equal(textOf((await callRaw(bob, 'h__pid')).message), bobPid);
      assert.equal(await bob.call('h__echo', { message: 'after' }), 'after');
    });
  }

  test('bytes that are not UTF-8 decode to U+FFFD; the connection goes on', async () => {
    const pid = await pidWhenBack(alice, 'h');
    const { message } = await callRaw(alice, 'h__invalid_utf8');
    assert.match(textOf(message), /^bad:\uFFFD+\(\uFFFD+$/);
    assert.equal(await alice.call('h__echo', { message: 'still' }), 'still');
    assert.equal(await pidWhenBack(alice, 'h'), pid);
  });

  test('a flood of notifications is cut to the rate; the call answers and bob is served meanwhile', async () => {
    const pid = await pidWhenBack(alice, 'h');
    const started = Date.now();
    const flood = callRaw(alice, 'h__flood', { count: 200_000 });
    let slowest = 0;
    for (let i = 0; i < 10; i++) {
      const t = Date.now();
      assert.equal(await bob.call('h__echo', { message: `b${i}` }), `b${i}`);
      slowest = Math.max(slowest, Date.now() - t);
    }
    const { message, messages } = await flood;
    const seconds = Math.ceil((Date.now() - started) / 1000);
    assert.equal(textOf(message), 'flooded');
    // At most 500 notifications a second were relayed (plus the answer), not 200,000.
    assert.ok(messages <= 500 * (seconds + 1) + 1, `${messages} messages relayed in ${seconds} s`);
    assert.ok(slowest < 5_000, `bob waited ${slowest} ms during the flood`);
    assert.match(gw.logs(), /more than 500 notifications a second/);
    assert.equal(await pidWhenBack(alice, 'h'), pid, 'a flood is throttled, not a reason to restart');
  });

  test('a URI template built to backtrack is matched in linear time (no ReDoS from an upstream)', async () => {
    const started = Date.now();
    const { res } = await alice.request('resources/read', { uri: 'evil://' + 'a'.repeat(40) });
    assert.equal(res.status, 200, res.text.slice(0, 300));
    assert.ok(Date.now() - started < 3_000, `resources/read took ${Date.now() - started} ms`);
    assert.equal(await bob.call('h__echo', { message: 'responsive' }), 'responsive');
  });

  test('the gateway is healthy and the audit chain intact', async () => {
    const health = await fetch(new URL('/healthz', gw.url));
    assert.equal(health.status, 200);
    await assertAuditIntact(gw);
  });
});

test('an unsolicited deep notification right after the upstream starts drops that upstream only, and is audited', async () => {
  await withAuthGateway({ early: tsFixtureStdio('hostile-upstream.ts', ['--deep-at-start', '200000']), h: tsFixtureStdio('hostile-upstream.ts') }, async (gw, token) => {
    const carol = new BearerSession(gw.url, await token('carol'));
    await carol.initialize();
    // Upstreams start on first use: the first list starts both.
    await carol.request('tools/list');
    let down: unknown;
    for (const deadline = Date.now() + 10_000; Date.now() < deadline && down === undefined; await sleep(100)) {
      down = (await auditAfter(gw)).find((e) => e.method === 'upstream/down' && e.upstream === 'early' && e.errorCode === 'upstream_protocol_error');
    }
    assert.ok(down, 'the dropped connection is audited');
    assert.equal(await carol.call('h__echo', { message: 'fine' }), 'fine');
    await assertAuditIntact(gw);
  });
});
