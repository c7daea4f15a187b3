/**
 * In-protocol approval, end to end with a real browser (Debian's Chromium driven by playwright-core): an
 * agent's destructive call is held and its client (the official SDK, declaring URL elicitation) is asked to
 * open the approval page; a person opens that link in Chromium, signs in at a real OpenID provider
 * (oidc-provider: login and consent pages), sees the request and clicks Approve; the call completes once
 * and the prompt is completed. A 2026-07-28 request gets the link in an input-required result; the same
 * browser denies it, and the retry with the requestState is refused without reaching the upstream.
 *
 * Needs /usr/bin/chromium (`apt-get install chromium`; .ci/run installs it). Without it the test skips
 * with a message, except under CI, where it fails.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ElicitationCompleteNotificationSchema, ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startAuthGateway, type AuthGateway } from '../helpers/auth.js';
import { rawPost, type RawResponse } from '../helpers/mcp-http.js';
import { PAGE_CLIENT, startOidcProvider, type TestOidcProvider } from '../helpers/oidc.js';
import { tsFixtureStdio } from '../helpers/servers.js';
import { recordedCalls, setEnv } from '../helpers/approvals.js';

const CHROMIUM = '/usr/bin/chromium';
const POLICY = fileURLToPath(new URL('../fixtures/policies/approvals.cedar', import.meta.url));
const ENV = 'WARDEN_APPROVAL_PAGE_SECRET';
const SECRET = 'approval-page-secret-for-browser-tests-0123456789';
const MODERN = '2026-07-28';

if (!existsSync(CHROMIUM) && !process.env.CI) {
  test('approval prompt in a real browser', { skip: `${CHROMIUM} is not installed (apt-get install chromium): the browser test is skipped` }, () => {});
} else {
  let restoreEnv: () => void = () => {};
  const dir = mkdtempSync(join(tmpdir(), 'warden-browser-'));
  const record = join(dir, 'upstream.log');
  let op: TestOidcProvider;
  let gw: AuthGateway;
  let browser: Browser;
  let page: Page;

  before(async () => {
    restoreEnv = setEnv(ENV, SECRET);
    op = await startOidcProvider('https://unused.example/mcp');
    gw = await startAuthGateway(
      // Annotations are not trusted, so `echo` counts as destructive; unset environment counts as prod.
      { rec: tsFixtureStdio('recording-upstream.ts', [], { RECORD_FILE: record }) },
      {
        policy: { files: [POLICY] },
        approvals: { approvers: ['bob'], holdSeconds: 60, prompt: 'url', page: { signIn: { issuer: op.issuer, clientId: PAGE_CLIENT.id } } },
        log: { level: 'error' },
      },
    );
    // The flags this machine's Chromium needs: no sandbox as root, and no background connections to a closed network.
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = await browser.newPage();
  });

  after(async () => {
    await browser?.close();
    await gw?.close();
    await op?.close();
    rmSync(dir, { recursive: true, force: true });
    restoreEnv();
  });

  const calls = (message: string) => recordedCalls(record, message);
  const until = async <T>(get: () => T | undefined, what: string): Promise<T> => {
    for (let i = 0; i < 800; i++) {
      const v = get();
      if (v !== undefined) return v;
      await new Promise((r) => setTimeout(r, 25));
    }
    return assert.fail(`timed out waiting for ${what}`);
  };

  /** Signs in at the provider's login and consent pages if the browser is sent there, then lands on the approval page. */
  async function openAsBob(url: string): Promise<void> {
    await page.goto(url);
    if (new URL(page.url()).origin === op.issuer) {
      await page.fill('input[name="login"]', 'bob');
      await page.fill('input[name="password"]', 'any');
      await Promise.all([page.waitForLoadState(), page.click('button[type="submit"]')]);
      // The consent page (a first sign-in with this client).
      if (new URL(page.url()).origin === op.issuer) await Promise.all([page.waitForURL((u) => u.origin !== op.issuer), page.click('button[type="submit"]')]);
    }
    assert.equal(page.url(), url, 'back on the approval page after signing in');
  }

  test('the client is asked to open the approval page; bob signs in in Chromium and approves; the call runs once', async () => {
    const client = new Client({ name: 'browser-test', version: '0' }, { capabilities: { elicitation: { url: {} } } });
    let link: string | undefined;
    const completed: string[] = [];
    let elicitationId = '';
    client.setRequestHandler(ElicitRequestSchema, (req) => {
      const p = req.params as { url: string; elicitationId: string };
      link = p.url;
      elicitationId = p.elicitationId;
      return { action: 'accept' };
    });
    client.setNotificationHandler(ElicitationCompleteNotificationSchema, (n) => void completed.push(n.params.elicitationId));
    await client.connect(new StreamableHTTPClientTransport(new URL(gw.url)));
    try {
      // What an agent might hide from a quick look, and markup that must stay text.
      const hidden = { note: `${'x'.repeat(300)}BROWSER-TAIL`, password: 'browser-password-value', html: '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>' };
      const held = client.callTool({ name: 'echo', arguments: { message: 'browser-approve-1', ...hidden } }, undefined, { timeout: 60_000 });
      const url = await until(() => link, 'the approval prompt');
      assert.equal(new URL(url).origin, new URL(gw.publicUrl).origin, 'the link is on the gateway');

      await openAsBob(url);
      const body = await page.textContent('body');
      assert.match(body ?? '', /echo/, 'the page shows the tool');
      assert.match(body ?? '', /browser-approve-1/, 'and the arguments');
      // The whole call: past 256 characters and under a credential-like key too, its size, and markup as text.
      const shown = (await page.textContent('pre.call')) ?? '';
      assert.ok(shown.includes('BROWSER-TAIL') && shown.includes('browser-password-value'), shown);
      assert.ok(shown.includes('<script>window.__pwned=2</script>'), 'the markup is shown as text');
      assert.match(body ?? '', /complete: [0-9,]+ bytes as JSON/);
      assert.equal(await page.evaluate('window.__pwned'), undefined, 'nothing in the call ran');
      assert.equal(await page.evaluate('document.querySelectorAll("main img, main script").length'), 0);
      assert.match(body ?? '', /bob/, 'and who is signed in');
      // WARDEN_TEST_SCREENSHOTS=DIR keeps a picture of the page to look at.
      if (process.env.WARDEN_TEST_SCREENSHOTS) await page.screenshot({ path: join(process.env.WARDEN_TEST_SCREENSHOTS, 'approval-page.png'), fullPage: true });
      assert.equal(calls('browser-approve-1').length, 0, 'nothing ran before the click');

      await page.fill('textarea[name="reason"], input[name="reason"]', 'change 77');
      await Promise.all([page.waitForLoadState(), page.click('button[value="approve"]')]);
      assert.match((await page.textContent('body')) ?? '', /approved/i);

      const result = (await held) as { content: { text: string }[] };
      assert.equal(result.content[0]?.text, 'browser-approve-1');
      assert.equal(calls('browser-approve-1').length, 1, 'the upstream saw exactly one call');
      await until(() => (completed.length > 0 ? true : undefined), 'notifications/elicitation/complete');
      assert.deepEqual(completed, [elicitationId]);
      const r = (await gw.store.approvals.list({ state: 'consumed' })).find((a) => a.tool === 'echo');
      assert.equal(r?.decidedBy, 'bob');
      assert.equal(r?.decisionReason, 'change 77');
    } finally {
      await client.close();
    }
  });

  test('a 2026-07-28 call gets the link in an input-required result; bob denies it in the browser; the retry is refused', async () => {
    let id = 1;
    const call = (extra: Record<string, unknown> = {}): Promise<RawResponse> =>
      rawPost(
        gw.url,
        {
          jsonrpc: '2.0',
          id: id++,
          method: 'tools/call',
          params: {
            name: 'echo',
            arguments: { message: 'browser-deny-2' },
            ...extra,
            _meta: { 'io.modelcontextprotocol/protocolVersion': MODERN, 'io.modelcontextprotocol/clientInfo': { name: 'browser-test', version: '0' }, 'io.modelcontextprotocol/clientCapabilities': { elicitation: { url: {} } } },
          },
        },
        { 'mcp-protocol-version': MODERN, 'mcp-method': 'tools/call', 'mcp-name': 'echo' },
      );
    const first = (await call()).messages[0]?.result as { resultType: string; inputRequests: { approval: { params: { url: string } } }; requestState: string };
    assert.equal(first.resultType, 'input_required');
    await openAsBob(first.inputRequests.approval.params.url); // still signed in: no login page this time
    await Promise.all([page.waitForLoadState(), page.click('button[value="deny"]')]);
    assert.match((await page.textContent('body')) ?? '', /denied/i);
    const retry = (await call({ requestState: first.requestState, inputResponses: { approval: { action: 'accept' } } })).messages[0];
    assert.equal((retry?.error as { data: { reason: string } }).data.reason, 'approval_denied', JSON.stringify(retry));
    assert.equal(calls('browser-deny-2').length, 0, 'a denied call never reaches the upstream');
  });
}
