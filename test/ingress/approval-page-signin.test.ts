/**
 * The approval page's sign-in on its own: the page alone on a bare HTTP server with stub services, against the
 * real OpenID provider (oidc-provider, test/helpers/oidc.ts) or a stub one that answers whatever ID token a test
 * chooses. A confidential client's secret, every ID token check, discovery that fails, Secure cookies behind an
 * https public URL, and the gateway's refusal to start without a page secret (or to serve the page without
 * approvers). The page on a running gateway (deciding, refusals, secrecy) is in approval-page.test.ts.
 */
import assert from 'node:assert/strict';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { ApprovalService } from '../../src/approvals/index.js';
import type { AuditRecorder } from '../../src/audit/index.js';
import { uuidv7 } from '../../src/core/ids.js';
import { ApprovalPage, LOGIN_COOKIE, SESSION_COOKIE } from '../../src/ingress/approval-page.js';
import type { ApprovalRecord } from '../../src/store/types.js';
import { silentLogger } from '../../src/telemetry/log.js';
import { ENV, PageBrowser, SECRET, startPageProvider, type PageProvider } from '../helpers/approval-page.js';
import { followLogin, PAGE_CLIENT, PAGE_CONFIDENTIAL_CLIENT, type TestOidcProvider } from '../helpers/oidc.js';
import { startTestGateway } from '../helpers/gateway.js';
import { readApprovalSecrets } from '../../src/approvals/notifier.js';
import { validateConfig } from '../../src/config/index.js';

let provider: PageProvider | undefined;
let op: TestOidcProvider;

before(async () => {
  provider = await startPageProvider();
  op = provider.op;
});

after(async () => {
  await provider?.close();
});

/** A browser on one bare page. */
class Browser extends PageBrowser {
  constructor(base: string) {
    super({ origin: () => base, issuer: () => op.issuer });
  }
}

/** The page alone on a bare HTTP server, with a fixed request and stub services: the sign-in's own paths. */
async function barePage(issuer: string, signIn: { clientId: string; claim?: string }, clientSecret?: string, clock?: () => number, scheme = 'http'): Promise<{ origin: string; record: ApprovalRecord; close(): Promise<void> }> {
  const now = Date.now();
  const r: ApprovalRecord = { id: uuidv7(now), digest: 'f'.repeat(64), agent: 'agent-x', user: null, tenant: null, chain: [], task: null, upstream: 'rec', tool: 'echo', arguments: null, reason: 'needs a human', policyIds: ['hold'], createdAt: new Date(now).toISOString(), expiresAt: new Date(now + 600_000).toISOString(), state: 'pending', decidedBy: null, decidedAt: null, decisionReason: null, consumedAt: null };
  let publicUrl = '';
  const page = new ApprovalPage(
    {
      // The sign-in is what is tested here: the service only shows a call.
      service: { shownCall: () => Promise.resolve({ shown: true, params: { name: 'echo', arguments: {} }, bytes: 31 }) } as unknown as ApprovalService,
      store: { get: (id: string) => Promise.resolve(id === r.id ? r : undefined) },
      audit: { record: () => Promise.resolve({}) } as unknown as AuditRecorder,
      log: silentLogger(),
      secret: SECRET,
      page: { secretEnv: ENV, sessionMinutes: 15, signIn: { issuer, clientId: signIn.clientId, claim: signIn.claim ?? 'sub', scope: 'openid' } },
      clientSecret,
      approvers: ['alice'],
      separationOfDuties: false,
      ...(clock ? { now: clock } : {}),
    },
    () => publicUrl,
  );
  const server: Server = createServer((req, res) => {
    if (!page.route((req.url ?? '/').split('?')[0]!, req, res)) res.writeHead(404).end();
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', () => done()));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  publicUrl = `${scheme}://${base.slice('http://'.length)}/mcp`;
  return { origin: base, record: r, close: () => new Promise<void>((done) => server.close(() => done())) };
}

describe('the sign-in on its own', () => {
  test('a confidential client signs in with its secret; a wrong secret or a missing claim is refused', async () => {
    const good = await barePage(op.issuer, { clientId: PAGE_CONFIDENTIAL_CLIENT.id }, PAGE_CONFIDENTIAL_CLIENT.secret);
    const bad = await barePage(op.issuer, { clientId: PAGE_CONFIDENTIAL_CLIENT.id }, 'not-the-client-secret');
    const noClaim = await barePage(op.issuer, { clientId: PAGE_CLIENT.id, claim: 'email' });
    try {
      const b = new Browser(good.origin);
      await b.signIn('alice', good.record.id);
      const { status, html } = await b.page(good.record.id);
      assert.equal(status, 200);
      assert.match(html, /Signed in as <strong>alice<\/strong>/);
      assert.match(html, /name="decision" value="approve"/);

      for (const [page, status, why] of [[bad, 502, /did not accept/], [noClaim, 403, /claim &quot;email&quot; is missing/]] as const) {
        const c = new Browser(page.origin);
        const start = await c.get(`/approvals/${page.record.id}`);
        const back = await followLogin(start.headers.get('location')!, 'alice', c.jar, (u) => u.pathname === '/approvals/callback');
        const res = await c.get(back.href);
        assert.equal(res.status, status);
        const text = await res.text();
        assert.match(text, why);
        assert.ok(!text.includes('not-the-client-secret') && !text.includes(back.searchParams.get('code')!));
        assert.equal(c.jar.get(SESSION_COOKIE), undefined);
      }
    } finally {
      await Promise.all([good.close(), bad.close(), noClaim.close()]);
    }
  });

  test('every ID token check fires: nonce, audience, azp, issuer, expiry, signing key; a session ends after sessionMinutes', async () => {
    // A provider whose token endpoint answers whatever ID token the test chooses.
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    const stranger = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
    let claims: (nonce: string) => Record<string, unknown> = () => ({});
    let key: CryptoKey = privateKey;
    let nonce = '';
    const stub = createServer((req, res) => {
      const issuer = `http://127.0.0.1:${(stub.address() as AddressInfo).port}`;
      const send = (body: unknown) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      if (req.url === '/.well-known/openid-configuration') return send({ issuer, authorization_endpoint: `${issuer}/auth`, token_endpoint: `${issuer}/token`, jwks_uri: `${issuer}/jwks` });
      if (req.url === '/jwks') return send({ keys: [jwk] });
      const c = { iss: issuer, aud: 'stub-client', sub: 'alice', nonce, iat: Math.floor(Date.now() / 1000), exp: Math.floor(Date.now() / 1000) + 300, ...claims(nonce) };
      void new SignJWT(c).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).sign(key).then((idToken) => send({ access_token: 'at', token_type: 'Bearer', id_token: idToken }));
    });
    await new Promise<void>((done) => stub.listen(0, '127.0.0.1', () => done()));
    let clock = Date.now();
    const page = await barePage(`http://127.0.0.1:${(stub.address() as AddressInfo).port}`, { clientId: 'stub-client' }, undefined, () => clock);
    const attempt = async (b = new Browser(page.origin)): Promise<Response> => {
      const start = new URL((await b.get(`/approvals/${page.record.id}`)).headers.get('location')!);
      nonce = start.searchParams.get('nonce')!;
      const res = await b.get(`/approvals/callback?state=${start.searchParams.get('state')}&code=c`);
      await res.arrayBuffer();
      return res;
    };
    try {
      const bad: Array<[string, (n: string) => Record<string, unknown>]> = [
        ['nonce', () => ({ nonce: 'another-nonce' })],
        ['no nonce', () => ({ nonce: undefined })],
        ['audience', () => ({ aud: 'another-client' })],
        ['azp', () => ({ aud: ['stub-client', 'another-client'] })],
        ['azp other', () => ({ azp: 'another-client' })],
        ['issuer', () => ({ iss: op.issuer })],
        ['expired', () => ({ exp: Math.floor(Date.now() / 1000) - 120 })],
      ];
      for (const [what, c] of bad) {
        claims = c;
        assert.equal((await attempt()).status, 403, what);
      }
      claims = () => ({});
      // A sign-in finished more than 10 minutes after it started.
      const slow = new Browser(page.origin);
      const started = new URL((await slow.get(`/approvals/${page.record.id}`)).headers.get('location')!);
      nonce = started.searchParams.get('nonce')!;
      clock += 11 * 60_000;
      const late = await slow.get(`/approvals/callback?state=${started.searchParams.get('state')}&code=c`);
      assert.equal(late.status, 400);
      assert.match(await late.text(), /within 10 minutes/);
      clock -= 11 * 60_000;
      key = stranger.privateKey;
      assert.equal((await attempt()).status, 403, 'a key the provider does not publish');
      key = privateKey;
      claims = () => ({ aud: ['stub-client', 'another-client'], azp: 'stub-client' });
      const b = new Browser(page.origin);
      assert.equal((await attempt(b)).status, 302, 'the stub provider signs in when every claim is right');
      assert.equal((await b.page(page.record.id)).status, 200);
      clock += 16 * 60_000;
      assert.equal((await b.page(page.record.id)).status, 302, 'the session ended after sessionMinutes');
    } finally {
      await page.close();
      await new Promise<void>((done) => stub.close(() => done()));
    }
  });

  test('discovery that fails (or names another issuer) is a 503 page and is tried again next time, then kept', async () => {
    let fetches = 0;
    const flaky = createServer((_req, res) => {
      fetches++;
      if (fetches === 1) return void res.writeHead(500).end();
      // Then a document for another issuer (OpenID Connect Discovery 4.3 refuses it), then the right one.
      const issuer = fetches === 2 ? op.issuer : `http://127.0.0.1:${(flaky.address() as AddressInfo).port}`;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ issuer, authorization_endpoint: `${op.issuer}/auth`, token_endpoint: `${op.issuer}/token`, jwks_uri: op.jwksUri }));
    });
    await new Promise<void>((done) => flaky.listen(0, '127.0.0.1', () => done()));
    const page = await barePage(`http://127.0.0.1:${(flaky.address() as AddressInfo).port}`, { clientId: PAGE_CLIENT.id });
    try {
      const b = new Browser(page.origin);
      for (let i = 0; i < 2; i++) {
        const down = await b.get(`/approvals/${page.record.id}`);
        assert.equal(down.status, 503);
        assert.match(await down.text(), /cannot be reached/);
      }
      for (let i = 0; i < 2; i++) {
        const up = await b.get(`/approvals/${page.record.id}`);
        assert.equal(up.status, 302);
        assert.ok(up.headers.get('location')!.startsWith(`${op.issuer}/auth?`));
        await up.arrayBuffer();
      }
      assert.equal(fetches, 3, 'fetched again after each failure, then cached');
    } finally {
      await page.close();
      await new Promise<void>((done) => flaky.close(() => done()));
    }
  });

  test('behind an https public URL the cookies are Secure and the callback is https', async () => {
    const page = await barePage(op.issuer, { clientId: PAGE_CLIENT.id }, undefined, undefined, 'https');
    try {
      const b = new Browser(page.origin);
      const res = await b.get(`/approvals/${page.record.id}`);
      assert.equal(res.status, 302);
      assert.equal(new URL(res.headers.get('location')!).searchParams.get('redirect_uri'), `https://${page.origin.slice('http://'.length)}/approvals/callback`);
      assert.match(b.setCookies.join('\n'), new RegExp(`^${LOGIN_COOKIE}=.*; HttpOnly; SameSite=Lax; Secure$`));
      await res.arrayBuffer();
    } finally {
      await page.close();
    }
  });

  test('the gateway refuses to start without a page secret of 32 bytes, naming the variable, never the value', () => {
    const approvals = validateConfig({ listen: '127.0.0.1:0', auth: { mode: 'none' }, mcpServers: {}, approvals: { approvers: ['alice'], page: { secretEnv: 'WARDEN_TEST_PAGE_SECRET', signIn: { issuer: op.issuer, clientId: PAGE_CLIENT.id, clientSecretEnv: 'WARDEN_TEST_PAGE_CLIENT' } } } }, 'test').approvals;
    assert.throws(() => readApprovalSecrets(approvals, {}), (err: Error) => /WARDEN_TEST_PAGE_SECRET.*not set/.test(err.message) && /WARDEN_TEST_PAGE_CLIENT.*not set/.test(err.message));
    assert.throws(() => readApprovalSecrets(approvals, { WARDEN_TEST_PAGE_SECRET: 'short-page-secret', WARDEN_TEST_PAGE_CLIENT: 'c' }), (err: Error) => /WARDEN_TEST_PAGE_SECRET must be at least 32 bytes/.test(err.message) && !err.message.includes('short-page-secret'));
    assert.deepEqual(readApprovalSecrets(approvals, { WARDEN_TEST_PAGE_SECRET: SECRET, WARDEN_TEST_PAGE_CLIENT: 'c' }), { page: SECRET, pageClientSecret: 'c' });
  });

  test('without approvers the page is not served, with a warning', async () => {
    const plain = await startTestGateway({}, { approvals: { page: { signIn: { issuer: op.issuer, clientId: PAGE_CLIENT.id } } } });
    try {
      const res = await fetch(`${new URL(plain.url).origin}/approvals/${uuidv7()}`, { redirect: 'manual' });
      assert.equal(res.status, 404);
      await res.arrayBuffer();
      assert.match(plain.logs(), /approval page is not served/);
    } finally {
      await plain.close();
    }
  });
});
