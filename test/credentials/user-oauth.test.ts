/**
 * User OAuth (docs/user-oauth.md) rules that the browser test does not reach, each tried against:
 * - configs that cannot work are refused at start (SSE, a static Authorization next to it, no sign-in page);
 * - discovery refuses an upstream whose metadata names another resource, a server without PKCE S256 or whose
 *   metadata is for another issuer, and plain http beyond loopback;
 * - the Connections page: a disconnect without the session's CSRF token, from another origin or without a
 *   session is refused; a callback without a session is refused; a revoked user cannot start connecting;
 * - a refresh the server refuses (the grant was revoked behind the gateway's back) deletes the connection:
 *   the next call asks to connect again rather than using a stale token;
 * - self-service keys: a call without one gets the link; each person's key reaches the upstream for their
 *   calls only, is redacted from what the upstream sends back, is refused with another person's CSRF token,
 *   warns before its expiry, and is never in a store file in the clear.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { validateConfig } from '../../src/config/index.js';
import { effectiveShare } from '../../src/gateway/connections.js';
import { assertFetchable, discoverUpstream } from '../../src/credentials/user-oauth/upstream-client.js';
import { revoke } from '../../src/revocation/revoke.js';
import { startAuthGateway, type AuthGateway } from '../helpers/auth.js';
import { setEnv } from '../helpers/approvals.js';
import { CookieJar, followLogin, PAGE_CLIENT, startOidcProvider, type TestOidcProvider } from '../helpers/oidc.js';
import { startOAuthUpstream, type OAuthUpstream } from '../fixtures/oauth-upstream.js';
import { startHeaderReporter, type HeaderReporter } from '../fixtures/header-reporter.js';
import { auditAfter, bearer, LATEST, post } from '../helpers/auth.js';
import { readdirSync, readFileSync } from 'node:fs';

const ENV = 'WARDEN_APPROVAL_PAGE_SECRET';
const SECRET = 'connections-page-secret-for-unit-tests-0123456789';

describe('config', () => {
  const base = { auth: { mode: 'none' } };
  test('auth.oauth is refused on SSE, next to a static Authorization header, and clientSecret needs clientId', () => {
    const bad = [
      { url: 'https://x.example/sse', transport: 'sse', auth: { oauth: {} } },
      { url: 'https://x.example/mcp', headers: { authorization: 'Bearer shared' }, auth: { oauth: {} } },
      { url: 'https://x.example/mcp', auth: { oauth: { clientSecret: 'x/secret' } } },
    ];
    for (const server of bad) assert.throws(() => validateConfig({ ...base, mcpServers: { x: server } }, 'test'), /auth/, JSON.stringify(server));
    assert.doesNotThrow(() => validateConfig({ ...base, mcpServers: { x: { url: 'https://x.example/mcp', auth: { oauth: {} } } } }, 'test'));
  });

  test('an upstream with per-user credentials is never shared between users, whatever share says', () => {
    const cfg = validateConfig({ ...base, mcpServers: { o: { url: 'https://x.example/mcp', share: 'shared', auth: { oauth: {} } }, k: { url: 'https://y.example/mcp', share: 'shared', auth: { userKey: {} } } } }, 'test');
    assert.equal(effectiveShare(cfg.mcpServers.o!), 'per-user');
    assert.equal(effectiveShare(cfg.mcpServers.k!), 'per-user');
  });

  test('a gateway with an OAuth upstream but no approval page (the sign-in) does not start', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'warden-uo-'));
    try {
      const keyFile = join(dir, 'master.key');
      writeFileSync(keyFile, randomBytes(32).toString('base64'));
      await assert.rejects(startAuthGateway({ x: { url: 'http://127.0.0.1:9/mcp', auth: { oauth: {} } } }, { vault: { masterKeyFile: keyFile } }), /configure approvals\.page/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('discovery refuses what it must not trust', () => {
  let server: Server;
  let base = '';
  const docs = new Map<string, unknown>();
  before(async () => {
    server = createServer((req, res) => {
      const doc = docs.get((req.url ?? '').split('?')[0]!);
      if (doc === undefined) return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(doc));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  const asMetadata = (over: Record<string, unknown> = {}) => ({
    issuer: `${base}/as`,
    authorization_endpoint: `${base}/as/auth`,
    token_endpoint: `${base}/as/token`,
    response_types_supported: ['code'],
    code_challenge_methods_supported: ['S256'],
    ...over,
  });
  const discover = (path: string) => discoverUpstream('x', { url: `${base}${path}`, headers: {} }, { refreshBeforeSeconds: 60, clientId: 'preset' }, `${base}/cb`, undefined as never);

  test('a working setup is discovered (the preconfigured client is used)', async () => {
    docs.set('/.well-known/oauth-protected-resource/ok', { resource: `${base}/ok`, authorization_servers: [`${base}/as`] });
    docs.set('/.well-known/oauth-authorization-server/as', asMetadata());
    const o = await discover('/ok');
    assert.equal(o.resource, `${base}/ok`);
    assert.equal(o.client.client_id, 'preset');
  });

  test('metadata naming another resource', async () => {
    docs.set('/.well-known/oauth-protected-resource/other', { resource: `${base}/someone-else`, authorization_servers: [`${base}/as`] });
    await assert.rejects(discover('/other'), /another resource/);
  });

  test('a server without PKCE S256, or whose metadata is for another issuer', async () => {
    docs.set('/.well-known/oauth-protected-resource/plain', { resource: `${base}/plain`, authorization_servers: [`${base}/as-plain`] });
    docs.set('/.well-known/oauth-authorization-server/as-plain', asMetadata({ issuer: `${base}/as-plain`, code_challenge_methods_supported: ['plain'] }));
    await assert.rejects(discover('/plain'), /PKCE S256/);
    docs.set('/.well-known/oauth-protected-resource/mixup', { resource: `${base}/mixup`, authorization_servers: [`${base}/as-mixup`] });
    docs.set('/.well-known/oauth-authorization-server/as-mixup', asMetadata({ issuer: `${base}/as` }));
    await assert.rejects(discover('/mixup'), /another issuer/);
  });

  test('plain http is refused beyond loopback, and link-local (metadata) addresses always', () => {
    assert.throws(() => assertFetchable('http://as.example/token', 'x'), /https/);
    assert.throws(() => assertFetchable('http://192.168.1.10/token', 'x'), /https/);
    assert.throws(() => assertFetchable('https://169.254.169.254/latest/meta-data', 'x'), /link-local/);
    assert.throws(() => assertFetchable('https://[fe80::1]/token', 'x'), /link-local/);
    assert.doesNotThrow(() => assertFetchable('https://as.example/token', 'x'));
  });
});

describe('the Connections page refuses what does not come from the signed-in person', () => {
  let restoreEnv: () => void = () => {};
  let up: OAuthUpstream;
  let reporter: HeaderReporter;
  let op: TestOidcProvider;
  let gw: AuthGateway;
  let dir: string;
  let publicUrl = '';
  const at = (path: string) => new URL(path, publicUrl).href;

  before(async () => {
    restoreEnv = setEnv(ENV, SECRET);
    dir = mkdtempSync(join(tmpdir(), 'warden-uo-page-'));
    const keyFile = join(dir, 'master.key');
    writeFileSync(keyFile, randomBytes(32).toString('base64'));
    up = await startOAuthUpstream();
    reporter = await startHeaderReporter();
    op = await startOidcProvider(() => publicUrl);
    gw = await startAuthGateway(
      { who: { url: up.url, trustAnnotations: true, auth: { oauth: { refreshBeforeSeconds: 299 } } }, keys: { url: reporter.url, trustAnnotations: true, auth: { userKey: { remindDays: 7 } } } },
      { auth: { issuers: [{ issuer: op.issuer, jwksUri: op.jwksUri }] }, naming: { prefix: 'always' }, vault: { masterKeyFile: keyFile }, approvals: { page: { signIn: { issuer: op.issuer, clientId: PAGE_CLIENT.id } } } },
    );
    publicUrl = gw.publicUrl;
  });
  after(async () => {
    await gw?.close();
    await op?.close();
    await up?.close();
    await reporter?.close();
    rmSync(dir, { recursive: true, force: true });
    restoreEnv();
  });

  /** Signs `user` in to the gateway (the approval page's sign-in) in a fresh cookie jar. */
  async function signedIn(user: string): Promise<CookieJar> {
    const jar = new CookieJar();
    const first = await fetch(at('/approvals/connections'), { redirect: 'manual' });
    jar.store(first);
    const back = await followLogin(first.headers.get('location')!, user, jar, (u) => u.pathname === '/approvals/callback');
    const done = await fetch(back, { redirect: 'manual', headers: { cookie: jar.header() } });
    jar.store(done);
    assert.equal(done.status, 302);
    return jar;
  }

  const form = (jar: CookieJar, body: string, extra: Record<string, string> = {}) =>
    fetch(at('/approvals/connections/who/disconnect'), { method: 'POST', redirect: 'manual', headers: { cookie: jar.header(), 'content-type': 'application/x-www-form-urlencoded', ...extra }, body });

  test('disconnect: no session 401, no or a foreign CSRF token 403, another origin 403', async () => {
    const alice = await signedIn('alice');
    const page = await (await fetch(at('/approvals/connections'), { headers: { cookie: alice.header() } })).text();
    assert.match(page, /who<\/strong>: not connected/);
    assert.equal((await form(new CookieJar(), 'csrf=x')).status, 401);
    assert.equal((await form(alice, '')).status, 403);
    assert.equal((await form(alice, 'csrf=forged')).status, 403);
    assert.equal((await form(alice, 'csrf=x', { origin: 'https://evil.example' })).status, 403);
  });

  test('a callback without a gateway session, or with an unknown state, is refused', async () => {
    assert.equal((await fetch(at('/approvals/connections/callback?state=s&code=c'))).status, 401);
    const alice = await signedIn('alice');
    assert.equal((await fetch(at('/approvals/connections/callback?state=made-up&code=c'), { headers: { cookie: alice.header() } })).status, 400);
  });

  test('an unknown upstream is 404; a revoked user cannot start connecting', async () => {
    const mallory = await signedIn('mallory');
    assert.equal((await fetch(at('/approvals/connections/nope/connect'), { redirect: 'manual', headers: { cookie: mallory.header() } })).status, 404);
    const start = await fetch(at('/approvals/connections/who/connect'), { redirect: 'manual', headers: { cookie: mallory.header() } });
    assert.equal(start.status, 302, 'before revocation the flow starts');
    await revoke({ revocations: gw.store.revocations, tasks: gw.store.tasks, tokens: gw.store.tokens, endTask: (id, by) => gw.tasks.end(id, by, 'revoked') }, { kind: 'user', value: 'mallory', by: 'admin' });
    await gw.revocations.refresh();
    const refused = await fetch(at('/approvals/connections/who/connect'), { redirect: 'manual', headers: { cookie: mallory.header() } });
    assert.equal(refused.status, 403);
  });

  test('a refresh refused with invalid_grant deletes the connection; the next call asks to connect again', async () => {
    const dave = await signedIn('dave');
    const start = await fetch(at('/approvals/connections/who/connect'), { redirect: 'manual', headers: { cookie: dave.header() } });
    const back = await followLogin(start.headers.get('location')!, 'dave', dave, (u) => u.pathname === '/approvals/connections/callback');
    const done = await fetch(back, { headers: { cookie: dave.header() } });
    assert.equal(done.status, 200, await done.text());
    const token = await op.authorizationCode('dave');
    const call = async () => {
      const init = await post(gw.url, { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: LATEST, capabilities: {}, clientInfo: { name: 't', version: '0' } } }, bearer(token));
      const headers = { ...bearer(token), 'mcp-session-id': init.headers.get('mcp-session-id') ?? '', 'mcp-protocol-version': LATEST };
      await post(gw.url, { jsonrpc: '2.0', method: 'notifications/initialized' }, headers);
      return (await post(gw.url, { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'who__whoami', arguments: {} } }, headers)).messages.at(-1) ?? {};
    };
    assert.equal((await call()).result !== undefined, true, 'connected: the call runs');
    up.refuseRefresh = true;
    try {
      // Due for refresh 1 s after issue (refreshBeforeSeconds 299 of 300), past the 5 s in-memory cache.
      await new Promise((r) => setTimeout(r, 5500));
      const refused = (await call()).error as { code: number };
      assert.equal(refused?.code, -32013, 'asked to connect again');
    } finally {
      up.refuseRefresh = false;
    }
    assert.ok(!(await gw.store.secrets.list()).some((s) => s.name.startsWith('user-oauth/who/')), 'the connection is deleted');
    assert.ok((await auditAfter(gw)).some((e) => e.method === 'oauth/failure' && e.user === 'dave' && e.errorCode === 'refresh_refused'));
  });

  describe('self-service keys', () => {
    const ALICE_KEY = 'alice-personal-key-0123456789';
    const BOB_KEY = 'bob-personal-key-9876543210';

    async function call(user: string): Promise<{ text: string; message: Record<string, unknown> }> {
      const token = await op.authorizationCode(user);
      const init = await post(gw.url, { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: LATEST, capabilities: {}, clientInfo: { name: 't', version: '0' } } }, bearer(token));
      const headers = { ...bearer(token), 'mcp-session-id': init.headers.get('mcp-session-id') ?? '', 'mcp-protocol-version': LATEST };
      await post(gw.url, { jsonrpc: '2.0', method: 'notifications/initialized' }, headers);
      const r = await post(gw.url, { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'keys__report', arguments: {} } }, headers);
      return { text: r.text, message: r.messages.at(-1) ?? {} };
    }

    const csrfFor = (html: string, upstream: string) => new RegExp(`action="/approvals/connections/${upstream}/key"><input type="hidden" name="csrf" value="([^"]+)"`).exec(html)?.[1];
    const inDays = (d: number) => new Date(Date.now() + d * 86_400_000).toISOString().slice(0, 10);

    async function saveKey(jar: CookieJar, csrf: string, key: string, expires = ''): Promise<Response> {
      return fetch(at('/approvals/connections/keys/key'), {
        method: 'POST',
        headers: { cookie: jar.header(), 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ csrf, key, expires }).toString(),
      });
    }

    test('without a key the call gets the link; with one, each person\'s own key reaches the upstream, redacted on the way back', async () => {
      const before = await call('alice');
      const err = before.message.error as { code: number; data: { url: string } };
      assert.equal(err.code, -32013, before.text);
      assert.equal(err.data.url, at('/approvals/connections'));

      const alice = await signedIn('alice');
      const bob = await signedIn('bob');
      const alicePage = await (await fetch(at('/approvals/connections'), { headers: { cookie: alice.header() } })).text();
      const bobPage = await (await fetch(at('/approvals/connections'), { headers: { cookie: bob.header() } })).text();
      const aliceCsrf = csrfFor(alicePage, 'keys')!;
      const bobCsrf = csrfFor(bobPage, 'keys')!;
      assert.ok(aliceCsrf && bobCsrf);
      assert.equal((await saveKey(alice, bobCsrf, ALICE_KEY)).status, 403, 'bob\'s form token does not work with alice\'s session');
      assert.equal((await saveKey(alice, aliceCsrf, ALICE_KEY, '2001-01-01')).status, 400, 'an expiry in the past');
      assert.equal((await saveKey(alice, aliceCsrf, 'two\nlines')).status, 400, 'a header injection');
      assert.equal((await saveKey(alice, aliceCsrf, ALICE_KEY, inDays(3))).status, 200);
      assert.equal((await saveKey(bob, bobCsrf, BOB_KEY)).status, 200);

      const seen = () => reporter.requests.at(-1)?.headers.authorization;
      const a = await call('alice');
      assert.equal(seen(), `Bearer ${ALICE_KEY}`);
      assert.ok(!a.text.includes(ALICE_KEY) && a.text.includes('[redacted:key:keys]'), a.text);
      const b = await call('bob');
      assert.equal(seen(), `Bearer ${BOB_KEY}`);
      assert.ok(!b.text.includes(BOB_KEY), b.text);
      assert.equal(((await call('carol')).message.error as { code: number }).code, -32013, 'carol gets no one\'s key');

      const page = await (await fetch(at('/approvals/connections'), { headers: { cookie: alice.header() } })).text();
      assert.match(page, /expires soon/);
      const events = (await auditAfter(gw)).filter((e) => e.user === 'alice').map((e) => e.method);
      for (const m of ['userkey/set', 'userkey/use', 'userkey/expiring']) assert.ok(events.includes(m), `${m}: ${events.join(', ')}`);
      for (const f of readdirSync(gw.dir)) assert.ok(!readFileSync(join(gw.dir, f)).toString('latin1').includes(ALICE_KEY), `the key in the clear in ${f}`);
      assert.ok(!gw.logs().includes(ALICE_KEY) && !gw.logs().includes(BOB_KEY), 'a key in the log');

      const removed = await fetch(at('/approvals/connections/keys/disconnect'), { method: 'POST', headers: { cookie: alice.header(), 'content-type': 'application/x-www-form-urlencoded' }, body: `csrf=${encodeURIComponent(aliceCsrf)}` });
      assert.equal(removed.status, 200);
      assert.equal(((await call('alice')).message.error as { code: number }).code, -32013, 'removed: asked again');
    });
  });
});
