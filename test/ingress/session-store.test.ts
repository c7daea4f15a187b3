/**
 * Sessions in a single-node (SQLite) store: a session outlives a restart of the gateway, for the principal
 * that opened it only, and a DELETE removes it from the store.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { startAuthGateway, type AuthGateway } from '../helpers/auth.js';
import { tempDir } from '../helpers/e2e.js';
import { withMasterKey } from '../helpers/gateway.js';
import { createTestIssuer } from '../helpers/idp.js';
import { rawPost, RawSession } from '../helpers/mcp-http.js';
import { tsFixtureStdio } from '../helpers/servers.js';

describe('sessions in a SQLite store', () => {
  const tmp = tempDir('warden-session-store-');
  let gw: AuthGateway | undefined;
  after(async () => {
    await gw?.close();
    tmp.remove();
  });

  test('a session survives a restart, for its own principal only; DELETE removes it from the store', async () => {
    const idp = await createTestIssuer(tmp.dir);
    // Both starts open the same store, so they are given the same master key (its signing keys are sealed).
    const config = withMasterKey(tmp.dir, {
      store: join(tmp.dir, 'warden.db'),
      auth: { issuers: [{ issuer: idp.issuer, jwksFile: idp.jwksFile }] },
    });
    const servers = { rec: tsFixtureStdio('recording-upstream.ts', [], { RECORD_FILE: join(tmp.dir, 'rec.log') }) };
    // Each start listens on a new port, which is its audience: tokens are signed for the running one.
    const token = (user: string) => idp.sign({ aud: gw!.publicUrl, sub: user, client_id: 'app' });
    const auth = async (user: string) => ({ authorization: `Bearer ${await token(user)}` });
    gw = await startAuthGateway(servers, config);
    const s = new RawSession(gw.url);
    const init = await rawPost(
      gw.url,
      { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '0' } } },
      await auth('alice'),
    );
    s.sessionId = init.headers.get('mcp-session-id') ?? '';
    assert.ok(s.sessionId);
    const sid = s.sessionId;
    assert.deepEqual((await gw.store.sessions.get(sid))?.protocolVersion, '2025-11-25');
    await gw.close();

    gw = await startAuthGateway(servers, config);
    const again = new RawSession(gw.url);
    again.sessionId = sid;
    const list = { jsonrpc: '2.0', id: 1, method: 'tools/list' };
    assert.equal((await again.post(list, await auth('mallory'))).status, 404, "another principal's request finds no session");
    const ok = await again.post(list, await auth('alice'));
    assert.equal(ok.status, 200, ok.text);
    assert.match(ok.text, /echo/);
    const del = await fetch(gw.url, { method: 'DELETE', headers: { ...again.headers(), ...(await auth('alice')) } });
    assert.equal(del.status, 200);
    assert.equal(await gw.store.sessions.get(sid), undefined);
    assert.equal((await again.post(list, await auth('alice'))).status, 404);
  });
});
