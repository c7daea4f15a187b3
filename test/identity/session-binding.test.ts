/**
 * An MCP session belongs to the principal that opened it. Another principal (another user, another client,
 * another tenant) presenting its Mcp-Session-Id gets 404 on POST, GET and DELETE, exactly as for a session
 * that does not exist; the owner is not disturbed; and a session id is never a credential by itself.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { JWTPayload } from 'jose';
import { auditAfter, bearer, BearerSession, LATEST, lastAuditId, parseChallenge, post, quiet, recorded, startAuthGateway, type AuthGateway } from '../helpers/auth.js';
import { createTestIssuer, type TestIssuer } from '../helpers/idp.js';
import { tsFixtureStdio } from '../helpers/servers.js';

/** GET or DELETE with a bounded wait; a GET that opens a stream is aborted once its status is known. */
async function send(method: 'GET' | 'DELETE', url: string, headers: Record<string, string>): Promise<{ status: number; headers: Headers; text: string }> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), 5_000);
  try {
    const res = await fetch(url, { method, headers: { accept: 'text/event-stream, application/json', ...headers }, signal: ac.signal });
    if (res.headers.get('content-type')?.startsWith('text/event-stream')) {
      ac.abort();
      return { status: res.status, headers: res.headers, text: '' };
    }
    return { status: res.status, headers: res.headers, text: await res.text() };
  } finally {
    clearTimeout(timer);
  }
}

describe('session binding: a session id is usable only by the principal that opened it', () => {
  let dir: string;
  let idp: TestIssuer;
  let gw: AuthGateway;
  let rec: string;
  let owner: BearerSession;
  let echoTool: string;

  const token = (claims: JWTPayload) => idp.sign({ aud: gw.publicUrl, scope: 'mcp:tools', ...claims });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'warden-binding-'));
    idp = await createTestIssuer(dir);
    rec = join(dir, 'upstream.log');
    gw = await startAuthGateway(
      { rec: tsFixtureStdio('recording-upstream.ts', [], { RECORD_FILE: rec }) },
      { auth: { issuers: [{ issuer: idp.issuer, jwksFile: idp.jwksFile }] }, agents: { 'app-t': { tenant: 'acme' } } },
    );
    owner = new BearerSession(gw.url, await token({ sub: 'alice', client_id: 'app-1' }));
    await owner.initialize();
    echoTool = (await owner.toolNames()).find((n) => n.endsWith('echo'))!;
    assert.equal(await owner.call(echoTool, { message: 'mine' }), 'mine');
    await quiet(rec);
  });

  after(async () => {
    await gw?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const intruders: Array<{ name: string; claims: JWTPayload }> = [
    { name: 'another user, same client', claims: { sub: 'bob', client_id: 'app-1' } },
    { name: 'same user, another client', claims: { sub: 'alice', client_id: 'app-2' } },
    { name: 'same user and client through azp instead of client_id', claims: { sub: 'alice', azp: 'app-3' } },
    { name: 'same user, same client, but acting through an actor', claims: { sub: 'alice', client_id: 'app-1', act: { sub: 'agent-x' } } },
  ];

  for (const intruder of intruders) {
    test(`${intruder.name}: 404 on POST, GET and DELETE; the owner is unaffected`, async () => {
      const other = await token(intruder.claims);
      const upstreamBefore = recorded(rec).length;
      const auditBefore = await lastAuditId(gw);
      const headers = { ...bearer(other), 'mcp-session-id': owner.sessionId, 'mcp-protocol-version': LATEST };

      const p = await post(gw.url, { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: echoTool, arguments: { message: 'intruder' } } }, headers);
      assert.equal(p.status, 404, p.text);
      const list = await post(gw.url, { jsonrpc: '2.0', id: 2, method: 'tools/list' }, headers);
      assert.equal(list.status, 404, list.text);
      const note = await post(gw.url, { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 1 } }, headers);
      assert.equal(note.status, 404, note.text);
      const g = await send('GET', gw.url, headers);
      assert.equal(g.status, 404, g.text);
      const d = await send('DELETE', gw.url, headers);
      assert.equal(d.status, 404, d.text);

      // Indistinguishable from a session that does not exist.
      const unknown = await post(gw.url, { jsonrpc: '2.0', id: 3, method: 'tools/list' }, { ...headers, 'mcp-session-id': 'no-such-session-0000' });
      assert.equal(unknown.status, 404);
      assert.deepEqual(JSON.parse(list.text).error.code, JSON.parse(unknown.text).error.code);

      assert.equal(recorded(rec).length, upstreamBefore, 'nothing reached the upstream');
      const events = await auditAfter(gw, auditBefore);
      assert.ok(events.length >= 5, 'each refusal is audited');
      assert.ok(events.every((e) => e.outcome !== 'ok'), JSON.stringify(events));
      assert.ok(events.every((e) => e.errorCode === 'session_not_found'), JSON.stringify(events.map((e) => e.errorCode)));

      assert.equal(await owner.call(echoTool, { message: 'still mine' }), 'still mine');
    });
  }

  test("a registered agent's tenant is part of the binding: the same client and user cannot cross tenants", async () => {
    const a = new BearerSession(gw.url, await token({ sub: 'carol', client_id: 'app-t', tenant: 'acme' }));
    await a.initialize();
    // The same token shape with a tenant the registration contradicts is refused before any session lookup.
    const b = await post(gw.url, { jsonrpc: '2.0', id: 1, method: 'tools/list' }, { ...bearer(await token({ sub: 'carol', client_id: 'app-t', tenant: 'globex' })), 'mcp-session-id': a.sessionId, 'mcp-protocol-version': LATEST });
    assert.equal(b.status, 401);
    assert.ok((await a.toolNames()).length > 0);
    await quiet(rec);
  });

  test('the owner, with a new token for the same principal, keeps the session (GET opens its stream)', async () => {
    const renewed = new BearerSession(gw.url, await token({ sub: 'alice', client_id: 'app-1' }));
    renewed.sessionId = owner.sessionId;
    assert.equal(await renewed.call(echoTool, { message: 'renewed' }), 'renewed');
    const g = await send('GET', gw.url, renewed.headers());
    assert.equal(g.status, 200);
  });

  test('the session id without a token is 401, never a credential', async () => {
    const upstreamBefore = recorded(rec).length;
    const auditBefore = await lastAuditId(gw);
    const headers = { 'mcp-session-id': owner.sessionId, 'mcp-protocol-version': LATEST };
    const p = await post(gw.url, { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: echoTool, arguments: { message: 'no token' } } }, headers);
    assert.equal(p.status, 401, p.text);
    const ch = parseChallenge(p.headers.get('www-authenticate'));
    assert.ok(ch.resource_metadata);
    assert.equal(ch.error, undefined);
    assert.equal((await send('GET', gw.url, headers)).status, 401);
    assert.equal((await send('DELETE', gw.url, headers)).status, 401);
    assert.equal(recorded(rec).length, upstreamBefore);
    const events = await auditAfter(gw, auditBefore);
    assert.equal(events.filter((e) => e.errorCode === 'unauthenticated').length, 3, JSON.stringify(events));
    assert.equal(await owner.call(echoTool, { message: 'after' }), 'after');
  });

  test('the owner can DELETE its session; afterwards even the owner gets 404', async () => {
    const s = new BearerSession(gw.url, await token({ sub: 'dave', client_id: 'app-1' }));
    await s.initialize();
    assert.equal((await send('DELETE', gw.url, s.headers())).status, 200);
    const { res } = await s.request('tools/list');
    assert.equal(res.status, 404);
  });
});
