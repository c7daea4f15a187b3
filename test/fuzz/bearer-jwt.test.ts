/**
 * Fuzz: bearer tokens on their way to a Principal. The Authorization header parse, then the real
 * authenticator with a real issuer (its JWKS on disk): garbage tokens, hand-made JWTs of every shape, and
 * tokens validly signed by the trusted key whose claims hold any JSON at all. Each must end in a Principal
 * or an AuthError (401/403 with a description), in bounded time; nothing else may be thrown.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { SignJWT } from 'jose';
import { validateConfig, type OAuthAuthConfig } from '../../src/config/index.js';
import { extractBearer } from '../../src/identity/bearer.js';
import { AuthError, OAuthAuthenticator, type Principal } from '../../src/identity/index.js';
import { b64url, handMadeJwt } from '../helpers/auth.js';
import { createTestIssuer, type TestIssuer } from '../helpers/idp.js';
import { BOUND_MS, expectOnly, fuzzParams, within, withinAsync } from './fuzz.js';

const AUDIENCE = 'http://127.0.0.1:7400/mcp';
const TOKEN_CHARS = /^[A-Za-z0-9\-._~+/]+=*$/;

/** A Principal as the rest of the gateway relies on it. */
const wellFormed = (s: string) => (s as unknown as { isWellFormed(): boolean }).isWellFormed();

function assertPrincipal(p: Principal): void {
  assert.ok(typeof p.agent === 'string' && p.agent.length > 0 && wellFormed(p.agent), 'an agent, as text that stores as it is');
  assert.ok(p.user === null || (typeof p.user === 'string' && wellFormed(p.user)));
  assert.ok(p.tenant === null || (typeof p.tenant === 'string' && wellFormed(p.tenant)));
  for (const a of p.chain) assert.ok(wellFormed(a));
  assert.ok(Array.isArray(p.scopes) && p.scopes.every((s) => typeof s === 'string'));
  assert.ok(p.tokenId === null || typeof p.tokenId === 'string');
  assert.ok(p.expiresAt === null || typeof p.expiresAt === 'number');
}

function assertAuthError(e: unknown): void {
  expectOnly(e, AuthError);
  if (e instanceof AuthError) {
    assert.ok([400, 401, 403].includes(e.status), `status ${e.status}`);
    assert.ok(e.description.length > 0);
  }
}

/** Claim values of every JSON shape, and some that break naive code (a `toString` that is not a function). */
const anyClaim = fc.oneof(fc.jsonValue({ maxDepth: 4 }), fc.constantFrom({ toString: 1, valueOf: 1 }, 'a\ud800', '\udfff', ''), fc.string({ unit: 'binary', maxLength: 40 }));
const maybe = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });

describe('fuzz: bearer and JWT parsing', () => {
  let dir: string;
  let idp: TestIssuer;
  let auth: OAuthAuthenticator;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'warden-fuzz-jwt-'));
    idp = await createTestIssuer(dir);
    const config = validateConfig({ auth: { issuers: [{ issuer: idp.issuer, jwksFile: idp.jwksFile }] }, mcpServers: {} }, 'fuzz').auth as OAuthAuthConfig;
    auth = new OAuthAuthenticator({ config, audience: AUDIENCE, agents: { 'app-t': { tenant: 'acme', groups: [], delegatesFrom: [] } }, baseDir: dir });
  });

  after(() => rmSync(dir, { recursive: true, force: true }));

  test('the Authorization header: a token of token characters within the size, or an AuthError', () => {
    const header = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 200 }),
      fc.tuple(fc.constantFrom('Bearer ', 'bearer  ', 'Bearer', 'Basic ', 'Bearer\t', ' Bearer '), fc.string({ maxLength: 3000 })).map(([a, b]) => a + b),
      fc.tuple(fc.constantFrom('Bearer '), fc.stringMatching(/^[A-Za-z0-9._~+/-]{1,2000}={0,3}$/), fc.constantFrom('', ' ', '\n', ' x')).map(([a, b, c]) => a + b + c),
    );
    const url = fc.oneof(fc.constant(undefined), fc.constantFrom('/mcp', '/mcp?access_token=x', '/mcp?x=1&Token=2'), fc.string({ maxLength: 100 }));
    fc.assert(
      fc.property(header, url, fc.integer({ min: 512, max: 4096 }), (authorization, u, max) => {
        const { value, error } = within(BOUND_MS, () => extractBearer(authorization, u, max));
        assertAuthError(error);
        if (value !== undefined) assert.ok(TOKEN_CHARS.test(value) && value.length <= max, value);
      }),
      fuzzParams(1000),
    );
  });

  test('garbage and hand-made tokens: always an AuthError', async () => {
    const segment = fc.oneof(fc.base64String({ maxLength: 60 }).map((s) => s.replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_')), fc.string({ maxLength: 20 }), fc.jsonValue({ maxDepth: 3 }).map((v) => b64url(JSON.stringify(v))));
    const header = fc.record({ alg: fc.oneof(fc.constantFrom('none', 'HS256', 'ES256', 'RS256', 'EdDSA'), anyClaim), kid: maybe(fc.oneof(fc.constant('k'), anyClaim)), typ: maybe(fc.oneof(fc.constant('at+jwt'), anyClaim)), crit: maybe(anyClaim) });
    const payload = fc.record({ iss: maybe(fc.oneof(fc.constant('https://idp.test'), anyClaim)), sub: maybe(anyClaim), aud: maybe(fc.oneof(fc.constant(AUDIENCE), anyClaim)), exp: maybe(anyClaim) });
    const token = fc.oneof(
      fc.tuple(header, payload, segment).map(([h, p, s]) => handMadeJwt(h as Record<string, unknown>, p as Record<string, unknown>, String(s))),
      fc.array(segment, { maxLength: 6 }).map((parts) => parts.map(String).join('.')),
    );
    await fc.assert(
      fc.asyncProperty(token, async (t) => {
        const { value, error } = await withinAsync(BOUND_MS, () => auth.authenticate({ authorization: `Bearer ${t}` }));
        assert.equal(value, undefined, 'an unsigned or forged token is never accepted');
        assertAuthError(error);
      }),
      fuzzParams(400),
    );
  });

  test('tokens signed by the trusted key with any claims: a well-formed Principal or an AuthError', async () => {
    const now = Math.floor(Date.now() / 1000);
    const claims = fc.record({
      sub: fc.oneof(fc.constant('alice'), anyClaim),
      aud: fc.oneof(fc.constant(AUDIENCE), fc.constant([AUDIENCE, 'x']), anyClaim),
      exp: fc.oneof(fc.constant(now + 300), anyClaim),
      iat: maybe(fc.oneof(fc.constant(now), anyClaim)),
      nbf: maybe(anyClaim),
      client_id: maybe(fc.oneof(fc.constant('app-t'), anyClaim)),
      azp: maybe(anyClaim),
      act: maybe(fc.oneof(anyClaim, fc.constant({ sub: 'agent-x', act: { sub: 'agent-y' } }))),
      scope: maybe(anyClaim),
      scp: maybe(anyClaim),
      tenant: maybe(fc.oneof(fc.constant('acme'), anyClaim)),
      jti: maybe(anyClaim),
    });
    const typ = fc.constantFrom('at+jwt', 'JWT', 'application/at+jwt', 'id+jwt', undefined);
    await fc.assert(
      fc.asyncProperty(claims, typ, async (c, t) => {
        const body = Object.fromEntries(Object.entries(c).filter(([, v]) => v !== undefined));
        const token = await new SignJWT({ ...body, iss: idp.issuer }).setProtectedHeader({ alg: 'ES256', kid: idp.kid, ...(t ? { typ: t } : {}) }).sign(idp.privateKey);
        const { value, error } = await withinAsync(BOUND_MS, () => auth.authenticate({ authorization: `Bearer ${token}` }));
        assertAuthError(error);
        if (value) assertPrincipal(value);
      }),
      fuzzParams(400),
    );
  });
});
