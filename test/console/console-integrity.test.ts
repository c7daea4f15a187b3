/**
 * Tool integrity on the console (/console/upstreams/<name>/tools), against a real gateway, real MCP upstreams
 * on the official SDK (test/fixtures/rugpull-upstream.ts) and a real OpenID provider: a definition held in
 * quarantine is shown with its diff (markup and hidden characters escaped), an admin approves it from the
 * page and it is listed and callable again (one `integrity/approved` audit event naming the person, as the
 * admin API's), and a viewer's or an approver's forged POST is refused and changes nothing.
 * With WARDEN_TEST_DATABASE_URL the gateway's store is PostgreSQL (a schema of this run), else SQLite.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { startAuthGateway, type AuthGateway } from '../helpers/auth.js';
import { setEnv } from '../helpers/approvals.js';
import { CONSOLE_SECRET, CONSOLE_SECRET_ENV, consoleConfig, csrfOf, postForm, signInWithFetch } from '../helpers/console.js';
import { startOidcProvider, type CookieJar, type TestOidcProvider } from '../helpers/oidc.js';
import { tsFixtureStdio } from '../helpers/servers.js';
import { testSchema } from '../helpers/pg-schema.js';

const restore: Array<() => void> = [];
let op: TestOidcProvider;
let gw: AuthGateway;
let origin = '';
let carol: CookieJar;
let client: Client;
const pgUrl = process.env.WARDEN_TEST_DATABASE_URL;
const schema = pgUrl ? testSchema(pgUrl, 'console_pins') : undefined;
const storeOf = (): Record<string, unknown> => (schema ? { store: schema.url() } : {});

before(async () => {
  restore.push(setEnv(CONSOLE_SECRET_ENV, CONSOLE_SECRET));
  op = await startOidcProvider('https://unused.example/mcp');
  gw = await startAuthGateway(
    {
      markup: tsFixtureStdio('rugpull-upstream.ts', [], { MODE: 'markup' }),
      mail: { ...tsFixtureStdio('rugpull-upstream.ts', [], { MODE: 'mail' }), integrity: 'pin' },
    },
    { ...storeOf(), console: consoleConfig(op), integrity: { refreshMs: 100 }, log: { level: 'error' } },
  );
  origin = new URL(gw.url).origin;
  carol = await signInWithFetch(origin, 'carol');
  client = new Client({ name: 'console-integrity-test', version: '0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(gw.url)));
  await client.listTools();
});

after(async () => {
  await client?.close();
  await gw?.close();
  await op?.close();
  for (const r of restore.reverse()) r();
  await schema?.drop();
});

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const page = async (path: string, jar = carol) => {
  const res = await fetch(`${origin}${path}`, { redirect: 'manual', headers: { cookie: jar.header() } });
  return { status: res.status, html: await res.text() };
};
const names = async () => (await client.listTools()).tools.map((t) => t.name);
const pin = async (upstream: string, name: string, state: string) => (await gw.store.integrity.list({ upstream })).find((p) => p.name === name && p.state === state);
const decisions = async () => (await gw.store.audit.tail({ limit: 500 })).filter((e) => e.method === 'integrity/approved' || e.method === 'integrity/rejected');
const TAG_CHARS = /[\u{E0000}-\u{E007F}]/u;

test('the upstreams page links each server to its pins and counts what waits in quarantine', async () => {
  const { status, html } = await page('/console/upstreams');
  assert.equal(status, 200);
  assert.match(html, /href="\/console\/upstreams\/markup\/tools"/);
  assert.match(html, /href="\/console\/upstreams\/mail\/tools"><span class="bad">1 quarantined<\/span>/);
  assert.doesNotMatch(html, /follow-up/);
});

test('a changed tool: quarantined, listed as changed with its diff; markup and hidden characters are escaped', async () => {
  await client.callTool({ name: 'markup__stage', arguments: {} });
  await until('the changed add to be recorded', () => pin('markup', 'add', 'pending'));
  assert.ok(!(await names()).includes('markup__add'), 'the changed tool is hidden');
  const { status, html } = await page('/console/upstreams/markup/tools');
  assert.equal(status, 200);
  assert.match(html, /<td>add<\/td><td>changed<\/td>/);
  assert.match(html, /<td>add<\/td><td>pinned<\/td>/);
  assert.match(html, /unicode-tag \(critical\)/, 'the findings with their severity');
  // The diff: the old line and the new one, its markup as text and its hidden tag characters as escapes.
  assert.match(html, /- Add two numbers\./);
  assert.match(html, /\+ Add two numbers\.&lt;\/pre&gt;&lt;script&gt;alert\(&quot;diff&quot;\)&lt;\/script&gt;\\u\{e0070\}\\u\{e0077\}/);
  assert.doesNotMatch(html, /<script>alert/);
  assert.doesNotMatch(html, TAG_CHARS);
  // The tool named with markup (pinned on first use): its name and description are text.
  assert.match(html, /&lt;img src=x onerror=alert\(1\)&gt;/);
  assert.doesNotMatch(html, /<img src=x/);
  assert.match(html, /<button type="submit" name="decision" value="approve">Approve<\/button>/, 'an admin sees the buttons');
});

test('a never-pinned tool (integrity: pin) is pending, its whole definition as the diff', async () => {
  const { html } = await page('/console/upstreams/mail/tools');
  assert.match(html, /<td>send_email<\/td><td>pending<\/td>/);
  assert.match(html, /Not pinned yet/);
  assert.match(html, /\+ description: Send an email to one recipient\./);
});

test('a viewer and an approver see no buttons, and their forged approve POSTs are 403 and change nothing', async () => {
  const digest = (await pin('markup', 'add', 'pending'))!.digest;
  for (const user of ['audit-bot', 'bob']) {
    const jar = await signInWithFetch(origin, user);
    const seen = await page('/console/upstreams/markup/tools', jar);
    assert.equal(seen.status, 200);
    assert.doesNotMatch(seen.html, /value="approve"/);
    assert.match(seen.html, /needs the admin role/);
    const csrf = await csrfOf(origin, jar, '/console/upstreams/markup/tools');
    const res = await postForm(origin, '/console/upstreams/markup/tools', jar, { csrf, decision: 'approve', kind: 'tool', name: 'add', digest });
    assert.equal(res.status, 403, `${user}'s approve is refused`);
  }
  assert.ok(await pin('markup', 'add', 'pending'), 'still pending');
  assert.deepEqual(await decisions(), [], 'nothing decided');
  const refused = (await gw.store.audit.tail({ limit: 100 })).filter((e) => e.method === 'console/action' && e.target === '/console/upstreams/markup/tools');
  assert.deepEqual(refused.map((e) => `${e.user} ${e.outcome} ${e.errorCode}`).sort(), ['audit-bot denied forbidden', 'bob denied forbidden']);
});

test("an admin's POST without the session's CSRF token or from another site is refused", async () => {
  const digest = (await pin('markup', 'add', 'pending'))!.digest;
  const form = { decision: 'approve', kind: 'tool', name: 'add', digest };
  assert.equal((await postForm(origin, '/console/upstreams/markup/tools', carol, { ...form, csrf: 'x' })).status, 403);
  const csrf = await csrfOf(origin, carol, '/console/upstreams/markup/tools');
  assert.equal((await postForm(origin, '/console/upstreams/markup/tools', carol, { ...form, csrf }, { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' })).status, 403);
  assert.ok(await pin('markup', 'add', 'pending'), 'still pending');
  assert.deepEqual(await decisions(), []);
});

test('an admin approves from the page: listed and callable again, audited once with the person as who decided', async () => {
  const html = (await page('/console/upstreams/markup/tools')).html;
  const section = html.slice(html.indexOf('<h3>tool add: changed</h3>'));
  const digest = /name="digest" value="([^"]+)"/.exec(section)?.[1];
  assert.equal(digest, (await pin('markup', 'add', 'pending'))!.digest, 'the form names the pending definition');
  const csrf = await csrfOf(origin, carol, '/console/upstreams/markup/tools');
  const res = await postForm(origin, '/console/upstreams/markup/tools', carol, { csrf, decision: 'approve', kind: 'tool', name: 'add', digest: digest! });
  assert.equal(res.status, 200);
  assert.match(await res.text(), /pinned: listed and callable again, by <strong>carol<\/strong>/);
  await until('add to come back', async () => ((await names()).includes('markup__add') ? true : undefined));
  const r = (await client.callTool({ name: 'markup__add', arguments: { a: 2, b: 3 } })) as CallToolResult;
  assert.equal(r.content[0]?.type === 'text' ? r.content[0].text : '', '5');
  assert.equal((await pin('markup', 'add', 'approved'))!.decidedBy, 'carol');
  const audited = await decisions();
  assert.equal(audited.length, 1);
  assert.equal(audited[0]!.agent, 'carol');
  assert.equal(audited[0]!.upstream, 'markup');
  assert.equal(audited[0]!.target, 'add');
  assert.match(audited[0]!.decision?.reason ?? '', /by carol/);
  // Deciding it again: nothing is pending any more.
  const again = await postForm(origin, '/console/upstreams/markup/tools', carol, { csrf, decision: 'approve', kind: 'tool', name: 'add', digest: digest! });
  assert.equal(again.status, 409);
});

test('an admin rejects: the tool stays hidden and refused; malformed and unknown targets are refused', async () => {
  const digest = (await pin('mail', 'send_email', 'pending'))!.digest;
  const csrf = await csrfOf(origin, carol, '/console/upstreams/mail/tools');
  const post = (form: Record<string, string>, path = '/console/upstreams/mail/tools') => postForm(origin, path, carol, { csrf, ...form });
  assert.equal((await post({ decision: 'approve', kind: 'tool', name: 'send_email', digest: 'sha256:nope' })).status, 400);
  assert.equal((await post({ decision: 'allow', kind: 'tool', name: 'send_email', digest })).status, 400);
  assert.equal((await post({ decision: 'approve', kind: 'tool', name: 'send_email', digest }, '/console/upstreams/nope/tools')).status, 404);
  assert.equal((await post({ decision: 'approve', kind: 'tool', name: 'add', digest })).status, 409, 'a digest of another definition decides nothing');
  assert.equal((await post({ decision: 'reject', kind: 'tool', name: 'send_email', digest })).status, 200);
  assert.equal((await pin('mail', 'send_email', 'rejected'))?.decidedBy, 'carol');
  assert.match((await page('/console/upstreams/mail/tools')).html, /<td>send_email<\/td><td>rejected<\/td>/);
  assert.ok(!(await names()).includes('mail__send_email'));
  await assert.rejects(client.callTool({ name: 'mail__send_email', arguments: { to: 'a@b.example', body: 'x' } }), /rejected/);
  assert.equal((await page('/console/upstreams/nope/tools')).status, 404);
});
