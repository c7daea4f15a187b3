/**
 * The RFC 8693 token service over HTTP (POST /oauth/token, form encoded): a user's token plus an agent's own
 * credential gives a short-lived gateway token (RFC 9068 shape, nested `act`), accepted at /mcp with the
 * principal the store recorded. Authority only narrows (scope, lifetime, delegation, depth, tenant), actor
 * assertions are single-use, a foreign token's prior actors are ignored, forged gateway tokens are refused,
 * and signing keys rotate with overlap.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair, jwtVerify, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import {
  assertNoTrace,
  auditAfter,
  bearer,
  BearerSession,
  exchangeForm,
  initializeBody,
  lastAuditId,
  nowSeconds,
  post,
  quiet,
  recorded,
  signWith,
  startAuthGateway,
  tokenRequest,
  type AuthGateway,
} from '../helpers/auth.js';
import { createTestIssuer, type TestIssuer } from '../helpers/idp.js';
import { tsFixtureStdio } from '../helpers/servers.js';

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k'];

async function jwks(origin: string): Promise<{ keys: JWK[] }> {
  const res = await fetch(new URL('/.well-known/jwks.json', origin), { signal: AbortSignal.timeout(5000) });
  assert.equal(res.status, 200);
  return (await res.json()) as { keys: JWK[] };
}

describe('token exchange (RFC 8693) at /oauth/token', () => {
  let dir: string;
  let idp: TestIssuer;
  let gw: AuthGateway;
  let origin: string;
  let rec: string;
  let svidKey: CryptoKey;
  /** Every token a test sent; none may appear in the audit store or the logs. */
  const sent: string[] = [];

  const user = async (claims: JWTPayload = {}) => {
    const t = await idp.sign({ aud: gw.publicUrl, sub: 'alice', client_id: 'app-web', scope: 'mcp:tools files:read', ...claims });
    sent.push(t);
    return t;
  };
  /** An agent's own credential (a client-credentials token from the trusted issuer); single use. */
  const cred = async (agent: string, claims: JWTPayload = {}) => {
    const t = await idp.sign({ aud: gw.publicUrl, sub: agent, client_id: agent, ...claims });
    sent.push(t);
    return t;
  };
  const exchange = (subject: string, actor: string, extra: Record<string, string> = {}) => tokenRequest(origin, exchangeForm(subject, actor, extra));
  /** Exchanges and asserts success; returns the gateway token. */
  const issue = async (subject: string, actor: string, extra: Record<string, string> = {}): Promise<string> => {
    const r = await exchange(subject, actor, extra);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const t = String(r.body.access_token);
    sent.push(t);
    return t;
  };
  const refused = async (r: Promise<{ status: number; body: Record<string, unknown> }>, error: string, why?: RegExp) => {
    const { status, body } = await r;
    assert.equal(status, 400, JSON.stringify(body));
    assert.equal(body.error, error, JSON.stringify(body));
    if (why) assert.match(String(body.error_description), why);
    assert.equal(body.access_token, undefined);
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'warden-exchange-'));
    idp = await createTestIssuer(dir);
    rec = join(dir, 'upstream.log');
    const svid = await generateKeyPair('ES256', { extractable: true });
    svidKey = svid.privateKey;
    const bundleFile = join(dir, 'bundle.json');
    writeFileSync(bundleFile, JSON.stringify({ keys: [{ ...(await exportJWK(svid.publicKey)), kid: 'svid-1', use: 'jwt-svid' }] }));
    gw = await startAuthGateway(
      { rec: tsFixtureStdio('recording-upstream.ts', [], { RECORD_FILE: rec }) },
      {
        auth: { issuers: [{ issuer: idp.issuer, jwksFile: idp.jwksFile }], spiffe: { trustDomain: 'example.org', bundleFile } },
        tokenService: { maxDelegationDepth: 2, maxTtlSeconds: 600 },
        agents: {
          'agent-a': { delegatesFrom: ['agent-b'] },
          'agent-b': { delegatesFrom: ['agent-a'] },
          'agent-c': { delegatesFrom: ['agent-b'] },
          'agent-d': { delegatesFrom: ['agent-c'] },
          'agent-t1': { tenant: 'acme' },
        },
      },
    );
    origin = new URL(gw.publicUrl).origin;
  });

  after(async () => {
    await gw?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  describe('a delegation chain A -> B -> C', () => {
    let g1: string;
    let g2: string;
    let g3: string;

    test('user token + agent credential gives a gateway token with the right claims', async () => {
      const auditBefore = await lastAuditId(gw);
      const r = await exchange(await user(), await cred('agent-a'), { scope: 'mcp:tools files:read' });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.token_type, 'Bearer');
      assert.equal(r.body.issued_token_type, 'urn:ietf:params:oauth:token-type:access_token');
      assert.ok(Number(r.body.expires_in) <= 300 && Number(r.body.expires_in) >= 290, String(r.body.expires_in));
      assert.equal(r.headers.get('cache-control'), 'no-store');
      g1 = String(r.body.access_token);
      sent.push(g1);
      const header = decodeProtectedHeader(g1);
      assert.equal(header.typ, 'at+jwt');
      assert.ok(header.alg === 'ES256' || header.alg === 'EdDSA', header.alg);
      assert.ok(header.kid);
      const c = decodeJwt(g1);
      assert.equal(c.iss, origin);
      assert.equal(c.aud, gw.publicUrl);
      assert.equal(c.sub, 'alice');
      assert.equal(c.client_id, 'agent-a');
      assert.deepEqual(c.act, { sub: 'agent-a' });
      assert.equal(c.scope, 'mcp:tools files:read');
      assert.equal(typeof c.jti, 'string');
      assert.ok(c.exp! - c.iat! <= 300, `life ${c.exp! - c.iat!} s`);
      const ev = (await auditAfter(gw, auditBefore)).find((e) => e.method === 'oauth/token');
      assert.equal(ev?.outcome, 'ok');
      assert.equal(ev?.agent, 'agent-a');
      assert.equal(ev?.user, 'alice');
      assert.equal(ev?.authMethod, 'gateway-token');
    });

    test('A delegates to B, B to C: nested act, the chain recorded, jtis distinct', async () => {
      g2 = await issue(g1, await cred('agent-b'));
      g3 = await issue(g2, await cred('agent-c'), { scope: 'mcp:tools' });
      const c2 = decodeJwt(g2);
      const c3 = decodeJwt(g3);
      assert.deepEqual(c2.act, { sub: 'agent-b', act: { sub: 'agent-a' } });
      assert.deepEqual(c3.act, { sub: 'agent-c', act: { sub: 'agent-b', act: { sub: 'agent-a' } } });
      assert.equal(c3.sub, 'alice');
      assert.equal(c3.client_id, 'agent-c');
      assert.equal(c3.scope, 'mcp:tools');
      assert.equal(new Set([decodeJwt(g1).jti, c2.jti, c3.jti]).size, 3);
      assert.ok(c3.exp! <= decodeJwt(g1).exp!, 'a hop never outlives its subject');
    });

    test('the gateway token works at /mcp; the audit shows agent, user, chain and gateway-token', async () => {
      const auditBefore = await lastAuditId(gw);
      const s = new BearerSession(gw.url, g3);
      await s.initialize();
      const echo = (await s.toolNames()).find((n) => n.endsWith('echo'))!;
      assert.equal(await s.call(echo, { message: 'via C' }), 'via C');
      const call = (await auditAfter(gw, auditBefore)).find((e) => e.method === 'tools/call' && e.outcome !== 'intent');
      assert.ok(call);
      assert.equal(call.agent, 'agent-c');
      assert.equal(call.user, 'alice');
      assert.deepEqual(call.chain, ['agent-b', 'agent-a']);
      assert.equal(call.authMethod, 'gateway-token');
    });

    test('scope only narrows, per hop too (invalid_scope)', async () => {
      await refused(exchange(await user(), await cred('agent-a'), { scope: 'mcp:tools admin' }), 'invalid_scope', /admin/);
      // g3 holds only mcp:tools; C cannot widen it back when it exchanges again.
      await refused(exchange(g3, await cred('agent-c'), { scope: 'files:read' }), 'invalid_scope');
    });

    test('a chain deeper than maxDelegationDepth is refused', async () => {
      await refused(exchange(g3, await cred('agent-d')), 'unauthorized_client', /deeper|depth/i);
    });

    test('delegation the receiving agent does not allow is refused (delegatesFrom)', async () => {
      await refused(exchange(g1, await cred('agent-c')), 'unauthorized_client', /may not delegate/);
      await refused(exchange(g1, await cred('agent-unregistered')), 'unauthorized_client');
    });

    test('a loop A -> B -> A is refused', async () => {
      await refused(exchange(g2, await cred('agent-a')), 'unauthorized_client', /loop/);
    });

    test('a gateway token as the actor token is refused', async () => {
      await refused(exchange(g1, g2), 'invalid_grant', /actor/);
      await refused(exchange(await user(), g1), 'invalid_grant', /actor/);
    });

    test('the JWKS has no private members and verifies the issued token; RFC 8414 metadata names the token endpoint', async () => {
      const set = await jwks(origin);
      assert.ok(set.keys.length >= 1);
      for (const k of set.keys) {
        for (const m of PRIVATE_MEMBERS) assert.equal((k as Record<string, unknown>)[m], undefined, `JWKS key has private member ${m}`);
        assert.ok(k.kid);
      }
      const { payload, protectedHeader } = await jwtVerify(g3, createLocalJWKSet(set), { issuer: origin, audience: gw.publicUrl, typ: 'at+jwt' });
      assert.equal(payload.client_id, 'agent-c');
      assert.ok(set.keys.some((k) => k.kid === protectedHeader.kid));

      const res = await fetch(new URL('/.well-known/oauth-authorization-server', origin), { signal: AbortSignal.timeout(5000) });
      assert.equal(res.status, 200);
      const meta = (await res.json()) as Record<string, unknown>;
      assert.equal(meta.issuer, origin);
      assert.equal(meta.token_endpoint, `${origin}/oauth/token`);
      assert.equal(meta.jwks_uri, `${origin}/.well-known/jwks.json`);
      assert.ok((meta.grant_types_supported as string[]).includes('urn:ietf:params:oauth:grant-type:token-exchange'));
      const prm = (await (await fetch(new URL('/.well-known/oauth-protected-resource/mcp', origin), { signal: AbortSignal.timeout(5000) })).json()) as Record<string, unknown>;
      assert.ok((prm.authorization_servers as string[]).includes(origin), 'the gateway lists itself as an authorization server');
    });
  });

  test('lifetime: default 300 s, never beyond the subject, never beyond maxTtlSeconds', async () => {
    // Asking for longer than the subject has left.
    await refused(exchange(await user({ exp: nowSeconds() + 120 }), await cred('agent-a'), { expires_in: '200' }), 'invalid_request', /outlive/);
    // Above the configured maximum, even though the subject would allow it.
    await refused(exchange(await user({ exp: nowSeconds() + 3000 }), await cred('agent-a'), { expires_in: '601' }), 'invalid_request', /600/);
    await refused(exchange(await user(), await cred('agent-a'), { expires_in: '-5' }), 'invalid_request');
    // Without expires_in a short-lived subject caps the new token.
    const subjectExp = nowSeconds() + 100;
    const t = await issue(await user({ exp: subjectExp }), await cred('agent-a'));
    assert.ok(decodeJwt(t).exp! <= subjectExp);
    // Within both limits it is honoured.
    const t2 = await issue(await user({ exp: nowSeconds() + 3000 }), await cred('agent-a'), { expires_in: '500' });
    const c2 = decodeJwt(t2);
    assert.ok(c2.exp! - c2.iat! <= 500 && c2.exp! - c2.iat! >= 495);
  });

  test('a JWT-SVID is accepted as the actor token (the SPIFFE ID becomes the agent), and only once', async () => {
    const id = 'spiffe://example.org/agent/s1';
    const actor = await signWith(svidKey, { alg: 'ES256', kid: 'svid-1', typ: 'JWT' }, { sub: id, aud: gw.publicUrl });
    sent.push(actor);
    const c = decodeJwt(await issue(await user(), actor));
    assert.equal(c.client_id, id);
    assert.deepEqual(c.act, { sub: id });
    await refused(exchange(await user(), actor), 'invalid_grant', /already been used/);
  });

  test('a JWT-SVID without jti cannot be an actor token: single use needs an id (SPIRE: jwt_svid_include_jti)', async () => {
    const id = 'spiffe://example.org/agent/s2';
    const now = nowSeconds();
    const actor = await new SignJWT({ sub: id, aud: gw.publicUrl, iat: now, exp: now + 300 }).setProtectedHeader({ alg: 'ES256', kid: 'svid-1', typ: 'JWT' }).sign(svidKey);
    sent.push(actor);
    await refused(exchange(await user(), actor), 'invalid_grant', /jti/);
    // It is still a valid credential at /mcp (jti is optional in the JWT-SVID spec, section 7.1).
    const s = new BearerSession(gw.url, actor);
    await s.initialize();
    assert.ok((await s.toolNames()).length > 0);
    await quiet(rec);
  });

  test('a replayed actor token is refused (invalid_grant)', async () => {
    const actor = await cred('agent-a');
    await issue(await user(), actor);
    await refused(exchange(await user(), actor), 'invalid_grant', /already been used/);
  });

  test("a foreign token's nested act is informational: only its current actor counts (chain [] in the audit)", async () => {
    const forged = await user({ act: { sub: 'agent-x', act: { sub: 'agent-evil-1', act: { sub: 'agent-evil-2' } } } });
    // At /mcp directly.
    const auditBefore = await lastAuditId(gw);
    const direct = new BearerSession(gw.url, forged);
    await direct.initialize();
    assert.ok((await direct.toolNames()).length > 0);
    const init = (await auditAfter(gw, auditBefore)).find((e) => e.method === 'initialize');
    assert.equal(init?.agent, 'agent-x');
    assert.equal(init?.user, 'alice');
    assert.deepEqual(init?.chain, []);
    // And through the token service: the made-up prior actors do not enter the new chain.
    const before2 = await lastAuditId(gw);
    const t = await issue(forged, await cred('agent-x'));
    const c = decodeJwt(t);
    assert.deepEqual(c.act, { sub: 'agent-x' });
    assert.ok(!JSON.stringify(c).includes('agent-evil'));
    const ev = (await auditAfter(gw, before2)).find((e) => e.method === 'oauth/token');
    assert.deepEqual(ev?.chain, []);
    assert.equal(ev?.agent, 'agent-x');
    const before3 = await lastAuditId(gw);
    const s = new BearerSession(gw.url, t);
    await s.initialize();
    assert.ok((await s.toolNames()).length > 0);
    await quiet(rec);
    const init3 = (await auditAfter(gw, before3)).find((e) => e.method === 'initialize');
    assert.deepEqual(init3?.chain, []);
    assert.equal(init3?.authMethod, 'gateway-token');
  });

  test("a token with the gateway's iss signed by another key is refused, at /mcp and as a subject", async () => {
    const [key] = (await jwks(origin)).keys;
    const claims = { iss: origin, aud: gw.publicUrl, sub: 'alice', client_id: 'agent-c', scope: 'mcp:tools files:read', act: { sub: 'agent-c', act: { sub: 'agent-b' } } };
    const { privateKey } = await generateKeyPair('ES256');
    const forgedGw = await signWith(privateKey, { alg: 'ES256', kid: key!.kid!, typ: 'at+jwt' }, claims);
    // Signed by a key the gateway trusts for another issuer: still not a gateway token.
    const idpSigned = await signWith(idp.privateKey, { alg: 'ES256', kid: idp.kid, typ: 'at+jwt' }, claims);
    assert.equal(decodeJwt(idpSigned).iss, origin);
    sent.push(forgedGw, idpSigned);
    const upstreamBefore = recorded(rec).length;
    for (const [name, t] of [['signed by another key with the gateway kid', forgedGw], ['signed by the trusted IdP', idpSigned]] as const) {
      const r = await post(gw.url, initializeBody(), bearer(t));
      assert.equal(r.status, 401, `${name}: ${r.text}`);
      await refused(exchange(t, await cred('agent-d')), 'invalid_grant', /subject/);
    }
    assert.equal(recorded(rec).length, upstreamBefore);
  });

  test('cross-tenant delegation is refused', async () => {
    await refused(exchange(await user({ tenant: 'globex' }), await cred('agent-t1')), 'unauthorized_client', /tenant/);
    // Same tenant is fine, and the token carries it.
    const t = await issue(await user({ tenant: 'acme' }), await cred('agent-t1'));
    assert.equal(decodeJwt(t).tenant, 'acme');
  });

  test('a subject or actor token for another audience, expired or untrusted is refused (invalid_grant)', async () => {
    await refused(exchange(await user({ aud: 'https://elsewhere/mcp' }), await cred('agent-a')), 'invalid_grant', /subject/);
    await refused(exchange(await user(), await cred('agent-a', { aud: 'https://elsewhere/mcp' })), 'invalid_grant', /actor/);
    await refused(exchange(await user({ iat: nowSeconds() - 900, exp: nowSeconds() - 300 }), await cred('agent-a')), 'invalid_grant', /subject/);
    const stranger = await createTestIssuer(dir, 'https://stranger.test');
    await refused(exchange(await stranger.sign({ aud: gw.publicUrl, sub: 'alice' }), await cred('agent-a')), 'invalid_grant', /subject/);
  });

  test('missing or repeated parameters are invalid_request', async () => {
    const subject = await user();
    const actor = await cred('agent-a');
    const full = exchangeForm(subject, actor);
    for (const name of ['subject_token', 'subject_token_type', 'actor_token', 'actor_token_type']) {
      const form = { ...full };
      delete form[name];
      const r = await tokenRequest(origin, form);
      assert.equal(r.status, 400, name);
      assert.equal(r.body.error, 'invalid_request', `${name}: ${JSON.stringify(r.body)}`);
    }
    const body = new URLSearchParams(full);
    body.append('scope', 'mcp:tools');
    body.append('scope', 'files:read');
    const dup = await fetch(new URL('/oauth/token', origin), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: body.toString(), signal: AbortSignal.timeout(5000) });
    assert.equal(dup.status, 400);
    assert.equal(((await dup.json()) as { error: string }).error, 'invalid_request');
    const json = await fetch(new URL('/oauth/token', origin), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(full), signal: AbortSignal.timeout(5000) });
    assert.equal(json.status, 400);
    assert.equal(((await json.json()) as { error: string }).error, 'invalid_request');
    const unknownType = await tokenRequest(origin, { ...full, subject_token_type: 'urn:ietf:params:oauth:token-type:saml2' });
    assert.equal(unknownType.body.error, 'invalid_request');
  });

  test('a missing grant_type is invalid_request (RFC 6749 5.2), a wrong one unsupported_grant_type', async () => {
    const full = exchangeForm(await user(), await cred('agent-a'));
    const wrong = await tokenRequest(origin, { ...full, grant_type: 'client_credentials' });
    assert.equal(wrong.status, 400);
    assert.equal(wrong.body.error, 'unsupported_grant_type');
    const form: Record<string, string> = { ...full };
    delete form.grant_type;
    const missing = await tokenRequest(origin, form);
    assert.equal(missing.status, 400);
    assert.equal(missing.body.error, 'invalid_request', JSON.stringify(missing.body));
  });

  test('a resource or audience other than publicUrl is invalid_target', async () => {
    await refused(exchange(await user(), await cred('agent-a'), { resource: 'https://other.example/mcp' }), 'invalid_target');
    await refused(exchange(await user(), await cred('agent-a'), { audience: 'https://other.example/mcp' }), 'invalid_target');
    await issue(await user(), await cred('agent-a'), { resource: gw.publicUrl });
  });

  test('tokens in the query string of the token endpoint are refused', async () => {
    const subject = await user();
    const actor = await cred('agent-a');
    const { subject_token: _s, ...rest } = exchangeForm(subject, actor);
    const r = await tokenRequest(origin, rest, `/oauth/token?subject_token=${encodeURIComponent(subject)}`);
    assert.equal(r.status, 400);
    assert.equal(r.body.error, 'invalid_request');
    const r2 = await tokenRequest(origin, exchangeForm(subject, '', {}), `/oauth/token?actor_token=${encodeURIComponent(actor)}`);
    assert.equal(r2.status, 400);
    assert.equal(r2.body.error, 'invalid_request');
    // The actor token was not consumed by the refused requests.
    await issue(subject, actor);
  });

  test('failed and successful exchanges are audited with the OAuth error code, and no token text is stored or logged', async () => {
    const before = await lastAuditId(gw);
    await refused(exchange(await user(), await cred('agent-a'), { scope: 'root' }), 'invalid_scope');
    const ev = (await auditAfter(gw, before)).find((e) => e.method === 'oauth/token');
    assert.equal(ev?.outcome, 'error');
    assert.equal(ev?.errorCode, 'invalid_scope');
    for (const t of sent) await assertNoTrace(gw, t);
  });
});

describe('gateway signing keys rotate with overlap', () => {
  let dir: string;
  let idp: TestIssuer;
  let gw: AuthGateway;
  let origin: string;

  const mint = async (): Promise<string> => {
    const subject = await idp.sign({ aud: gw.publicUrl, sub: 'alice', client_id: 'app-web', scope: 'mcp:tools' });
    const actor = await idp.sign({ aud: gw.publicUrl, sub: 'agent-a', client_id: 'agent-a' });
    const r = await tokenRequest(origin, exchangeForm(subject, actor));
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return String(r.body.access_token);
  };
  const accepted = async (token: string) => (await post(gw.url, initializeBody(), bearer(token))).status;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'warden-rotation-'));
    idp = await createTestIssuer(dir);
    gw = await startAuthGateway({ rec: tsFixtureStdio('recording-upstream.ts') }, { auth: { issuers: [{ issuer: idp.issuer, jwksFile: idp.jwksFile }] }, tokenService: { keyRotationHours: 0.0003 } });
    origin = new URL(gw.publicUrl).origin;
  });

  after(async () => {
    await gw?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  let oldKid: string;
  let early: string;
  let lateOld: string;
  let fresh: string;

  test('old-key tokens keep verifying after rotation; new tokens carry the new kid; the JWKS lists both', async () => {
    early = await mint();
    lateOld = await mint();
    oldKid = decodeProtectedHeader(early).kid!;
    assert.equal(decodeProtectedHeader(lateOld).kid, oldKid);
    const [current] = await gw.store.keys.list(new Date().toISOString());
    assert.equal(current?.kid, oldKid);
    const retireAt = Date.parse(current!.retireAt);
    // The gateway loads its key set just before the old key retires...
    await sleep(Math.max(0, retireAt - Date.now() - 150));
    assert.equal(await accepted(early), 200);
    // ...and the next token, just after, is signed by a new key.
    await sleep(Math.max(0, retireAt - Date.now() + 50));
    fresh = await mint();
    const newKid = decodeProtectedHeader(fresh).kid!;
    assert.notEqual(newKid, oldKid, 'a new signing key after keyRotationHours');
    // The old key is still published and still verifies its unexpired tokens (lateOld was never cached).
    const set = await jwks(origin);
    const kids = set.keys.map((k) => k.kid);
    assert.ok(kids.includes(oldKid) && kids.includes(newKid), kids.join(', '));
    await jwtVerify(lateOld, createLocalJWKSet(set), { issuer: origin, audience: gw.publicUrl });
    await jwtVerify(fresh, createLocalJWKSet(set), { issuer: origin, audience: gw.publicUrl });
    assert.equal(await accepted(lateOld), 200);
  });

  test('a token signed by the new key is accepted at once (no blind spot after the verifier last loaded its keys)', async () => {
    assert.ok(fresh, 'depends on the previous test');
    const r = await post(gw.url, initializeBody(), bearer(fresh));
    assert.equal(r.status, 200, `the gateway refused a token it had just minted: ${r.text}`);
  });

  test('and, in any case, after the reload window', async () => {
    await sleep(1100);
    assert.equal(await accepted(fresh), 200);
  });
});
