/**
 * Delegated user access to an OAuth-protected upstream, end to end (docs/user-oauth.md). A real
 * authorization server (oidc-provider) in front of a real MCP server (the official SDK's, introspecting every
 * token for audience and scope), the gateway as each user's OAuth client, and each person connecting in a real
 * browser (Chromium via playwright-core) after signing in to the gateway at a second real OpenID provider.
 *
 * Attacks: a call by a user who has not connected (gets the link, never another user's or a shared token);
 * a forged callback carrying another user's state and code; a token value anywhere in a response, log, audit
 * row or the store file. And the lifecycle: expiry -> refresh (rotated), disconnect and `warden revoke user`
 * -> revoked at the server (introspection says inactive) and deleted (the next call asks to connect again).
 *
 * Needs /usr/bin/chromium; without it the test skips with a message, except under CI, where it fails.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { revoke } from '../../src/revocation/revoke.js';
import { auditAfter, bearer, LATEST, post, startAuthGateway, type AuthGateway } from '../helpers/auth.js';
import { setEnv } from '../helpers/approvals.js';
import { PAGE_CLIENT, startOidcProvider, type TestOidcProvider } from '../helpers/oidc.js';
import { startOAuthUpstream, type OAuthUpstream } from '../fixtures/oauth-upstream.js';

const CHROMIUM = '/usr/bin/chromium';
const ENV = 'WARDEN_APPROVAL_PAGE_SECRET';
const SECRET = 'connections-page-secret-for-browser-tests-0123456789';
const TOOL = 'who__whoami';
const MODERN = '2026-07-28';

if (!existsSync(CHROMIUM) && !process.env.CI) {
  test('user OAuth in a real browser', { skip: `${CHROMIUM} is not installed (apt-get install chromium): the browser test is skipped` }, () => {});
} else {
  let restoreEnv: () => void = () => {};
  const dir = mkdtempSync(join(tmpdir(), 'warden-user-oauth-'));
  let up: OAuthUpstream;
  let op: TestOidcProvider;
  let gw: AuthGateway;
  let browser: Browser;
  const contexts = new Map<string, { context: BrowserContext; page: Page }>();
  const agentTokens = new Map<string, string>();
  /** Every answer the gateway gave an agent, to look for tokens in. */
  const answers: string[] = [];
  let publicUrl = '';

  before(async () => {
    restoreEnv = setEnv(ENV, SECRET);
    up = await startOAuthUpstream();
    // Short-lived upstream tokens, refreshed when less than 15 s is left: due 5 s after each is issued.
    up.setAccessTokenTtl(20);
    op = await startOidcProvider(() => publicUrl);
    const keyFile = join(dir, 'master.key');
    writeFileSync(keyFile, randomBytes(32).toString('base64'), { mode: 0o600 });
    gw = await startAuthGateway(
      // `share: shared` is the operator's mistake the gateway must not honour: each user's token still gets its own connection.
      { who: { url: up.url, trustAnnotations: true, share: 'shared', auth: { oauth: { refreshBeforeSeconds: 15 } } } },
      {
        auth: { issuers: [{ issuer: op.issuer, jwksUri: op.jwksUri }] },
        naming: { prefix: 'always' },
        vault: { masterKeyFile: keyFile },
        approvals: { page: { signIn: { issuer: op.issuer, clientId: PAGE_CLIENT.id } } },
        log: { level: 'debug' },
      },
    );
    publicUrl = gw.publicUrl;
    for (const user of ['alice', 'bob', 'carol']) agentTokens.set(user, await op.authorizationCode(user));
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });

  after(async () => {
    await browser?.close();
    await gw?.close();
    await op?.close();
    await up?.close();
    rmSync(dir, { recursive: true, force: true });
    restoreEnv();
  });

  /** Each person's own browser profile: cookies are never shared between them. */
  async function browserOf(user: string): Promise<Page> {
    let c = contexts.get(user);
    if (c === undefined) {
      const context = await browser.newContext();
      c = { context, page: await context.newPage() };
      contexts.set(user, c);
    }
    return c.page;
  }

  /** Logs in and consents at whichever provider the browser is on (the gateway's sign-in, then the upstream's server). */
  async function throughProviders(page: Page, user: string): Promise<void> {
    const providers = new Set([op.issuer, up.issuer]);
    for (let i = 0; i < 8 && providers.has(new URL(page.url()).origin); i++) {
      if ((await page.locator('input[name="login"]').count()) > 0) {
        await page.fill('input[name="login"]', user);
        await page.fill('input[name="password"]', 'any');
      }
      // The login and consent pages may share a URL: wait for the navigation the click causes.
      await Promise.all([page.waitForNavigation(), page.click('button[type="submit"]')]);
    }
  }

  async function connect(user: string): Promise<string> {
    const page = await browserOf(user);
    await page.goto(new URL('/approvals/connections/who/connect', publicUrl).href);
    await throughProviders(page, user);
    return (await page.textContent('body')) ?? '';
  }

  /** An agent's MCP session for `user` (2025-11-25), declaring URL elicitation or not. */
  async function session(user: string, urlElicitation: boolean) {
    const token = agentTokens.get(user)!;
    const init = await post(gw.url, { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: LATEST, capabilities: urlElicitation ? { elicitation: { url: {} } } : {}, clientInfo: { name: 'oauth-test', version: '0' } } }, bearer(token));
    assert.equal(init.status, 200, init.text);
    const headers = { ...bearer(token), 'mcp-session-id': init.headers.get('mcp-session-id') ?? '', 'mcp-protocol-version': LATEST };
    await post(gw.url, { jsonrpc: '2.0', method: 'notifications/initialized' }, headers);
    let id = 1;
    return async (name = TOOL): Promise<Record<string, unknown>> => {
      const r = await post(gw.url, { jsonrpc: '2.0', id: id++, method: 'tools/call', params: { name, arguments: {} } }, headers);
      answers.push(r.text);
      return r.messages.at(-1) ?? {};
    };
  }

  const textOf = (m: Record<string, unknown>) => ((m.result as { content?: { text: string }[] } | undefined)?.content?.[0]?.text ?? JSON.stringify(m));

  test('a user who has not connected gets the link (URL elicitation, or -32013), never anyone else\'s credential', async () => {
    const eliciting = await (await session('carol', true))();
    const err = eliciting.error as { code: number; data: { elicitations: { mode: string; url: string }[]; reason: string } };
    assert.equal(err.code, -32042, JSON.stringify(eliciting));
    assert.equal(err.data.elicitations[0]?.mode, 'url');
    assert.equal(err.data.elicitations[0]?.url, new URL('/approvals/connections/who/connect', publicUrl).href);
    const plain = (await (await session('carol', false))()).error as { code: number; message: string; data: { url: string } };
    assert.equal(plain.code, -32013);
    assert.match(plain.message, /approvals\/connections\/who\/connect/);
    assert.equal(up.calls.length, 0, 'nothing reached the upstream');
  });

  test('alice and bob each connect in Chromium; each call reaches the upstream as its own user; carol still gets the link', async () => {
    assert.match(await connect('alice'), /connected to who/);
    const alice = await session('alice', false);
    assert.equal(textOf(await alice()), 'you are alice');
    const bobBefore = (await (await session('bob', true))()).error as { code: number };
    assert.equal(bobBefore.code, -32042, 'bob has not connected: alice\'s connection is not his');
    assert.match(await connect('bob'), /connected to who/);
    const bob = await session('bob', false);
    assert.equal(textOf(await bob()), 'you are bob');
    assert.equal(textOf(await alice()), 'you are alice');
    assert.equal(((await (await session('carol', false))()).error as { code: number }).code, -32013);
    assert.deepEqual([...new Set(up.calls)].sort(), ['alice', 'bob']);
    const page = await browserOf('alice');
    await page.goto(new URL('/approvals/connections', publicUrl).href);
    assert.match((await page.textContent('body')) ?? '', /who: connected/);
    // An upstream that sends the token back: what reaches the agent has it redacted.
    const leaked = textOf(await alice('who__leak'));
    assert.match(leaked, /^token=\[redacted:oauth:who\]$/, leaked);
  });

  test('a 2026-07-28 request of a user who has not connected gets the link in an input-required result, or -32013', async () => {
    const modern = (caps: Record<string, unknown>) =>
      post(
        gw.url,
        {
          jsonrpc: '2.0',
          id: 1,
          method: 'tools/call',
          params: { name: TOOL, arguments: {}, _meta: { 'io.modelcontextprotocol/protocolVersion': MODERN, 'io.modelcontextprotocol/clientInfo': { name: 'oauth-test', version: '0' }, 'io.modelcontextprotocol/clientCapabilities': caps } },
        },
        { ...bearer(agentTokens.get('carol')!), 'mcp-protocol-version': MODERN, 'mcp-method': 'tools/call', 'mcp-name': TOOL },
      );
    const asked = await modern({ elicitation: { url: {} } });
    answers.push(asked.text);
    const result = asked.messages[0]?.result as { resultType: string; inputRequests: { connect: { params: { mode: string; url: string } } } };
    assert.equal(result?.resultType, 'input_required', asked.text);
    assert.equal(result.inputRequests.connect.params.url, new URL('/approvals/connections/who/connect', publicUrl).href);
    const plain = await modern({});
    answers.push(plain.text);
    assert.equal((plain.messages[0]?.error as { code: number }).code, -32013, plain.text);
    // Stateless requests of a connected user run with that user's token.
    const alice = await post(
      gw.url,
      { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: TOOL, arguments: {}, _meta: { 'io.modelcontextprotocol/protocolVersion': MODERN, 'io.modelcontextprotocol/clientInfo': { name: 'oauth-test', version: '0' }, 'io.modelcontextprotocol/clientCapabilities': {} } } },
      { ...bearer(agentTokens.get('alice')!), 'mcp-protocol-version': MODERN, 'mcp-method': 'tools/call', 'mcp-name': TOOL },
    );
    answers.push(alice.text);
    assert.equal(textOf(alice.messages[0] ?? {}), 'you are alice');
  });

  test('a forged callback with alice\'s state and code is refused for bob, and still works for alice', async () => {
    const alicePage = await browserOf('alice');
    // Alice's browser (her cookies at the gateway and at the server) starts a connection; the redirects are
    // followed by hand so her callback URL, with her code and state, is held instead of being opened.
    const request = contexts.get('alice')!.context.request;
    let next = new URL('/approvals/connections/who/connect', publicUrl).href;
    let captured: string | undefined;
    for (let i = 0; i < 8 && captured === undefined; i++) {
      const r = await request.get(next, { maxRedirects: 0 });
      const location = r.headers().location;
      assert.ok(location, `a redirect from ${next}: ${r.status()}`);
      next = new URL(location, next).href;
      if (next.includes('/approvals/connections/callback?')) captured = next;
    }
    assert.ok(captured, 'alice\'s callback URL was captured');
    const bobPage = await browserOf('bob');
    const res = await bobPage.goto(captured);
    assert.equal(res?.status(), 403);
    assert.match((await bobPage.textContent('body')) ?? '', /started by someone else/);
    const bob = await session('bob', false);
    assert.equal(textOf(await bob()), 'you are bob', 'bob still acts as bob');
    const ok = await alicePage.goto(captured);
    assert.equal(ok?.status(), 200, 'the flow stays alice\'s');
    const failures = (await auditAfter(gw)).filter((e) => e.method === 'oauth/failure' && e.errorCode === 'state_of_another_user');
    assert.equal(failures.length, 1);
    assert.equal(failures[0]?.user, 'bob');
  });

  test('expiry -> refresh: the token is refreshed (rotated) before it runs out, and the call still runs as alice', async () => {
    const alice = await session('alice', false);
    assert.equal(textOf(await alice()), 'you are alice');
    const before = { refresh: up.counts.refresh, tokens: up.tokensOf.get('alice')?.size ?? 0 };
    // Past the refresh point (5 s after issue) and the in-memory cache (5 s).
    await new Promise((r) => setTimeout(r, 6500));
    assert.equal(textOf(await alice()), 'you are alice');
    assert.ok(up.counts.refresh > before.refresh, 'a refresh grant ran');
    assert.ok((up.tokensOf.get('alice')?.size ?? 0) > before.tokens, 'a new access token reached the upstream');
    assert.ok((await auditAfter(gw)).some((e) => e.method === 'oauth/refresh' && e.user === 'alice' && e.outcome === 'ok'));
  });

  test('disconnect on the page: revoked at the server and deleted; the next call asks to connect again', async () => {
    const page = await browserOf('alice');
    await page.goto(new URL('/approvals/connections', publicUrl).href);
    const revocations = up.counts.revocations;
    await Promise.all([page.waitForLoadState(), page.click('button[type="submit"]')]);
    assert.match((await page.textContent('body')) ?? '', /revoked and deleted/);
    assert.ok(up.counts.revocations > revocations, 'the revocation endpoint was called');
    for (const t of up.tokensOf.get('alice') ?? []) assert.equal(await up.active(t), false, 'alice\'s tokens are inactive at the server');
    const again = (await (await session('alice', false))()).error as { code: number };
    assert.equal(again.code, -32013);
    assert.equal(textOf(await (await session('bob', false))()), 'you are bob', 'bob is untouched');
  });

  test('`warden revoke user bob`: his upstream tokens are revoked at the server and deleted', async () => {
    await revoke({ revocations: gw.store.revocations, tasks: gw.store.tasks, tokens: gw.store.tokens, endTask: (id, by) => gw.tasks.end(id, by, 'revoked') }, { kind: 'user', value: 'bob', by: 'admin' });
    const bobTokens = [...(up.tokensOf.get('bob') ?? [])];
    let gone = false;
    for (let i = 0; i < 100 && !gone; i++) {
      await new Promise((r) => setTimeout(r, 100));
      gone = !(await gw.store.secrets.list()).some((s) => s.name.startsWith('user-oauth/who/'));
    }
    assert.ok(gone, 'no user tokens are stored any more');
    for (const t of bobTokens) assert.equal(await up.active(t), false);
    assert.ok((await auditAfter(gw)).some((e) => e.method === 'oauth/revoke' && e.user === 'bob'));
  });

  test('no token value in any response, log line, audit row or store file; audit trace --user shows the steps', async () => {
    const tokens = [...up.seenTokens, ...up.refreshTokens];
    assert.ok(tokens.length >= 4, `tokens to look for: ${tokens.length}`);
    const audit = JSON.stringify(await auditAfter(gw));
    const logs = gw.logs();
    const files = readdirSync(gw.dir).map((f) => readFileSync(join(gw.dir, f)).toString('latin1'));
    const pages = answers.join('\n');
    for (const t of tokens) {
      assert.ok(!pages.includes(t), 'a token in an answer to an agent');
      assert.ok(!logs.includes(t), 'a token in the log');
      assert.ok(!audit.includes(t), 'a token in the audit log');
      for (const f of files) assert.ok(!f.includes(t), 'a token in a store file');
    }
    const kinds = new Set((await auditAfter(gw)).filter((e) => e.user === 'alice' && e.method.startsWith('oauth/')).map((e) => e.method));
    for (const k of ['oauth/connect', 'oauth/use', 'oauth/refresh', 'oauth/revoke']) assert.ok(kinds.has(k), `${k} for alice: ${[...kinds].join(', ')}`);
    // Her calls name the connection they used (by id, never by value), as calls name their leases.
    const calls = (await auditAfter(gw)).filter((e) => e.user === 'alice' && e.method === 'tools/call' && e.outcome === 'ok');
    assert.ok(calls.length > 0 && calls.every((e) => e.leaseIds?.some((id) => id.startsWith('oauth:who:'))), JSON.stringify(calls.map((e) => e.leaseIds)));
  });
}
