/**
 * Every bad bearer token of issue 3 against a real gateway: each is refused with the right status and an
 * RFC 6750 / RFC 9728 challenge, is audited without the token text (audit rows, store files and logs are
 * searched), and reaches no upstream. The upstream is a fixture that records every JSON-RPC line it
 * receives; each bad token is tried on a fresh initialize and on a tools/call carrying a live session id.
 */
import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { generateKeyPair, type JWTPayload } from 'jose';
import {
  assertNoTrace,
  auditAfter,
  b64url,
  BearerSession,
  handMadeJwt,
  initializeBody,
  lastAuditId,
  nowSeconds,
  parseChallenge,
  post,
  quiet,
  recorded,
  signWith,
  startAuthGateway,
  type AuthGateway,
} from '../helpers/auth.js';
import { createTestIssuer, type TestIssuer } from '../helpers/idp.js';
import { tsFixtureStdio } from '../helpers/servers.js';

interface BadCase {
  name: string;
  /** The token to send (undefined: no Authorization header). */
  token?: () => Promise<string>;
  /** A raw Authorization header value instead of `Bearer <token>`. */
  rawHeader?: () => Promise<string>;
  /** Put the token in the query string under this name instead of the header. */
  query?: string;
  status: 400 | 401 | 403;
  error?: 'invalid_token' | 'invalid_request' | 'insufficient_scope';
}

describe('bearer tokens at /mcp: every bad token is refused, audited without its text, and reaches no upstream', () => {
  let dir: string;
  let idp: TestIssuer;
  let evil: TestIssuer;
  let gw: AuthGateway;
  let rec: string;
  let owner: BearerSession;
  let echoTool: string;
  let metadata: string;

  /** A token the gateway should accept; `claims` override. */
  const good = (claims: JWTPayload = {}, header: Record<string, unknown> = {}) =>
    idp.sign({ aud: gw.publicUrl, sub: 'alice', client_id: 'app-1', scope: 'mcp:tools files:read', ...claims }, header);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'warden-tokens-'));
    idp = await createTestIssuer(dir);
    evil = await createTestIssuer(dir, 'https://evil.test');
    rec = join(dir, 'upstream.log');
    gw = await startAuthGateway(
      { rec: tsFixtureStdio('recording-upstream.ts', [], { RECORD_FILE: rec }) },
      {
        auth: { issuers: [{ issuer: idp.issuer, jwksFile: idp.jwksFile }], requiredScopes: ['mcp:tools'], maxTokenBytes: 4096 },
        agents: { 'agent-t1': { tenant: 'acme' } },
      },
    );
    metadata = `http://127.0.0.1:${gw.port}/.well-known/oauth-protected-resource/mcp`;
    owner = new BearerSession(gw.url, await good());
    await owner.initialize();
    echoTool = (await owner.toolNames()).find((n) => n.endsWith('echo'))!;
    assert.ok(echoTool, 'the echo tool is listed');
    assert.equal(await owner.call(echoTool, { message: 'warm' }), 'warm');
    await quiet(rec);
  });

  after(async () => {
    await gw?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a valid token is served (200) and audited with its principal', async () => {
    const token = await good();
    const before = await lastAuditId(gw);
    const s = new BearerSession(gw.url, token);
    await s.initialize();
    assert.equal(await s.call(echoTool, { message: 'hello' }), 'hello');
    const call = (await auditAfter(gw, before)).find((e) => e.method === 'tools/call' && e.outcome !== 'intent');
    assert.ok(call, 'the call is audited');
    assert.equal(call.outcome, 'ok');
    assert.equal(call.agent, 'app-1');
    assert.equal(call.user, 'alice');
    assert.equal(call.authMethod, 'oauth-jwt');
    assert.deepEqual(call.chain, []);
    await assertNoTrace(gw, token);
    await quiet(rec);
  });

  test('protected-resource metadata (RFC 9728) at the root and the path-suffixed URL', async () => {
    for (const path of ['/.well-known/oauth-protected-resource', '/.well-known/oauth-protected-resource/mcp']) {
      const res = await fetch(new URL(path, gw.url), { signal: AbortSignal.timeout(5000) });
      assert.equal(res.status, 200, path);
      const doc = (await res.json()) as Record<string, unknown>;
      assert.equal(doc.resource, gw.publicUrl);
      assert.ok((doc.authorization_servers as string[]).includes(idp.issuer));
      assert.deepEqual(doc.bearer_methods_supported, ['header']);
    }
  });

  const now = nowSeconds;
  const cases: BadCase[] = [
    {
      name: 'forged signature (another key, the trusted kid)',
      token: async () => {
        const { privateKey } = await generateKeyPair('ES256');
        return signWith(privateKey, { alg: 'ES256', kid: idp.kid, typ: 'at+jwt' }, { iss: idp.issuer, aud: gw.publicUrl, sub: 'alice', client_id: 'app-1', scope: 'mcp:tools' });
      },
      status: 401,
      error: 'invalid_token',
    },
    { name: 'unknown kid', token: () => good({}, { kid: 'no-such-kid' }), status: 401, error: 'invalid_token' },
    { name: 'expired', token: () => good({ iat: now() - 900, exp: now() - 300 }), status: 401, error: 'invalid_token' },
    { name: 'not yet valid (nbf)', token: () => good({ nbf: now() + 600, exp: now() + 900 }), status: 401, error: 'invalid_token' },
    { name: 'iat in the future beyond the skew', token: () => good({ iat: now() + 600, exp: now() + 900 }), status: 401, error: 'invalid_token' },
    { name: 'wrong audience', token: () => good({ aud: 'https://other.example/mcp' }), status: 401, error: 'invalid_token' },
    { name: 'audience of another port of this host', token: () => good({ aud: `http://127.0.0.1:${gw.port + 1}/mcp` }), status: 401, error: 'invalid_token' },
    { name: 'no audience', token: () => good({ aud: undefined }), status: 401, error: 'invalid_token' },
    { name: 'wrong issuer (untrusted iss, its own key)', token: () => evil.sign({ aud: gw.publicUrl, sub: 'alice', client_id: 'app-1', scope: 'mcp:tools' }), status: 401, error: 'invalid_token' },
    {
      name: 'alg none',
      token: async () => handMadeJwt({ alg: 'none', typ: 'at+jwt', kid: idp.kid }, { iss: idp.issuer, aud: gw.publicUrl, sub: 'alice', client_id: 'app-1', scope: 'mcp:tools', iat: now(), exp: now() + 300, jti: 'none-1' }),
      status: 401,
      error: 'invalid_token',
    },
    {
      name: 'alg none with a signature part',
      token: async () => handMadeJwt({ alg: 'none' }, { iss: idp.issuer, aud: gw.publicUrl, sub: 'alice', client_id: 'app-1', scope: 'mcp:tools', iat: now(), exp: now() + 300 }, b64url('sig')),
      status: 401,
      error: 'invalid_token',
    },
    {
      name: 'HS256 with the issuer public key (PEM) as the HMAC secret',
      token: async () => {
        const jwk = (JSON.parse(readFileSync(idp.jwksFile, 'utf8')) as { keys: Array<Record<string, unknown>> }).keys[0]!;
        const pem = createPublicKey({ key: jwk as never, format: 'jwk' }).export({ type: 'spki', format: 'pem' }) as string;
        return signWith(new TextEncoder().encode(pem), { alg: 'HS256', kid: idp.kid, typ: 'at+jwt' }, { iss: idp.issuer, aud: gw.publicUrl, sub: 'alice', client_id: 'app-1', scope: 'mcp:tools' });
      },
      status: 401,
      error: 'invalid_token',
    },
    {
      name: 'HS256 with the issuer public JWK (JSON) as the HMAC secret',
      token: async () => {
        const text = JSON.stringify((JSON.parse(readFileSync(idp.jwksFile, 'utf8')) as { keys: unknown[] }).keys[0]);
        return signWith(new TextEncoder().encode(text), { alg: 'HS256', kid: idp.kid }, { iss: idp.issuer, aud: gw.publicUrl, sub: 'alice', client_id: 'app-1', scope: 'mcp:tools' });
      },
      status: 401,
      error: 'invalid_token',
    },
    { name: 'malformed: one part', token: async () => `notajwt${'q'.repeat(24)}`, status: 401, error: 'invalid_token' },
    { name: 'malformed: two parts', token: async () => `${b64url({ alg: 'ES256' })}.${b64url({ sub: 'alice-two-parts-xyz' })}`, status: 401, error: 'invalid_token' },
    { name: 'malformed: four parts', token: async () => `${await good()}.${'A'.repeat(20)}`, status: 401, error: 'invalid_token' },
    { name: 'malformed: bad base64', token: async () => `${'a'}.${'b'.repeat(21)}.${'c'.repeat(30)}`, status: 401, error: 'invalid_token' },
    { name: 'malformed: bad JSON header', token: async () => `${b64url('{"alg":"ES256",')}.${b64url({ sub: 'alice-bad-json-header' })}.${'c'.repeat(30)}`, status: 401, error: 'invalid_token' },
    { name: 'malformed: bad JSON payload', token: async () => `${b64url({ alg: 'ES256', kid: idp.kid })}.${b64url('{"sub": alice-not-json}')}.${'c'.repeat(30)}`, status: 401, error: 'invalid_token' },
    { name: 'malformed: not Bearer syntax', rawHeader: async () => `Bearer ${await good()} trailing-junk-xyz`, status: 401, error: 'invalid_token' },
    { name: 'malformed: Basic scheme', rawHeader: async () => `Basic ${b64url('alice:password-basic-xyz')}`, status: 401, error: 'invalid_token' },
    { name: 'oversized (> maxTokenBytes), validly signed', token: () => good({ pad: 'x'.repeat(5000) }), status: 401, error: 'invalid_token' },
    { name: 'token in the query string (?access_token=)', token: () => good(), query: 'access_token', status: 400, error: 'invalid_request' },
    { name: 'token in the query string (?token=)', token: () => good(), query: 'token', status: 400, error: 'invalid_request' },
    { name: 'missing token', status: 401 },
    { name: 'typ dpop+jwt', token: () => good({}, { typ: 'dpop+jwt' }), status: 401, error: 'invalid_token' },
    { name: 'an ID-token-like JWT (typ JWT, audience the client)', token: () => good({ aud: 'app-1' }, { typ: 'JWT' }), status: 401, error: 'invalid_token' },
    { name: 'valid token without the required scope', token: () => good({ scope: 'files:read' }), status: 403, error: 'insufficient_scope' },
    { name: 'valid token with no scope at all', token: () => good({ scope: undefined }), status: 403, error: 'insufficient_scope' },
    { name: "tenant claim contradicting the agent's registered tenant", token: () => good({ client_id: 'agent-t1', sub: 'alice', tenant: 'globex' }), status: 401, error: 'invalid_token' },
  ];

  for (const c of cases) {
    test(c.name, async () => {
      const token = c.token ? await c.token() : undefined;
      const headers: Record<string, string> = {};
      let url = gw.url;
      if (c.rawHeader) headers.authorization = await c.rawHeader();
      else if (token !== undefined && c.query) url = `${gw.url}?${c.query}=${encodeURIComponent(token)}`;
      else if (token !== undefined) headers.authorization = `Bearer ${token}`;

      // Twice: a fresh initialize, and a tools/call that carries the owner's live session id.
      const attempts = [
        { body: initializeBody(), headers },
        { body: { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: echoTool, arguments: { message: 'should-never-arrive' } } }, headers: { ...headers, 'mcp-session-id': owner.sessionId, 'mcp-protocol-version': '2025-11-25' } },
      ];
      const challenges: Array<string | null> = [];
      for (const attempt of attempts) {
        const upstreamBefore = recorded(rec).length;
        const auditBefore = await lastAuditId(gw);
        const r = await post(url, attempt.body, attempt.headers);

        assert.equal(r.status, c.status, `${c.name}: ${r.text}`);
        assert.equal(r.headers.get('mcp-session-id'), null, 'no session is opened');
        if (token) assert.ok(!r.text.includes(token) && !(r.headers.get('www-authenticate') ?? '').includes(token), 'the answer does not echo the token');

        const events = await auditAfter(gw, auditBefore);
        const expectedCode = c.status === 403 ? 'insufficient_scope' : 'unauthenticated';
        assert.ok(
          events.some((e) => e.errorCode === expectedCode && e.outcome !== 'ok'),
          `an audit event with errorCode ${expectedCode}: ${JSON.stringify(events)}`,
        );
        assert.ok(!events.some((e) => e.outcome === 'ok'), 'nothing succeeded');

        const lines = recorded(rec);
        assert.equal(lines.length, upstreamBefore, `the upstream saw nothing, got: ${lines.slice(upstreamBefore).join('\n')}`);
        challenges.push(r.headers.get('www-authenticate'));
      }
      if (token) {
        await assertNoTrace(gw, token);
        for (const piece of [token, ...token.split('.').filter((p) => p.length >= 16)]) {
          assert.ok(!readFileSync(rec, 'utf8').includes(piece), 'no token text ever reached the upstream');
        }
      }
      // Last, so a missing challenge does not hide the checks above. RFC 6750 3.1 lists invalid_request among
      // the challenge's error codes: a client that misplaced its token is told where the metadata is too.
      for (const value of challenges) {
        const ch = parseChallenge(value);
        assert.equal(ch.resource_metadata, metadata);
        assert.equal(ch.scope, 'mcp:tools', 'the challenge names the scope needed');
        if (c.error) assert.equal(ch.error, c.error);
        else assert.equal(ch.error, undefined, 'no error attribute when no credential was sent (RFC 6750 3.1)');
      }
    });
  }

  test('the owner session still works after all of that', async () => {
    assert.equal(await owner.call(echoTool, { message: 'still here' }), 'still here');
    assert.ok(!recorded(rec).some((l) => l.includes('should-never-arrive')), 'no refused call was forwarded');
  });

  test('a token whose tenant agrees with the registration is accepted and audited with that tenant', async () => {
    const token = await good({ client_id: 'agent-t1', sub: 'alice', tenant: 'acme' });
    const before = await lastAuditId(gw);
    const s = new BearerSession(gw.url, token);
    await s.initialize();
    const events = await auditAfter(gw, before);
    const init = events.find((e) => e.method === 'initialize');
    assert.equal(init?.tenant, 'acme');
    assert.equal(init?.agent, 'agent-t1');
    const noClaim = new BearerSession(gw.url, await good({ client_id: 'agent-t1', sub: 'bob' }));
    const before2 = await lastAuditId(gw);
    await noClaim.initialize();
    assert.equal((await auditAfter(gw, before2)).find((e) => e.method === 'initialize')?.tenant, 'acme', 'the registered tenant fills a missing claim');
  });
});
