/**
 * Attacks on the governance console, against a real gateway and a real OpenID provider: cross-site request
 * forgery (no token, another session's token), a foreign Origin and a cross-site fetch, a role the person
 * does not have, session fixation (a planted cookie is replaced at sign-in and never accepted), a cookie of
 * the approval page keyed by the same secret, tampered cookies, open redirects after sign-in, clickjacking
 * headers on every answer, a secret value on the Secrets page, and XSS through every field an agent
 * controls (tool names, arguments, agent, user, tenant, chain, task, purpose, reasons, the signed-in
 * person's own claim), checked in Chromium: nothing runs, nothing is parsed as markup.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { chromium, type Browser } from 'playwright-core';
import type { AuditEvent } from '../../src/audit/index.js';
import { CONSOLE_SESSION_COOKIE, consoleNext } from '../../src/console/index.js';
import { uuidv7 } from '../../src/core/ids.js';
import { seal, deriveKey } from '../../src/web/page-cookies.js';
import { startAuthGateway, type AuthGateway } from '../helpers/auth.js';
import { setEnv } from '../helpers/approvals.js';
import { CHROMIUM, CHROMIUM_ARGS, CONSOLE_SECRET, CONSOLE_SECRET_ENV, consoleConfig, csrfOf, openAs, postForm, signInWithFetch } from '../helpers/console.js';
import { CookieJar, PAGE_CLIENT, startOidcProvider, type TestOidcProvider } from '../helpers/oidc.js';
import { tsFixtureStdio } from '../helpers/servers.js';
import { seedVault } from '../helpers/vault.js';

const POLICY = fileURLToPath(new URL('../fixtures/policies/approvals.cedar', import.meta.url));
const SECRET_VALUE = 'sk-console-secret-value-7f3a9b';
/** Markup an agent might put anywhere it can; `__pwned` is set if any of it runs. */
const XSS = `<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>"'><svg onload="window.__pwned=3">`;
const XSS_ID = 'xss-task-<b>bold</b>';

const dir = mkdtempSync(join(tmpdir(), 'warden-console-attacks-'));
const restore: Array<() => void> = [];
let op: TestOidcProvider;
let gw: AuthGateway;
let origin = '';
let carol: CookieJar;
let viewer: CookieJar;

before(async () => {
  restore.push(setEnv(CONSOLE_SECRET_ENV, CONSOLE_SECRET), setEnv('WARDEN_APPROVAL_PAGE_SECRET', CONSOLE_SECRET));
  op = await startOidcProvider('https://unused.example/mcp');
  const seeded = await seedVault(dir, { 'api-token': SECRET_VALUE });
  gw = await startAuthGateway(
    { rec: tsFixtureStdio('recording-upstream.ts', [], { RECORD_FILE: join(dir, 'upstream.log') }) },
    {
      store: seeded.store,
      vault: { masterKeyFile: seeded.keyFile },
      policy: { files: [POLICY] },
      // The approval page shares the console's secret here: its cookies must still not work on the console.
      approvals: { approvers: ['carol'], holdSeconds: 60, page: { signIn: { issuer: op.issuer, clientId: PAGE_CLIENT.id } } },
      console: consoleConfig(op),
      log: { level: 'error' },
    },
  );
  origin = new URL(gw.url).origin;
  carol = await signInWithFetch(origin, 'carol');
  viewer = await signInWithFetch(origin, 'audit-bot');
});

after(async () => {
  await gw?.close();
  await op?.close();
  rmSync(dir, { recursive: true, force: true });
  for (const r of restore.reverse()) r();
});

const get = (path: string, jar?: CookieJar) => fetch(`${origin}${path}`, { redirect: 'manual', headers: jar ? { cookie: jar.header() } : {} });
const revoked = async () => (await gw.store.revocations.list()).map((r) => r.value);

test('CSRF: a POST without the token, or with another session\'s token, is refused and audited', async () => {
  const mine = await csrfOf(origin, carol);
  const other = await signInWithFetch(origin, 'sec-lead');
  const theirs = await csrfOf(origin, other);
  assert.notEqual(mine, theirs, 'each session has its own token');
  const forms: Record<string, string>[] = [{ agent: 'victim-1' }, { agent: 'victim-1', csrf: theirs }, { agent: 'victim-1', csrf: `${mine}x` }, { agent: 'victim-1', csrf: '' }];
  for (const form of forms) {
    const res = await postForm(origin, '/console/agents/revoke', carol, form);
    assert.equal(res.status, 403, JSON.stringify(form));
    assert.match(await res.text(), /not valid for your session/);
  }
  assert.deepEqual(await revoked(), []);
  const events = (await gw.store.audit.tail({ limit: 500 })).filter((e) => e.method === 'console/action' && e.errorCode === 'invalid_csrf');
  assert.equal(events.length, 4);
  // The same request with the token works: the check is what refused them.
  const ok = await postForm(origin, '/console/agents/revoke', carol, { agent: 'victim-1', csrf: mine });
  assert.equal(ok.status, 200);
  assert.deepEqual(await revoked(), ['victim-1']);
});

test('a foreign Origin, a cross-site fetch and a non-form body are refused', async () => {
  const csrf = await csrfOf(origin, carol);
  const foreign = await postForm(origin, '/console/agents/revoke', carol, { agent: 'victim-2', csrf }, { origin: 'http://evil.example' });
  assert.equal(foreign.status, 403, 'the gateway refuses a foreign Origin before the console');
  const crossSite = await postForm(origin, '/console/agents/revoke', carol, { agent: 'victim-2', csrf }, { 'sec-fetch-site': 'cross-site' });
  assert.equal(crossSite.status, 403);
  assert.match(await crossSite.text(), /only be sent from the console/);
  const json = await fetch(`${origin}/console/agents/revoke`, { method: 'POST', headers: { cookie: carol.header(), 'content-type': 'application/json', origin }, body: JSON.stringify({ agent: 'victim-2', csrf }) });
  assert.equal(json.status, 400);
  const anonymous = await postForm(origin, '/console/agents/revoke', new CookieJar(), { agent: 'victim-2', csrf });
  assert.equal(anonymous.status, 401);
  assert.ok(!(await revoked()).includes('victim-2'));
});

test('a viewer is refused every action (403), even with a valid token of its own', async () => {
  const csrf = await csrfOf(origin, viewer);
  for (const path of ['/console/agents/revoke', '/console/tasks/t1/end', '/console/tasks/t1/revoke', '/console/policies/replay']) {
    const res = await postForm(origin, path, viewer, { csrf, agent: 'victim-3', candidate: 'x', days: '1' });
    assert.equal(res.status, 403, path);
  }
  assert.ok(!(await revoked()).includes('victim-3'));
  // Reading is allowed; a person no role list names reads nothing.
  assert.equal((await get('/console/agents', viewer)).status, 200);
  const nobody = await signInWithFetch(origin, 'mallory');
  const res = await get('/console/agents', nobody);
  assert.equal(res.status, 403);
  assert.doesNotMatch(await res.text(), /victim-1/, 'nothing of the inventory is shown');
});

test('the approval rules still apply: an approver role is not enough to decide when approvals.approvers does not list the person', async () => {
  const client = new Client({ name: 'rules-test', version: '0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(gw.url)));
  const held = client.callTool({ name: 'echo', arguments: { message: 'rules-test' } }, undefined, { timeout: 60_000 }).catch((e: Error) => e);
  let id: string | undefined;
  for (let i = 0; i < 400 && !id; i++) {
    id = (await gw.store.approvals.list({ state: 'pending' }))[0]?.id;
    if (!id) await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok(id);
  const bob = await signInWithFetch(origin, 'bob');
  const res = await postForm(origin, `/console/approvals/${id}`, bob, { csrf: await csrfOf(origin, bob), decision: 'approve' });
  assert.equal(res.status, 403);
  assert.match(await res.text(), /bob/);
  assert.equal((await gw.store.approvals.get(id))?.state, 'pending');
  const carolDenies = await postForm(origin, `/console/approvals/${id}`, carol, { csrf: await csrfOf(origin, carol), decision: 'deny', reason: 'not now' });
  assert.equal(carolDenies.status, 200);
  assert.equal((await gw.store.approvals.get(id))?.state, 'denied');
  assert.ok((await held) instanceof Error || JSON.stringify(await held).includes('denied'));
  await client.close();
});

test('session fixation: a planted cookie is never accepted and is replaced at sign-in', async () => {
  const jar = new CookieJar();
  jar.set(CONSOLE_SESSION_COOKIE, 'planted-by-attacker');
  assert.equal((await get('/console', jar)).status, 302, 'a planted value is not a session');
  await signInWithFetch(origin, 'carol', jar);
  const issued = jar.get(CONSOLE_SESSION_COOKIE);
  assert.ok(issued && issued !== 'planted-by-attacker', 'sign-in sets a new session');
  // Two sign-ins of the same person get different sessions (a random id in each).
  assert.notEqual(issued, carol.get(CONSOLE_SESSION_COOKIE));
  // A session the attacker forged with the right shape but another key is refused.
  const forged = seal(Buffer.alloc(32, 7), { n: 'carol', g: [], e: Math.floor(Date.now() / 1000) + 600, i: 'x' });
  const other = new CookieJar();
  other.set(CONSOLE_SESSION_COOKIE, forged);
  assert.equal((await get('/console', other)).status, 302);
  // Tampering with a real session (another name) breaks its MAC.
  const [body, tag] = issued.split('.');
  const payload = JSON.parse(Buffer.from(body!, 'base64url').toString()) as Record<string, unknown>;
  const tampered = new CookieJar();
  tampered.set(CONSOLE_SESSION_COOKIE, `${Buffer.from(JSON.stringify({ ...payload, n: 'sec-lead' })).toString('base64url')}.${tag}`);
  assert.equal((await get('/console', tampered)).status, 302);
  // Sign-out ends it for this browser.
  const out = await postForm(origin, '/console/signout', jar, { csrf: await csrfOf(origin, jar) });
  assert.equal(out.status, 200);
  jar.store(out);
  assert.equal(jar.get(CONSOLE_SESSION_COOKIE), undefined);
});

test("an approval page session, keyed by the same secret, is not a console session", async () => {
  // What the approval page would issue to carol (its own key purpose), put in the console's cookie.
  const approverSession = seal(deriveKey(CONSOLE_SECRET, 'session'), { n: 'carol', e: Math.floor(Date.now() / 1000) + 600, i: 'y' });
  const jar = new CookieJar();
  jar.set(CONSOLE_SESSION_COOKIE, approverSession);
  assert.equal((await get('/console', jar)).status, 302, 'refused: sent to sign in');
  // And the console's cookie is scoped to /console, the approval page's to /approvals.
  const res = await get('/console', carol);
  assert.equal(res.status, 200);
  const start = await get('/console/agents');
  assert.match(start.headers.getSetCookie().join('\n'), /Path=\/console; .*HttpOnly; SameSite=Lax/);
});

test('after sign-in a browser is only sent to a console path (no open redirect)', () => {
  for (const ok of ['/console', '/console/agents', '/console/audit?agent=a&since=7d']) assert.equal(consoleNext(ok), ok);
  for (const bad of ['//evil.example/console', 'https://evil.example/console', '/console/../approvals', '/consolex', '/console\\@evil', '/console/a?x=<script>', 'javascript:alert(1)', '/approvals/x']) {
    assert.equal(consoleNext(bad), undefined, bad);
  }
});

test('clickjacking and caching: every answer forbids framing, loads nothing foreign, is not cached', async () => {
  for (const [path, jar] of [['/console', carol], ['/console/nowhere', carol], ['/console/agents', new CookieJar()], ['/console/callback?state=x&code=y', new CookieJar()], ['/console/agents', await signInWithFetch(origin, 'mallory')]] as const) {
    const res = await get(path, jar);
    if (res.status === 302) continue; // the sign-in redirect carries no page
    assert.match(res.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/, path);
    assert.match(res.headers.get('content-security-policy') ?? '', /default-src 'none'/, path);
    assert.equal(res.headers.get('x-frame-options'), 'DENY', path);
    assert.equal(res.headers.get('cache-control'), 'no-store', path);
  }
});

test('the Secrets page shows metadata, never a value', async () => {
  const html = await (await get('/console/secrets', viewer)).text();
  assert.match(html, /api-token/);
  assert.ok(!html.includes(SECRET_VALUE), 'the value is not on the page');
  for (const path of ['/console', '/console/audit', '/console/upstreams', '/console/posture']) assert.ok(!(await (await get(path, carol)).text()).includes(SECRET_VALUE), path);
});

test('XSS through every field an agent controls: nothing runs in Chromium, everything shows as text', { skip: !existsSync(CHROMIUM) && !process.env.CI ? `${CHROMIUM} is not installed` : false }, async () => {
  // Real calls: a tool name that is markup, and a held call whose arguments are.
  const client = new Client({ name: XSS, version: '0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(gw.url)));
  await client.callTool({ name: XSS, arguments: {} }).catch(() => undefined);
  const held = client.callTool({ name: 'echo', arguments: { message: XSS, [XSS]: XSS } }, undefined, { timeout: 60_000 }).catch(() => undefined);
  let approval: string | undefined;
  for (let i = 0; i < 400 && !approval; i++) {
    approval = (await gw.store.approvals.list({ state: 'pending' }))[0]?.id;
    if (!approval) await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok(approval);
  // What a token could claim (agent, user, tenant, chain) and a task's purpose, stored as the gateway stores them.
  const now = new Date().toISOString();
  await gw.store.tasks.create({ id: XSS_ID, agent: XSS, user: XSS, tenant: XSS, purpose: XSS, servers: [XSS], tools: [XSS], createdAt: now, expiresAt: new Date(Date.now() + 3_600_000).toISOString(), state: 'active', endedAt: null, endedBy: null });
  const event: AuditEvent = {
    id: uuidv7(), time: now, instance: XSS, sessionId: XSS, agent: XSS, user: XSS, tenant: XSS, chain: [XSS, 'agent-b'], authMethod: 'oauth-jwt', protocolVersion: XSS,
    method: 'tools/call', upstream: XSS, target: XSS, argsDigest: null, outcome: 'denied', errorCode: XSS, latencyMs: 1, task: XSS_ID,
    decision: { effect: 'deny', policyIds: [XSS], reason: XSS, policyVersion: XSS }, approvalId: XSS, leaseIds: [XSS], arguments: JSON.stringify({ [XSS]: XSS }), upstreamStatus: XSS,
  };
  await gw.store.audit.append([event, { ...event, id: uuidv7(), method: 'approval/request' }, { ...event, id: uuidv7(), method: 'lease/issue' }, { ...event, id: uuidv7(), method: 'task/start', outcome: 'ok' }]);
  await gw.store.revocations.add({ id: uuidv7(), kind: 'user', value: XSS, revokedAt: now, by: XSS, reason: XSS, expiresAt: null });

  const browser: Browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  try {
    const page = await (await browser.newContext()).newPage();
    await openAs(page, op.issuer, `${origin}/console`, 'carol');
    const paths = ['/console', '/console/approvals', `/console/approvals/${approval}`, '/console/audit', `/console/audit?agent=${encodeURIComponent(XSS)}&tool=${encodeURIComponent(XSS)}`, `/console/audit/workflow?task=${encodeURIComponent(XSS_ID)}`, '/console/agents', '/console/tasks', '/console/policies', '/console/upstreams', '/console/secrets'];
    for (const path of paths) {
      const res = await page.goto(`${origin}${path}`);
      assert.equal(res?.status(), 200, path);
      assert.equal(await page.evaluate('window.__pwned'), undefined, `${path}: injected script ran`);
      assert.equal(await page.evaluate('document.querySelectorAll("main img, main svg, main script:not([src=\'/console/static/tail.js\']), main b").length'), 0, `${path}: markup from a field was parsed`);
    }
    // The text is there, as text: on the workflow view every agent-controlled field shows.
    await page.goto(`${origin}/console/audit/workflow?task=${encodeURIComponent(XSS_ID)}`);
    assert.ok(((await page.textContent('main')) ?? '').includes('<img src=x onerror="window.__pwned=1">'));
    await page.goto(`${origin}/console/approvals/${approval}`);
    assert.ok(((await page.textContent('pre.call')) ?? '').includes('<script>window.__pwned=2</script>'));
    // The person's own claim: a login named as markup, refused for want of a role, shown as text.
    const other = await (await browser.newContext()).newPage();
    await other.goto(`${origin}/console`);
    await other.fill('input[name="login"]', XSS);
    await other.fill('input[name="password"]', 'any');
    await Promise.all([other.waitForLoadState(), other.click('button[type="submit"]')]);
    if (new URL(other.url()).origin === op.issuer) await Promise.all([other.waitForURL((u) => u.origin !== op.issuer), other.click('button[type="submit"]')]);
    assert.match((await other.textContent('main')) ?? '', /has no console role/);
    assert.equal(await other.evaluate('window.__pwned'), undefined);
    assert.equal(await other.evaluate('document.querySelectorAll("main img, main svg, main script").length'), 0);
  } finally {
    await browser.close();
    await gw.store.approvals.decide(approval, 'denied', 'carol', null, new Date().toISOString()).catch(() => undefined);
    await held;
    await client.close();
  }
});
