/**
 * The gateway as a resource server for a real OpenID provider (oidc-provider v9, in this process): JWT
 * access tokens from client credentials (an agent) and from the authorization code flow with PKCE (a user
 * through an app), token exchange of the two, and the provider rotating its keys: the gateway refetches
 * its JWKS on an unknown kid, and that refetch is rate-limited.
 *
 * jose rate-limits the refetch with a 30 s cooldown; rather than wait, the last test moves Date.now forward.
 * It runs last because audit ids are time-ordered.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { decodeJwt, decodeProtectedHeader, generateKeyPair } from 'jose';
import { auditAfter, bearer, BearerSession, exchangeForm, initializeBody, lastAuditId, post, quiet, recorded, signWith, tokenRequest } from '../helpers/auth.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { AGENT_CLIENT, APP_CLIENT, startOidcProvider, type TestOidcProvider } from '../helpers/oidc.js';
import { tsFixtureStdio } from '../helpers/servers.js';

const realNow = Date.now;
let clockOffset = 0;
function advanceClock(ms: number): void {
  clockOffset += ms;
  Date.now = () => realNow() + clockOffset;
}

describe('a real OpenID provider (oidc-provider) issuing the tokens the gateway accepts', () => {
  let dir: string;
  let op: TestOidcProvider;
  let gw: TestGateway;
  let publicUrl: string;
  let rec: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'warden-oidc-'));
    rec = join(dir, 'upstream.log');
    // The provider issues tokens for the gateway's URL, known once the gateway listens (on port 0).
    op = await startOidcProvider(() => publicUrl);
    gw = await startTestGateway(
      { rec: tsFixtureStdio('recording-upstream.ts', [], { RECORD_FILE: rec }) },
      { listen: '127.0.0.1:0', auth: { issuers: [{ issuer: op.issuer, jwksUri: op.jwksUri }], requiredScopes: ['mcp:tools'] } },
    );
    publicUrl = gw.url;
  });

  after(async () => {
    Date.now = realNow;
    await gw?.close();
    await op?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('client credentials with resource=publicUrl: the agent is the client, no user', async () => {
    const token = await op.clientCredentials();
    const header = decodeProtectedHeader(token);
    assert.equal(header.typ, 'at+jwt');
    assert.equal(header.alg, 'ES256');
    const claims = decodeJwt(token);
    assert.equal(claims.iss, op.issuer);
    assert.equal(claims.aud, publicUrl);
    assert.equal(claims.client_id, AGENT_CLIENT.id);
    assert.match(String(claims.scope), /mcp:tools/);

    const auditBefore = await lastAuditId(gw);
    const s = new BearerSession(gw.url, token);
    await s.initialize();
    const names = await s.toolNames();
    assert.ok(names.some((n) => n.endsWith('echo')), names.join(', '));
    const ev = (await auditAfter(gw, auditBefore)).find((e) => e.method === 'tools/list');
    assert.equal(ev?.outcome, 'ok');
    assert.equal(ev?.agent, AGENT_CLIENT.id);
    assert.equal(ev?.user, null);
    assert.equal(ev?.authMethod, 'oauth-jwt');
  });

  test('a provider token without the required scope gets 403 insufficient_scope', async () => {
    const token = await op.clientCredentials('files:read');
    const r = await post(gw.url, initializeBody(), bearer(token));
    assert.equal(r.status, 403, r.text);
    assert.match(r.headers.get('www-authenticate') ?? '', /error="insufficient_scope"/);
    assert.match(r.headers.get('www-authenticate') ?? '', /scope="mcp:tools"/);
  });

  test('authorization code with PKCE for alice: the user is alice, the agent the app; then token exchange', async () => {
    const aliceToken = await op.authorizationCode('alice');
    const claims = decodeJwt(aliceToken);
    assert.equal(claims.sub, 'alice');
    assert.equal(claims.client_id, APP_CLIENT.id);
    assert.equal(claims.aud, publicUrl);

    const auditBefore = await lastAuditId(gw);
    const s = new BearerSession(gw.url, aliceToken);
    await s.initialize();
    const echo = (await s.toolNames()).find((n) => n.endsWith('echo'))!;
    assert.equal(await s.call(echo, { message: 'from alice' }), 'from alice');
    const call = (await auditAfter(gw, auditBefore)).find((e) => e.method === 'tools/call' && e.outcome !== 'intent');
    assert.equal(call?.user, 'alice');
    assert.equal(call?.agent, APP_CLIENT.id);
    assert.equal(call?.authMethod, 'oauth-jwt');

    // Alice's token + the agent's own client-credentials token -> a gateway token for the agent acting for alice.
    const origin = new URL(publicUrl).origin;
    const r = await tokenRequest(origin, exchangeForm(aliceToken, await op.clientCredentials(), { scope: 'mcp:tools' }));
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const gwToken = String(r.body.access_token);
    const g = decodeJwt(gwToken);
    assert.equal(g.iss, origin);
    assert.equal(g.sub, 'alice');
    assert.equal(g.client_id, AGENT_CLIENT.id);
    assert.deepEqual(g.act, { sub: AGENT_CLIENT.id });
    assert.equal(g.scope, 'mcp:tools');

    const before2 = await lastAuditId(gw);
    const s2 = new BearerSession(gw.url, gwToken);
    await s2.initialize();
    assert.equal(await s2.call(echo, { message: 'agent for alice' }), 'agent for alice');
    const call2 = (await auditAfter(gw, before2)).find((e) => e.method === 'tools/call' && e.outcome !== 'intent');
    assert.equal(call2?.user, 'alice');
    assert.equal(call2?.agent, AGENT_CLIENT.id);
    assert.equal(call2?.authMethod, 'gateway-token');
    assert.deepEqual(call2?.chain, []);
  });

  test('the provider rotates its key: the gateway refetches on the new kid; an unknown kid is 401 and refetches are rate-limited', async () => {
    const oldKid = op.currentKid();
    const oldToken = await op.clientCredentials();
    // Past jose's refetch cooldown (30 s) since the gateway's last JWKS fetch.
    advanceClock(31_000);
    const newKid = await op.rotate();
    assert.notEqual(newKid, oldKid);
    const fetches0 = op.jwksFetches();
    const token = await op.clientCredentials();
    assert.equal(decodeProtectedHeader(token).kid, newKid);
    const s = new BearerSession(gw.url, token);
    await s.initialize();
    assert.ok((await s.toolNames()).length > 0);
    assert.equal(op.jwksFetches(), fetches0 + 1, 'one refetch for the unknown kid');
    // A token signed before the rotation by the still-published old key keeps working.
    assert.equal(decodeProtectedHeader(oldToken).kid, oldKid);
    const old = new BearerSession(gw.url, oldToken);
    await old.initialize();
    assert.ok((await old.toolNames()).length > 0);
    await quiet(rec);

    // A kid the provider does not have: 401, and two such requests in a row cost at most one extra fetch.
    advanceClock(31_000);
    const upstreamBefore = recorded(rec).length;
    const fetches1 = op.jwksFetches();
    for (const kid of ['op-unknown-1', 'op-unknown-2', 'op-unknown-1']) {
      const { privateKey } = await generateKeyPair('ES256');
      const forged = await signWith(privateKey, { alg: 'ES256', kid, typ: 'at+jwt' }, { iss: op.issuer, aud: publicUrl, sub: AGENT_CLIENT.id, client_id: AGENT_CLIENT.id, scope: 'mcp:tools' });
      const bad = await post(gw.url, initializeBody(), bearer(forged));
      assert.equal(bad.status, 401, bad.text);
      assert.match(bad.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
    }
    assert.ok(op.jwksFetches() - fetches1 <= 1, `JWKS fetched ${op.jwksFetches() - fetches1} times for three unknown-kid tokens`);
    assert.equal(recorded(rec).length, upstreamBefore, 'the upstream saw nothing');
  });
});
