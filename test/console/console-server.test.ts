/**
 * The console's server side with fetch, against a real gateway, a real MCP upstream and a real OpenID
 * provider: roles from names and groups, the audit filters, the live tail (server-sent events: new matching
 * events only), ending a task, explaining a decision, the replay refusing a candidate that does not load,
 * and the answers to malformed requests (unknown page, wrong method, bad filter, oversized form).
 * With WARDEN_TEST_DATABASE_URL the gateway's store is PostgreSQL (a schema of this run), else SQLite.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { stringify } from 'yaml';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startGateway } from '../../src/cli/start-gateway.js';
import { loadConfig, validateConfig } from '../../src/config/index.js';
import { startTestGateway, withMasterKey } from '../helpers/gateway.js';
import { roleOf } from '../../src/console/index.js';
import { createLogger } from '../../src/telemetry/log.js';
import { uuidv7 } from '../../src/core/ids.js';
import { startAuthGateway, type AuthGateway } from '../helpers/auth.js';
import { setEnv } from '../helpers/approvals.js';
import { CONSOLE_SECRET, CONSOLE_SECRET_ENV, consoleConfig, csrfOf, postForm, signInWithFetch } from '../helpers/console.js';
import { CookieJar, startOidcProvider, type TestOidcProvider } from '../helpers/oidc.js';
import { tsFixtureStdio } from '../helpers/servers.js';
import { tempDir } from '../helpers/e2e.js';
import { testSchema } from '../helpers/pg-schema.js';

const POLICY = fileURLToPath(new URL('../fixtures/policies/approvals.cedar', import.meta.url));
const tmp = tempDir('warden-console-server-');
const restore: Array<() => void> = [];
let op: TestOidcProvider;
let gw: AuthGateway;
let origin = '';
let carol: CookieJar;
let client: Client;
const pgUrl = process.env.WARDEN_TEST_DATABASE_URL;
const schema = pgUrl ? testSchema(pgUrl, 'console') : undefined;
const storeOf = (): Record<string, unknown> => (schema ? { store: schema.url() } : {});

before(async () => {
  restore.push(setEnv(CONSOLE_SECRET_ENV, CONSOLE_SECRET));
  op = await startOidcProvider('https://unused.example/mcp');
  gw = await startAuthGateway(
    { rec: tsFixtureStdio('recording-upstream.ts', [], { RECORD_FILE: join(tmp.dir, 'upstream.log') }) },
    { ...storeOf(), policy: { files: [POLICY] }, approvals: { approvers: ['bob'], holdSeconds: 60 }, console: consoleConfig(op), log: { level: 'error' } },
  );
  origin = new URL(gw.url).origin;
  carol = await signInWithFetch(origin, 'carol');
  client = new Client({ name: 'console-server-test', version: '0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(gw.url)));
});

after(async () => {
  await client?.close();
  await gw?.close();
  await op?.close();
  tmp.remove();
  for (const r of restore.reverse()) r();
  await schema?.drop();
});

const page = async (path: string, jar = carol) => {
  const res = await fetch(`${origin}${path}`, { redirect: 'manual', headers: { cookie: jar.header() } });
  return { status: res.status, html: await res.text() };
};

test('roles: the highest list that names a person, by name or by group; none for anyone else', () => {
  const roles = { admin: ['carol', 'group:security'], approver: ['bob', 'group:approvers'], viewer: ['group:auditors', 'dave'] };
  assert.equal(roleOf(roles, 'carol', []), 'admin');
  assert.equal(roleOf(roles, 'x', ['auditors', 'security']), 'admin');
  assert.equal(roleOf(roles, 'bob', ['auditors']), 'approver');
  assert.equal(roleOf(roles, 'dave', []), 'viewer');
  assert.equal(roleOf(roles, 'group:security', []), undefined, 'a name is never read as a group');
  assert.equal(roleOf(roles, 'mallory', ['Security', 'auditor']), undefined, 'groups match exactly');
});

test('the audit filters: agent, tool, outcome and time; a bad time is a 400', async () => {
  // One allowed request (a list) and one failed call (an unknown tool).
  await client.listTools();
  await client.callTool({ name: 'no-such-tool', arguments: {} }).catch(() => undefined);
  const all = await page('/console/audit?agent=anonymous');
  assert.equal(all.status, 200);
  assert.match(all.html, /tools\/list/);
  const denied = await page('/console/audit?outcome=denied&since=1h');
  assert.doesNotMatch(denied.html, /<td>tools\/list<\/td>/, 'only denied events');
  assert.equal((await page('/console/audit?until=2000-01-01T00:00:00Z')).html.includes('tools/list'), false, 'nothing before 2000');
  assert.equal((await page('/console/audit?since=yesterday')).status, 400);
  assert.equal((await page('/console/audit?outcome=<x>')).status, 400);
});

test('the live tail sends new matching events, and only those', async () => {
  const ac = new AbortController();
  const res = await fetch(`${origin}/console/audit/stream?agent=anonymous&outcome=error`, { headers: { cookie: carol.header() }, signal: ac.signal });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
  const reader = res.body!.getReader();
  let text = '';
  let ended = false;
  // One reader loop for the whole stream: a read is never abandoned (its chunk would be lost).
  const pump = (async () => {
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
      if (done) return void (ended = true);
      text += Buffer.from(value!).toString();
    }
  })();
  const until = async (re: RegExp) => {
    const end = Date.now() + 15_000;
    while (!re.test(text) && !ended && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    return re.test(text);
  };
  assert.ok(await until(/: live/), 'the stream opens');
  await client.listTools();
  await client.callTool({ name: 'tail-marker-tool', arguments: {} }).catch(() => undefined);
  // An unknown tool is an error outcome (the list before it is ok, so filtered out).
  assert.ok(await until(/"method":"tools\/call"/), `the failed call arrives: ${text}`);
  const events = text.split('\n\n').filter((b) => b.startsWith('event: audit'));
  for (const e of events) assert.match(e, /"outcome":"error"/, 'only error events pass the filter');
  assert.doesNotMatch(text, /tools\/list/);
  ac.abort();
  await pump;
  // Without a session the stream is not opened: the browser is sent to sign in.
  assert.equal((await fetch(`${origin}/console/audit/stream`, { redirect: 'manual' })).status, 302);
});

test('an admin ends a task; its state and the audit say so', async () => {
  const now = new Date();
  const id = uuidv7();
  await gw.store.tasks.create({ id, agent: 'anonymous', user: null, tenant: null, purpose: 'console test', servers: ['rec'], tools: [], createdAt: now.toISOString(), expiresAt: new Date(now.getTime() + 3_600_000).toISOString(), state: 'active', endedAt: null, endedBy: null });
  const tasks = await page('/console/tasks');
  assert.match(tasks.html, new RegExp(`aria-label="End task ${id}"`));
  const res = await postForm(origin, `/console/tasks/${id}/end`, carol, { csrf: await csrfOf(origin, carol) });
  assert.equal(res.status, 200);
  const t = await gw.store.tasks.get(id);
  assert.equal(t?.state, 'ended');
  assert.equal(t?.endedBy, 'carol');
  const again = await postForm(origin, `/console/tasks/${id}/end`, carol, { csrf: await csrfOf(origin, carol) });
  assert.equal(again.status, 409, 'an ended task cannot be ended again');
  const ev = (await gw.store.audit.tail({ limit: 200 })).find((e) => e.method === 'task/end' && e.task === id);
  assert.equal(ev?.authMethod, 'oidc');
  assert.equal(ev?.user, null, "the task's user (none), not the operator, who is named in the reason");
  assert.match(ev?.decision?.reason ?? '', /ended by carol/);
});

test('an admin revokes a task: ended as revoked, recorded as a revocation, audited', async () => {
  const now = new Date();
  const id = uuidv7();
  await gw.store.tasks.create({ id, agent: 'anonymous', user: 'alice', tenant: null, purpose: 'console revoke', servers: ['rec'], tools: [], createdAt: now.toISOString(), expiresAt: new Date(now.getTime() + 3_600_000).toISOString(), state: 'active', endedAt: null, endedBy: null });
  const res = await postForm(origin, `/console/tasks/${id}/revoke`, carol, { csrf: await csrfOf(origin, carol) });
  assert.equal(res.status, 200);
  assert.equal((await gw.store.tasks.get(id))?.state, 'revoked');
  const rev = (await gw.store.revocations.list({ kind: 'task' })).find((r) => r.value === id);
  assert.equal(rev?.by, 'carol');
  const ev = (await gw.store.audit.tail({ limit: 200 })).find((e) => e.method === 'revoke/task' && e.target === id);
  assert.equal(ev?.authMethod, 'oidc');
  const unknown = await postForm(origin, '/console/tasks/no-such-task/revoke', carol, { csrf: await csrfOf(origin, carol) });
  assert.equal(unknown.status, 404);
});

test('policies: a decision explained; a candidate that does not load is refused with its problems', async () => {
  const csrf = await csrfOf(origin, carol);
  const request = JSON.stringify({ principal: { agent: 'a' }, action: 'call_tool', resource: { tool: 'rec__echo', server: { name: 'rec' } } });
  const explained = await postForm(origin, '/console/policies/explain', carol, { csrf, request });
  const html = await explained.text();
  assert.equal(explained.status, 200);
  assert.match(html, /Decision: <strong>needs-approval<\/strong>/);
  assert.match(html, /hold-destructive-prod/);
  const bad = await postForm(origin, '/console/policies/explain', carol, { csrf, request: '{"principal":' });
  assert.match(await bad.text(), /The request is not valid/);
  const replay = await postForm(origin, '/console/policies/replay', carol, { csrf, candidate: 'permit (principal, action, resource) when { nope };', days: '7' });
  assert.equal(replay.status, 400);
  assert.match(await replay.text(), /does not load/);
  const days = await postForm(origin, '/console/policies/replay', carol, { csrf, candidate: '', days: '365' });
  assert.equal(days.status, 400);
});

test('malformed requests: unknown page 404, wrong method 405, oversized form 413', async () => {
  assert.equal((await page('/console/nowhere')).status, 404);
  const put = await fetch(`${origin}/console/agents`, { method: 'PUT', headers: { cookie: carol.header() } });
  assert.equal(put.status, 405);
  const get = await page('/console/agents/revoke');
  assert.equal(get.status, 405);
  const big = await postForm(origin, '/console/policies/replay', carol, { csrf: await csrfOf(origin, carol), candidate: 'x'.repeat(300 * 1024) }).catch((e: Error) => e);
  assert.ok(big instanceof Error || big.status === 413, 'refused (the connection may close before the answer is read)');
  // The stylesheet and the script are served to anyone, as what they are.
  const css = await fetch(`${origin}/console/static/console.css`);
  assert.equal(css.headers.get('content-type'), 'text/css; charset=utf-8');
  assert.equal(css.headers.get('x-content-type-options'), 'nosniff');
});

test('a config reload that takes a person out of console.roles refuses their next request', async () => {
  const file = join(tmp.dir, 'warden.yaml');
  const base = withMasterKey(tmp.dir, { listen: '127.0.0.1:0', store: join(tmp.dir, 'reload.db'), auth: { mode: 'none' }, policy: { files: [POLICY] }, mcpServers: {}, log: { level: 'error' } });
  writeFileSync(file, stringify({ ...base, console: consoleConfig(op) }));
  const loaded = loadConfig(file);
  const running = await startGateway(loaded.config, loaded.baseDir, createLogger('silent'), file);
  try {
    const at = new URL(running.url).origin;
    const bob = await signInWithFetch(at, 'bob');
    const view = () => fetch(`${at}/console/agents`, { redirect: 'manual', headers: { cookie: bob.header() } });
    assert.equal((await view()).status, 200);
    const cfg = consoleConfig(op) as { roles: Record<string, string[]> };
    writeFileSync(file, stringify({ ...base, console: { ...cfg, roles: { ...cfg.roles, approver: [] } } }));
    const report = await running.reload();
    assert.ok(report.ok, JSON.stringify(report));
    assert.deepEqual((report as { notReloaded: string[] }).notReloaded, [], 'the roles are reloaded, nothing else needs a restart');
    assert.equal((await view()).status, 403, 'his session is still valid, but he has no role any more');
    // The reload is in the Policies page's history.
    const admin = await signInWithFetch(at, 'carol');
    const policies = await (await fetch(`${at}/console/policies`, { headers: { cookie: admin.header() } })).text();
    assert.match(policies, /<td>config\/reload<\/td>/);
  } finally {
    await running.close();
  }
});

test('the console does not start half configured: no sign-in, or no secret (or a short one), is a config error', async () => {
  assert.throws(() => validateConfig({ mcpServers: {}, console: { enabled: true } }, 'c.yaml'), /console\.enabled needs console\.signIn/);
  const saved = process.env[CONSOLE_SECRET_ENV];
  try {
    delete process.env[CONSOLE_SECRET_ENV];
    await assert.rejects(startTestGateway({}, { console: consoleConfig(op) }), /WARDEN_CONSOLE_SECRET \(the console secret\) is not set/);
    process.env[CONSOLE_SECRET_ENV] = 'too-short';
    await assert.rejects(startTestGateway({}, { console: consoleConfig(op) }), /must be at least 32 bytes/);
  } finally {
    process.env[CONSOLE_SECRET_ENV] = saved;
  }
});
