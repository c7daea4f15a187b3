/**
 * The approval page against a real OpenID provider (oidc-provider, test/helpers/oidc.ts) and a real gateway:
 * an approver signs in (authorization code + PKCE, state, nonce) and approves or denies a held call from a
 * browser-like client (fetch and a cookie jar, test/helpers/approval-page.ts). Each check is also attacked:
 * non-approvers, the agent itself and the user under separationOfDuties are shown no buttons and their forged
 * POSTs are refused; missing sessions, bad CSRF tokens, foreign origins, tampered cookies, a mismatched state, a
 * replayed callback and a redirect elsewhere are refused; nothing secret reaches the logs or the pages.
 * The sign-in on its own (a bare page, ID token checks, discovery) is in approval-page-signin.test.ts.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { uuidv7 } from '../../src/core/ids.js';
import { LOGIN_COOKIE, SESSION_COOKIE } from '../../src/ingress/approval-page.js';
import { safeNext } from '../../src/ingress/approver-signin.js';
import type { ApprovalRecord } from '../../src/store/types.js';
import { PageBrowser, SECRET, startPageProvider, type PageProvider } from '../helpers/approval-page.js';
import { startAuthGateway, type AuthGateway } from '../helpers/auth.js';
import { followLogin, PAGE_CLIENT, type TestOidcProvider } from '../helpers/oidc.js';
import { RawSession } from '../helpers/mcp-http.js';
import { tsFixtureStdio } from '../helpers/servers.js';
import { nextPending, recordedCalls } from '../helpers/approvals.js';

const POLICY = fileURLToPath(new URL('../fixtures/policies/approvals.cedar', import.meta.url));
const EVIL = 'http://evil.example';
const dir = mkdtempSync(join(tmpdir(), 'warden-page-'));
const record = join(dir, 'upstream.log');
let provider: PageProvider | undefined;
let op: TestOidcProvider;
let gw: AuthGateway;
let origin = '';
/** Every authorization code and cookie value seen, to prove none of them reaches a log. */
const seen: string[] = [];
const pages: string[] = [];

before(async () => {
  provider = await startPageProvider();
  op = provider.op;
  gw = await startAuthGateway(
    // Annotations are not trusted, so `echo` counts as destructive; unset environment counts as prod.
    { rec: tsFixtureStdio('recording-upstream.ts', [], { RECORD_FILE: record }) },
    {
      policy: { files: [POLICY] },
      // `anonymous` is the agent in auth mode none, agent-y delegates a request below: both listed, so the
      // self-approval rule is what refuses them.
      approvals: { approvers: ['alice', 'anonymous', 'carol', 'agent-y'], holdSeconds: 30, separationOfDuties: true, page: { signIn: { issuer: op.issuer, clientId: PAGE_CLIENT.id } } },
      // The host guard lets this origin through, so the page's own Origin check is what refuses it.
      allowedOrigins: [EVIL],
    },
  );
  origin = new URL(gw.publicUrl).origin;
});

after(async () => {
  await gw?.close();
  await provider?.close();
  rmSync(dir, { recursive: true, force: true });
});

const calls = (message: string) => recordedCalls(record, message);

const pending = (seen: string[] = []) => nextPending(gw.store.approvals, seen);

/** A browser on the suite's gateway, recording what it sees in `seen` and `pages`. */
class Browser extends PageBrowser {
  constructor() {
    super({ origin: () => origin, issuer: () => op.issuer, seen, pages });
  }
}

const alice = new Browser();

describe('the approval page', () => {
  test('an approver signs in and approves: the held call runs once; a second decision is 409', async () => {
    const s = new RawSession(gw.url);
    await s.initialize();
    const held = s.request('tools/call', { name: 'echo', arguments: { message: 'deploy-page-1' } });
    const id = await pending();

    const cookies = await alice.get(`/approvals/${id}`);
    const login = cookies.headers.getSetCookie().find((c) => c.startsWith(`${LOGIN_COOKIE}=`)) ?? assert.fail('no sign-in cookie');
    assert.match(login, /; Path=\/approvals; Max-Age=600; HttpOnly; SameSite=Lax$/);
    const auth = new URL(cookies.headers.get('location')!);
    assert.equal(auth.searchParams.get('code_challenge_method'), 'S256');
    assert.equal(auth.searchParams.get('redirect_uri'), `${origin}/approvals/callback`);
    assert.ok(auth.searchParams.get('state') && auth.searchParams.get('nonce'));
    await cookies.arrayBuffer();

    await alice.signIn('alice', id);
    assert.ok(alice.jar.get(SESSION_COOKIE));
    const session = alice.setCookies.find((c) => c.startsWith(`${SESSION_COOKIE}=`)) ?? assert.fail('no session cookie');
    assert.match(session, /; Path=\/approvals; Max-Age=900; HttpOnly; SameSite=Lax$/, 'no Secure on an http public URL');
    assert.ok(alice.setCookies.some((c) => c.startsWith(`${LOGIN_COOKIE}=;`) && /Max-Age=0/.test(c)), 'the sign-in cookie is cleared');
    const { status, html, res } = await alice.page(id);
    assert.equal(status, 200, html);
    assert.equal(res.headers.get('content-security-policy'), "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'");
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.equal(res.headers.get('x-frame-options'), 'DENY');
    // same-origin, not no-referrer: under no-referrer a browser posts the form with `Origin: null`.
    assert.equal(res.headers.get('referrer-policy'), 'same-origin');
    assert.match(html, /Signed in as <strong>alice<\/strong>/);
    assert.match(html, /<dt>Tool<\/dt><dd>echo<\/dd>/);
    assert.match(html, /<dt>Agent<\/dt><dd>anonymous<\/dd>/);
    assert.match(html, /destructive tools in prod need a human approval/);
    assert.match(html, /deploy-page-1/);
    assert.match(html, /<button type="submit" name="decision" value="approve">Approve<\/button>/);
    assert.ok(!/<script/i.test(html));
    assert.equal(calls('deploy-page-1').length, 0, 'nothing reaches the upstream while held');

    const ok = await alice.post(id, { csrf: alice.csrfFrom(html), decision: 'approve', reason: 'change <b>7</b>' });
    assert.equal(ok.status, 200, ok.html);
    assert.match(ok.html, /Approved by <strong>alice<\/strong>/);
    assert.match(ok.html, /change &lt;b&gt;7&lt;\/b&gt;/);
    const { message } = await held;
    assert.equal((message.result as { content: { text: string }[] }).content[0]?.text, 'deploy-page-1', JSON.stringify(message));
    assert.equal(calls('deploy-page-1').length, 1, 'the upstream saw exactly one call');

    const again = await alice.post(id, { csrf: alice.csrfFrom(html), decision: 'deny' });
    assert.equal(again.status, 409);
    assert.match(again.html, /already (approved|consumed)/);
    const shown = await alice.page(id);
    assert.ok(!shown.html.includes('name="decision"'), 'a decided request shows no buttons');

    const events = await gw.store.audit.tail({ limit: 500 });
    assert.ok(events.some((e) => e.method === 'approval/approve' && e.approvalId === id && e.outcome === 'ok' && e.authMethod === 'oidc' && /approved by alice: change <b>7<\/b>/.test(e.decision?.reason ?? '')));
    assert.ok(events.some((e) => e.method === 'approval/deny' && e.approvalId === id && e.outcome === 'denied' && e.errorCode === 'not_pending'));
  });

  test('a denial refuses the held call; a tool argument with <script> is shown escaped', async () => {
    const s = new RawSession(gw.url);
    await s.initialize();
    const held = s.request('tools/call', { name: 'echo', arguments: { message: '<script>alert("drop")</script>' } });
    const id = await pending();
    const { html } = await alice.page(id);
    assert.ok(!html.includes('<script>'), 'the argument is not markup');
    assert.match(html, /&lt;script&gt;alert\(\\&quot;drop\\&quot;\)&lt;\/script&gt;/);
    const no = await alice.post(id, { csrf: alice.csrfFrom(html), decision: 'deny', reason: 'not today' });
    assert.equal(no.status, 200, no.html);
    assert.match(no.html, /Denied by <strong>alice<\/strong>/);
    const { message } = await held;
    const err = message.error as { message: string; data: { reason: string; approvalId: string } };
    assert.equal(err.data.reason, 'approval_denied');
    assert.equal(err.data.approvalId, id);
    assert.equal(calls('drop').length, 0);
  });

  test('who may not decide sees why and no buttons, and their forged decisions are refused (403)', async () => {
    // A pending request made for carol's agent: with separationOfDuties carol may not approve it.
    const now = Date.now();
    const r: ApprovalRecord = { id: uuidv7(now), digest: 'd'.repeat(64), agent: 'agent-x', user: 'carol', tenant: null, chain: ['agent-y'], task: null, upstream: 'rec', tool: 'echo', arguments: '{"message":"sod"}', reason: 'needs a human', policyIds: ['hold'], createdAt: new Date(now).toISOString(), expiresAt: new Date(now + 600_000).toISOString(), state: 'pending', decidedBy: null, decidedAt: null, decisionReason: null, consumedAt: null };
    await gw.store.approvals.create(r);
    const cases: Array<[string, RegExp, RegExp]> = [
      ['mallory', /mallory is not listed in approvals\.approvers/, /mallory is not an approver/],
      ['agent-y', /you are an agent that delegated this request/, /may not approve its own request/],
      ['carol', /separationOfDuties/, /separationOfDuties/],
    ];
    for (const [user, why, refused] of cases) {
      const b = new Browser();
      await b.signIn(user, r.id);
      const { status, html } = await b.page(r.id);
      assert.equal(status, 200);
      assert.match(html, new RegExp(`Signed in as <strong>${user}</strong>`));
      assert.match(html, why);
      assert.ok(!html.includes('name="decision"') && !html.includes('name="csrf"'), `${user} sees no form`);
      const forged = await b.post(r.id, { csrf: b.ownCsrf(r.id), decision: 'approve' });
      assert.equal(forged.status, 403, forged.html);
      assert.match(forged.html, refused);
    }
    // The agent itself (anonymous, listed as an approver) on its own held call.
    const s = new RawSession(gw.url);
    await s.initialize();
    const held = s.request('tools/call', { name: 'echo', arguments: { message: 'self-page' } });
    const id = await pending([r.id]);
    const agent = new Browser();
    await agent.signIn('anonymous', id);
    const mine = await agent.page(id);
    assert.match(mine.html, /you are the agent that made this request/);
    const self = await agent.post(id, { csrf: agent.ownCsrf(id), decision: 'approve' });
    assert.equal(self.status, 403);
    assert.match(self.html, /may not approve its own request/);
    assert.equal((await gw.store.approvals.get(r.id))?.state, 'pending');
    assert.ok((await gw.store.audit.tail({ limit: 500 })).some((e) => e.method === 'approval/approve' && e.approvalId === r.id && e.errorCode === 'forbidden' && e.authMethod === 'oidc'));
    await alice.post(id, { csrf: alice.ownCsrf(id), decision: 'deny' });
    await held;
  });

  test('no session, bad CSRF, a foreign origin, a tampered cookie, a bad form and a large body are refused', async () => {
    const now = Date.now();
    const r: ApprovalRecord = { id: uuidv7(now), digest: 'e'.repeat(64), agent: 'agent-x', user: 'bob', tenant: null, chain: [], task: null, upstream: 'rec', tool: 'echo', arguments: null, reason: 'needs a human', policyIds: ['hold'], createdAt: new Date(now).toISOString(), expiresAt: new Date(now + 600_000).toISOString(), state: 'pending', decidedBy: null, decidedAt: null, decisionReason: null, consumedAt: null };
    await gw.store.approvals.create(r);
    const { html } = await alice.page(r.id);
    const csrf = alice.csrfFrom(html);

    const anonymous = await new Browser().post(r.id, { csrf, decision: 'approve' });
    assert.equal(anonymous.status, 401);
    assert.equal((await alice.post(r.id, { decision: 'approve' })).status, 403);
    // One character changed (to one it is not: a token may begin with any base64url character).
    assert.equal((await alice.post(r.id, { csrf: (csrf[0] === 'x' ? 'y' : 'x') + csrf.slice(1), decision: 'approve' })).status, 403);
    // A token for another request, or for another session, is not valid here.
    assert.equal((await alice.post(r.id, { csrf: alice.ownCsrf(uuidv7()), decision: 'approve' })).status, 403);
    const other = new Browser();
    await other.signIn('carol', r.id);
    assert.equal((await alice.post(r.id, { csrf: other.ownCsrf(r.id), decision: 'approve' })).status, 403);
    const foreign = await alice.post(r.id, { csrf, decision: 'approve' }, { origin: EVIL });
    assert.equal(foreign.status, 403);
    assert.match(foreign.html, /only be sent from the approval page/);
    assert.equal((await alice.post(r.id, { csrf, decision: 'approve' }, { 'sec-fetch-site': 'cross-site' })).status, 403);
    assert.equal((await alice.post(r.id, { csrf, decision: 'maybe' })).status, 400);
    const unknown = uuidv7();
    assert.equal((await alice.post(unknown, { csrf: alice.ownCsrf(unknown), decision: 'approve' })).status, 404);
    assert.equal((await alice.post(r.id, { csrf, decision: 'approve', pad: 'x'.repeat(20_000) })).status, 413);

    const tampered = new Browser();
    const value = alice.jar.get(SESSION_COOKIE)!;
    const [body, sig] = value.split('.');
    const forgedBody = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(body!, 'base64url').toString()), n: 'alice2' })).toString('base64url');
    for (const v of [`${body}.${sig![0] === 'A' ? 'B' : 'A'}${sig!.slice(1)}`, `${forgedBody}.${sig}`]) {
      tampered.jar.set(SESSION_COOKIE, v);
      const res = await tampered.get(`/approvals/${r.id}`);
      assert.equal(res.status, 302, 'a tampered session is not signed in');
      assert.ok(res.headers.get('location')!.startsWith(op.issuer));
      await res.arrayBuffer();
      assert.equal((await tampered.post(r.id, { csrf, decision: 'approve' })).status, 401);
    }
    assert.equal((await gw.store.approvals.get(r.id))?.state, 'pending', 'nothing was decided');
    const refused = (await gw.store.audit.tail({ limit: 500 })).filter((e) => e.approvalId === r.id && e.outcome === 'denied');
    for (const code of ['unauthenticated', 'invalid_csrf', 'forbidden_origin', 'invalid_request', 'body_too_large']) assert.ok(refused.some((e) => e.errorCode === code), `a refusal (${code}) is audited`);
  });

  test('sign-in: a mismatched state, a replayed callback, a refused code and a redirect elsewhere are refused', async () => {
    const id = uuidv7();
    const b = new Browser();
    const start = await b.get(`/approvals/${id}`);
    assert.equal(start.status, 302, 'an unknown id is not revealed before sign-in');
    let back = await followLogin(start.headers.get('location')!, 'alice', b.jar, (u) => u.pathname === '/approvals/callback');
    seen.push(back.searchParams.get('code')!);
    const wrong = new URL(back);
    wrong.searchParams.set('state', 'not-the-state');
    const mismatch = await b.get(wrong.href);
    assert.equal(mismatch.status, 400);
    assert.match(await mismatch.text(), /not valid here/);
    assert.equal(b.jar.get(SESSION_COOKIE), undefined);

    // A code the provider refuses: a page, with neither the code nor the provider's answer on it.
    const d = new Browser();
    const state = new URL((await d.get(`/approvals/${id}`)).headers.get('location')!).searchParams.get('state')!;
    const refusedCode = await d.get(`/approvals/callback?state=${state}&code=bogus-code-0123456789abcdef`);
    assert.equal(refusedCode.status, 502);
    const text = await refusedCode.text();
    assert.match(text, /did not accept the sign-in/);
    assert.ok(!text.includes('bogus-code') && !gw.logs().includes('bogus-code'));
    assert.equal(d.jar.get(SESSION_COOKIE), undefined);

    // A full sign-in, then the same callback again: without its cookie, and with the cookie put back.
    const c = new Browser();
    const first = await c.get(`/approvals/${id}`);
    back = await followLogin(first.headers.get('location')!, 'alice', c.jar, (u) => u.pathname === '/approvals/callback');
    seen.push(back.searchParams.get('code')!);
    const kept = c.jar.get(LOGIN_COOKIE)!;
    const evil = new URL(back);
    evil.searchParams.set('next', 'https://evil.example/');
    evil.searchParams.set('redirect_uri', 'https://evil.example/');
    const done = await c.get(evil.href);
    assert.equal(done.status, 302);
    assert.equal(done.headers.get('location'), `/approvals/${id}`, 'only the request page is a destination');
    assert.equal((await c.page(id)).status, 404);
    const replay = await new Browser().get(back.href);
    assert.equal(replay.status, 400);
    const again = new Browser();
    again.jar.set(LOGIN_COOKIE, kept);
    const replayed = await again.get(back.href);
    assert.equal(replayed.status, 400);
    assert.equal(again.jar.get(SESSION_COOKIE), undefined, 'a replayed callback signs nobody in');
    const error = await new Browser().get('/approvals/callback?error=access_denied&state=x');
    assert.equal(error.status, 400);
    assert.match(await error.text(), /did not sign you in \(access_denied\)/);
  });

  test('only a relative /approvals/<uuid> path is a destination after sign-in', () => {
    const id = uuidv7();
    assert.equal(safeNext(`/approvals/${id}`), `/approvals/${id}`);
    for (const bad of ['https://evil.example/', '//evil.example/approvals/x', `/approvals/${id}/../../admin`, `/\\evil.example`, `/approvals/${id}?x=1`, '/approvals/callback', `https://evil.example/approvals/${id}`, undefined, 42]) {
      assert.equal(safeNext(bad), undefined, String(bad));
    }
  });

  test('no code, cookie value or secret is in the logs, and no secret or code is on a page', async () => {
    const logs = gw.logs();
    assert.ok(seen.length > 5);
    for (const v of [SECRET, ...seen.filter((x) => x.length >= 16)]) assert.ok(!logs.includes(v), 'a code, a cookie or the secret is in the logs');
    const all = pages.join('\n');
    for (const v of [SECRET, ...seen.filter((x) => x.length >= 16 && !x.includes('.'))]) assert.ok(!all.includes(v), 'a code or the secret is on a page');
    assert.match(logs, /approver signed in/);
  });
});
