/**
 * The enterprise variant of user OAuth (docs/user-oauth.md#enterprise-id-jag): an identity provider that
 * issues ID-JAGs (fixture: token exchange verifying the gateway-signed subject token against the gateway's
 * published keys) and an authorization server that takes them (RFC 7523 grant; fixture, as oidc-provider does
 * not offer it) in front of the SDK-built resource server. Each user's call reaches the upstream as that user
 * with no browser step; a user the identity provider refuses gets -32014 and nothing reaches the upstream.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { auditAfter, bearer, LATEST, post, startAuthGateway, type AuthGateway } from '../helpers/auth.js';
import { setEnv } from '../helpers/approvals.js';
import { PAGE_CLIENT, startOidcProvider, type TestOidcProvider } from '../helpers/oidc.js';
import { seedVault } from '../helpers/vault.js';
import { ENTERPRISE_CLIENT, startOAuthUpstream, type OAuthUpstream } from '../fixtures/oauth-upstream.js';
import { startIdJagIdp, type IdJagIdp } from '../fixtures/id-jag-idp.js';

let restore: Array<() => void> = [];
let up: OAuthUpstream;
let op: TestOidcProvider;
let idp: IdJagIdp;
let gw: AuthGateway;
let dir: string;
let publicUrl = '';

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'warden-idjag-'));
  up = await startOAuthUpstream();
  op = await startOidcProvider(() => publicUrl);
  idp = await startIdJagIdp({ gatewayIssuer: () => new URL(publicUrl).origin, gatewayJwks: () => new URL('/.well-known/jwks.json', publicUrl).href, upstreamClientId: ENTERPRISE_CLIENT.id });
  up.trustIdp(idp.url, idp.jwks);
  restore = [setEnv('WARDEN_APPROVAL_PAGE_SECRET', 'idjag-page-secret-for-tests-0123456789abcdef'), setEnv('WARDEN_IDJAG_SECRET', idp.clientSecret)];
  const seeded = await seedVault(dir, { 'who/enterprise-secret': ENTERPRISE_CLIENT.secret });
  gw = await startAuthGateway(
    {
      who: {
        url: up.url,
        trustAnnotations: true,
        auth: { oauth: { clientId: ENTERPRISE_CLIENT.id, clientSecret: 'who/enterprise-secret', idJag: { tokenUrl: idp.tokenUrl, clientId: idp.clientId, clientSecretEnv: 'WARDEN_IDJAG_SECRET', audience: idp.url } } },
      },
    },
    {
      auth: { issuers: [{ issuer: op.issuer, jwksUri: op.jwksUri }] },
      naming: { prefix: 'always' },
      store: seeded.store,
      vault: { masterKeyFile: seeded.keyFile },
      approvals: { page: { signIn: { issuer: op.issuer, clientId: PAGE_CLIENT.id } } },
    },
  );
  publicUrl = gw.publicUrl;
});

after(async () => {
  await gw?.close();
  await idp?.close();
  await op?.close();
  await up?.close();
  rmSync(dir, { recursive: true, force: true });
  restore.forEach((r) => r());
});

async function whoami(user: string): Promise<Record<string, unknown>> {
  const token = await op.authorizationCode(user);
  const init = await post(gw.url, { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: LATEST, capabilities: {}, clientInfo: { name: 't', version: '0' } } }, bearer(token));
  const headers = { ...bearer(token), 'mcp-session-id': init.headers.get('mcp-session-id') ?? '', 'mcp-protocol-version': LATEST };
  await post(gw.url, { jsonrpc: '2.0', method: 'notifications/initialized' }, headers);
  return (await post(gw.url, { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'who__whoami', arguments: {} } }, headers)).messages.at(-1) ?? {};
}
const text = (m: Record<string, unknown>) => (m.result as { content?: { text: string }[] } | undefined)?.content?.[0]?.text ?? JSON.stringify(m);

test('each user reaches the upstream as themselves through ID-JAG, with no browser step', async () => {
  assert.equal(text(await whoami('alice')), 'you are alice');
  assert.equal(text(await whoami('bob')), 'you are bob');
  assert.deepEqual(idp.issued, ['alice', 'bob']);
  assert.deepEqual(up.calls, ['alice', 'bob']);
  assert.notDeepEqual(up.tokensOf.get('alice'), up.tokensOf.get('bob'));
  assert.ok((await auditAfter(gw)).some((e) => e.method === 'oauth/connect' && e.user === 'alice'));
  assert.equal(text(await whoami('alice')), 'you are alice', 'the stored token is reused');
  assert.deepEqual(idp.issued, ['alice', 'bob']);
});

test('a user the identity provider refuses gets -32014; nothing reaches the upstream as them', async () => {
  idp.denied.add('mallory');
  const refused = (await whoami('mallory')).error as { code: number; message: string };
  assert.equal(refused.code, -32014, JSON.stringify(refused));
  assert.match(refused.message, /access_denied/);
  assert.ok(!up.calls.includes('mallory'));
  assert.ok((await auditAfter(gw)).some((e) => e.method === 'oauth/failure' && e.user === 'mallory' && e.errorCode === 'id_jag_exchange'));
});
