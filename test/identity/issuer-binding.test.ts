/**
 * An agent id belongs to one issuer. Two real issuers (A, B) with their own ES256 keys, a SPIFFE trust
 * domain, the token service, and a recording upstream: a token from B that names an agent registered
 * under A (in client_id, azp, sub, act.sub, or a nested act.sub), or a SPIFFE workload, is refused at /mcp
 * with a 401 that says why, is audited, and the upstream sees nothing; so is a token exchange whose actor
 * or subject does it. A token without `typ` is refused unless its issuer allows it. The legitimate paths
 * work, and the policy reads `principal.issuer` (also on gateway tokens, where it is the actor's issuer).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { exportJWK, generateKeyPair, type CryptoKey, type JWTPayload } from 'jose';
import { auditAfter, bearer, BearerSession, exchangeForm, initializeBody, lastAuditId, post, quiet, recorded, signWith, startAuthGateway, tokenRequest, type AuthGateway } from '../helpers/auth.js';
import { createTestIssuer, type TestIssuer } from '../helpers/idp.js';
import { tsFixtureStdio } from '../helpers/servers.js';

const POLICY = `
@id("agent-a") permit (principal == Agent::"agent-a", action, resource);
@id("workload") permit (principal == Agent::"spiffe://example.org/wl", action, resource);
// A delegated token's issuer is the actor's own: agent-c acts only on A's word.
@id("agent-c-from-a") permit (principal == Agent::"agent-c", action, resource) when { principal has issuer && principal.issuer == "https://idp-a.test" };
// Any agent of issuer B may list the tools, and call none.
@id("issuer-b-lists") permit (principal is Agent, action in [Action::"list", Action::"call_tool"], resource)
when { principal has issuer && principal.issuer == "https://idp-b.test" && (action == Action::"list" || context.listing) };
`;

describe('an agent id belongs to one issuer', () => {
  let dir: string;
  let idpA: TestIssuer;
  let idpB: TestIssuer;
  let svidKey: CryptoKey;
  let gw: AuthGateway;
  let origin: string;
  let rec: string;

  const tokenA = (claims: JWTPayload, header?: Record<string, unknown>) => idpA.sign({ aud: gw.publicUrl, ...claims }, header);
  const tokenB = (claims: JWTPayload, header?: Record<string, unknown>) => idpB.sign({ aud: gw.publicUrl, ...claims }, header);
  const svid = (sub: string) => signWith(svidKey, { alg: 'ES256', kid: 'svid-1', typ: 'JWT' }, { sub, aud: gw.publicUrl });
  const echoes = (text: string) => recorded(rec).filter((l) => l.includes('"tools/call"') && l.includes(text));

  /** Asserts `token` is refused at /mcp with 401 and `why`, the refusal is audited, and the upstream saw no call. */
  async function refusedAtMcp(token: string, why: RegExp): Promise<void> {
    const since = await lastAuditId(gw);
    const before = recorded(rec).length;
    const r = await post(gw.url, { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'echo', arguments: { message: 'impersonated' } } }, bearer(token));
    assert.equal(r.status, 401, r.text);
    assert.match(String(r.headers.get('www-authenticate')), /error="invalid_token"/);
    assert.match(r.text, why);
    const events = await auditAfter(gw, since);
    assert.ok(events.some((e) => e.outcome !== 'ok' && e.errorCode === 'unauthenticated'), JSON.stringify(events));
    await quiet(rec);
    assert.equal(recorded(rec).length, before, 'the upstream saw nothing');
  }

  const callEcho = async (token: string, message: string) => {
    const s = new BearerSession(gw.url, token);
    await s.initialize();
    return s.call('echo', { message });
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'warden-issuers-'));
    idpA = await createTestIssuer(dir, 'https://idp-a.test');
    idpB = await createTestIssuer(dir, 'https://idp-b.test');
    rec = join(dir, 'upstream.log');
    const pair = await generateKeyPair('ES256', { extractable: true });
    svidKey = pair.privateKey;
    const bundleFile = join(dir, 'bundle.json');
    writeFileSync(bundleFile, JSON.stringify({ keys: [{ ...(await exportJWK(pair.publicKey)), kid: 'svid-1', use: 'jwt-svid' }] }));
    const policy = join(dir, 'policy.cedar');
    writeFileSync(policy, POLICY);
    gw = await startAuthGateway(
      { rec: { ...tsFixtureStdio('recording-upstream.ts', [], { RECORD_FILE: rec }), trustAnnotations: true } },
      {
        auth: {
          issuers: [
            { issuer: idpA.issuer, jwksFile: idpA.jwksFile },
            { issuer: idpB.issuer, jwksFile: idpB.jwksFile, allowUntypedTokens: true },
          ],
          spiffe: { trustDomain: 'example.org', bundleFile },
        },
        policy: { files: [policy] },
        agents: {
          'agent-a': { issuer: idpA.issuer, tenant: 'acme' },
          'agent-b': { issuer: idpB.issuer },
          'agent-c': { issuer: idpA.issuer, delegatesFrom: ['agent-a'] },
          'spiffe://example.org/wl': { tenant: 'acme' },
          // A SPIFFE ID may be bound to an OAuth issuer instead: then no SVID can act as it.
          'spiffe://example.org/by-a': { issuer: idpA.issuer },
        },
      },
    );
    origin = new URL(gw.publicUrl).origin;
  });

  after(async () => {
    await gw?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('issuer B cannot become agent-a (registered under A) through client_id, azp, sub, act.sub or a nested act.sub', async () => {
    const cases: Array<[string, JWTPayload, RegExp]> = [
      ['client_id', { sub: 'agent-a', client_id: 'agent-a' }, /agent named in client_id is registered to another issuer/],
      ['azp', { sub: 'svc', azp: 'agent-a' }, /agent named in azp is registered to another issuer/],
      ['sub', { sub: 'agent-a' }, /agent named in sub is registered to another issuer/],
      ['sub as the user', { sub: 'agent-a', client_id: 'b-app' }, /agent named in sub is registered to another issuer/],
      ['act.sub', { sub: 'mallory', client_id: 'b-app', act: { sub: 'agent-a' } }, /agent named in act\.sub is registered to another issuer/],
      ['nested act.sub', { sub: 'mallory', client_id: 'b-app', act: { sub: 'b-bot', act: { sub: 'agent-a' } } }, /nested act\.sub is registered to another issuer/],
    ];
    for (const [, claims, why] of cases) await refusedAtMcp(await tokenB(claims), why);
  });

  test('issuer B cannot become a SPIFFE workload; an SVID cannot become an agent bound to an OAuth issuer', async () => {
    await refusedAtMcp(await tokenB({ sub: 'spiffe://example.org/wl', client_id: 'spiffe://example.org/wl' }), /client_id is registered to another issuer/);
    // Unregistered SPIFFE IDs belong to their trust domain too.
    await refusedAtMcp(await tokenB({ sub: 'svc', client_id: 'spiffe://example.org/anything' }), /client_id is registered to another issuer/);
    await refusedAtMcp(await svid('spiffe://example.org/by-a'), /agent named in sub is registered to another issuer/);
  });

  test('a token without typ is refused unless its issuer allows it (B does, A does not)', async () => {
    await refusedAtMcp(await tokenA({ sub: 'agent-a', client_id: 'agent-a' }, { typ: undefined }), /no typ header/);
    const s = new BearerSession(gw.url, await tokenB({ sub: 'agent-b', client_id: 'agent-b' }, { typ: undefined }));
    await s.initialize();
    assert.deepEqual(await s.toolNames(), ['echo', 'env'], 'an untyped token of B works, and B may list');
  });

  test('the legitimate paths: agent-a from A, the workload by SVID, and the policy reads principal.issuer', async () => {
    assert.equal(await callEcho(await tokenA({ sub: 'agent-a', client_id: 'agent-a' }), 'from-a'), 'from-a');
    assert.equal(echoes('from-a').length, 1);
    assert.equal(await callEcho(await svid('spiffe://example.org/wl'), 'from-workload'), 'from-workload');
    // Unregistered agents are any issuer's; the policy tells them apart by issuer: B's may list, A's may not.
    const fromB = new BearerSession(gw.url, await tokenB({ sub: 'b-bot', client_id: 'b-bot' }));
    await fromB.initialize();
    assert.deepEqual(await fromB.toolNames(), ['echo', 'env']);
    const fromA = new BearerSession(gw.url, await tokenA({ sub: 'a-bot', client_id: 'a-bot' }));
    await fromA.initialize();
    assert.deepEqual(await fromA.toolNames(), []);
  });

  test('token exchange: an actor or subject token naming another issuer\'s agent mints nothing; the real delegation works and carries the issuer', async () => {
    const exchange = (subject: string, actor: string) => tokenRequest(origin, exchangeForm(subject, actor));
    const since = await lastAuditId(gw);
    const user = () => tokenA({ sub: 'alice', client_id: 'app-web' });
    // B's token as agent-a's own credential (actor), and as agent-a delegating (subject, via act.sub or client_id).
    for (const [subject, actor, role] of [
      [await user(), await tokenB({ sub: 'agent-a', client_id: 'agent-a' }), 'actor'],
      [await tokenB({ sub: 'agent-a', client_id: 'agent-a' }), await tokenA({ sub: 'agent-c', client_id: 'agent-c' }), 'subject'],
      [await tokenB({ sub: 'mallory', client_id: 'b-app', act: { sub: 'agent-a' } }), await tokenA({ sub: 'agent-c', client_id: 'agent-c' }), 'subject'],
    ] as const) {
      const r = await exchange(subject, actor);
      assert.equal(r.status, 400, JSON.stringify(r.body));
      assert.equal(r.body.error, 'invalid_grant');
      assert.match(String(r.body.error_description), new RegExp(`The ${role} token is invalid: The agent named in .* is registered to another issuer`));
      assert.equal(r.body.access_token, undefined);
    }
    const events = (await auditAfter(gw, since)).filter((e) => e.method === 'oauth/token');
    assert.equal(events.length, 3);
    assert.ok(events.every((e) => e.outcome !== 'ok' && e.errorCode === 'invalid_grant'), JSON.stringify(events));

    // agent-a (A) delegates to agent-c (A): the gateway token's principal is agent-c, vouched for by A, which
    // the policy requires; the call reaches the upstream.
    const ok = await exchange(await tokenA({ sub: 'agent-a', client_id: 'agent-a' }), await tokenA({ sub: 'agent-c', client_id: 'agent-c' }));
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(await callEcho(String(ok.body.access_token), 'delegated-to-c'), 'delegated-to-c');
    assert.equal(echoes('delegated-to-c').length, 1);
  });

  test('an unauthenticated initialize with a B token naming agent-a gets no session', async () => {
    const r = await post(gw.url, initializeBody(), bearer(await tokenB({ sub: 'agent-a', client_id: 'agent-a' })));
    assert.equal(r.status, 401);
    assert.equal(r.headers.get('mcp-session-id'), null);
  });
});
