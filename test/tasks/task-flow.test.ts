/**
 * Tasks end to end under the starter pack: a write tool no policy allows without a task becomes usable
 * under a task that grants it, and only it; the grant is decided by policy (another tenant's server is
 * refused); an ended, expired or foreign task refuses the next call before anything reaches an upstream.
 * Real ES256 JWTs, a real filesystem server, gateway tokens minted with the gateway's own keys.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { taskServiceFor } from '../../src/cli/services.js';
import { validateConfig } from '../../src/config/index.js';
import { GatewayTokens } from '../../src/identity/gateway-tokens.js';
import type { TaskService } from '../../src/tasks/index.js';
import { bearer, BearerSession, exchangeForm, initializeBody, post, startAuthGateway, tokenRequest, type AuthGateway } from '../helpers/auth.js';
import { createTestIssuer, type TestIssuer } from '../helpers/idp.js';
import { filesystemStdio } from '../helpers/servers.js';

const STARTER = fileURLToPath(new URL('../../policies/starter/starter.cedar', import.meta.url));

describe('tasks', () => {
  let dir: string;
  let idp: TestIssuer;
  let gw: AuthGateway;
  let tasks: TaskService;
  let tokens: GatewayTokens;
  const subjectA = { agent: 'agent-a', user: 'alice', tenant: 'acme', chain: [], groups: [], authMethod: 'oauth-jwt', scopes: [] };

  const session = async (token: string) => {
    const s = new BearerSession(gw.url, token);
    await s.initialize();
    return s;
  };
  const taskToken = async (task: { id: string; agent: string; expiresAt: string }) =>
    (await tokens.mint({ agent: task.agent, user: 'alice', tenant: 'acme', chain: [], scopes: [], task: task.id, parentJti: null, expiresAt: Math.floor(Date.parse(task.expiresAt) / 1000) })).token;
  const call = async (s: BearerSession, name: string, args: Record<string, unknown>) => (await s.request('tools/call', { name, arguments: args })).message;

  before(async () => {
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'warden-tasks-')));
    mkdirSync(join(dir, 'acme'));
    mkdirSync(join(dir, 'globex'));
    idp = await createTestIssuer(dir);
    const servers = {
      files: { ...filesystemStdio(join(dir, 'acme')), tenant: 'acme', environment: 'dev', trustAnnotations: true },
      other: { ...filesystemStdio(join(dir, 'globex')), tenant: 'globex', environment: 'dev', trustAnnotations: true },
    };
    const extra = { auth: { issuers: [{ issuer: idp.issuer, jwksFile: idp.jwksFile }] }, policy: { files: [STARTER] }, agents: { 'agent-a': { tenant: 'acme' }, 'agent-b': { tenant: 'acme' } } };
    gw = await startAuthGateway(servers, extra);
    const config = validateConfig({ listen: '127.0.0.1:0', auth: extra.auth, policy: extra.policy, agents: extra.agents, mcpServers: servers }, 'test');
    tasks = taskServiceFor(config, gw.store.tasks, gw.policy.current);
    tokens = new GatewayTokens(new URL(gw.publicUrl).origin, gw.publicUrl, gw.keys, gw.store.tokens, 60);
  });

  after(async () => {
    await gw?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('without a task a write is denied; under a task that grants it, it runs, and nothing else does', async () => {
    const plain = await session(await idp.sign({ aud: gw.publicUrl, sub: 'agent-a', client_id: 'agent-a' }));
    const target = join(dir, 'acme', 'report.txt');
    const denied = await call(plain, 'files__write_file', { path: target, content: 'x' });
    assert.equal((denied.error as { code: number }).code, -32008);
    assert.ok(!existsSync(target));

    const { task, grant } = await tasks.start(subjectA, { purpose: 'write the report', servers: [], tools: ['files__write_file'], ttlSeconds: 300 });
    assert.deepEqual([task.tools, task.servers, grant.refused], [['files__write_file'], [], []]);
    const s = await session(await taskToken(task));
    const { message: list } = await s.request('tools/list');
    assert.deepEqual(
      ((list.result as { tools: { name: string }[] }).tools ?? []).map((t) => t.name),
      ['files__write_file'],
      'under a task the list is the grant',
    );
    const ok = await call(s, 'files__write_file', { path: target, content: 'quarterly numbers' });
    assert.equal(ok.error, undefined, JSON.stringify(ok));
    assert.equal(readFileSync(target, 'utf8'), 'quarterly numbers');
    // A read the starter pack allows without a task is outside this task's grant.
    const outside = await call(s, 'files__read_text_file', { path: target });
    assert.match((outside.error as { message: string }).message, /outside the grant of task/);

    const events = await gw.store.audit.tail({ limit: 20 });
    const written = events.find((e) => e.method === 'tools/call' && e.outcome !== 'intent' && e.target === 'write_file' && e.outcome === 'ok');
    assert.equal(written?.task, task.id, 'the audit ties the call to its task');
    assert.deepEqual(written?.decision?.policyIds, ['writes-need-task-grant']);
  });

  test('ending the task refuses the next call with its token; so do expired and foreign tasks', async () => {
    const { task } = await tasks.start(subjectA, { purpose: 'short job', servers: ['files'], tools: [], ttlSeconds: 300 });
    const s = await session(await taskToken(task));
    const before = await call(s, 'files__list_allowed_directories', {});
    assert.equal(before.error, undefined, JSON.stringify(before));
    await tasks.end(task.id, 'test');
    const afterEnd = await call(s, 'files__list_allowed_directories', {});
    assert.equal((afterEnd.error as { data: { reason: string } }).data.reason, 'task_inactive');
    assert.match((afterEnd.error as { message: string }).message, /has ended/);
    await assert.rejects(tasks.end(task.id, 'test'), /already ended/);

    const past = new Date(Date.now() - 1000).toISOString();
    const expired = { id: '0190aaaa-0000-7000-8000-000000000001', agent: 'agent-a', user: 'alice', tenant: 'acme', purpose: 'old', servers: ['files'], tools: [], createdAt: past, expiresAt: new Date(Date.now() + 1500).toISOString(), state: 'active' as const, endedAt: null, endedBy: null };
    await gw.store.tasks.create(expired);
    const e = await session(await taskToken(expired));
    await new Promise((r) => setTimeout(r, 1600));
    const late = await call(e, 'files__list_allowed_directories', {});
    assert.match((late.error as { message: string }).message, /has expired/);

    // A token naming agent-b with agent-a's task: the task is not agent-b's.
    const { task: mine } = await tasks.start(subjectA, { purpose: 'mine', servers: ['files'], tools: [], ttlSeconds: 300 });
    const stolen = (await tokens.mint({ agent: 'agent-b', user: null, tenant: 'acme', chain: [], scopes: [], task: mine.id, parentJti: null, expiresAt: Math.floor(Date.now() / 1000) + 300 })).token;
    // Even opening a session with it is refused.
    const init = await post(gw.url, initializeBody(), bearer(stolen));
    assert.equal(init.headers.get('mcp-session-id'), null);
    assert.equal((init.messages[0]?.error as { data: { reason: string } }).data.reason, 'task_inactive', init.text);
  });

  test('an agent starts its own task in a token exchange (task_purpose, task_tools, task_ttl); refused asks get invalid_scope', async () => {
    const origin = new URL(gw.publicUrl).origin;
    const user = () => idp.sign({ aud: gw.publicUrl, sub: 'alice', client_id: 'app-web', tenant: 'acme' });
    const actor = () => idp.sign({ aud: gw.publicUrl, sub: 'agent-a', client_id: 'agent-a' });
    const r = await tokenRequest(origin, exchangeForm(await user(), await actor(), { task_purpose: 'tidy the notes', task_tools: 'files__write_file', task_ttl: '120' }));
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.ok(Number(r.body.expires_in) <= 120, 'the token does not outlive the task');
    const s = await session(String(r.body.access_token));
    assert.deepEqual(await s.toolNames(), ['files__write_file']);
    const ok = await call(s, 'files__write_file', { path: join(dir, 'acme', 'tidy.txt'), content: 'ok' });
    assert.equal(ok.error, undefined, JSON.stringify(ok));
    const [task] = await gw.store.tasks.list({ agent: 'agent-a', limit: 1 });
    assert.equal(task?.purpose, 'tidy the notes');
    assert.equal(task?.user, 'alice');

    const refused = await tokenRequest(origin, exchangeForm(await user(), await actor(), { task_purpose: 'raid', task_servers: 'other' }));
    assert.equal(refused.status, 400);
    assert.equal(refused.body.error, 'invalid_scope');
    assert.match(String(refused.body.error_description), /not started.*nothing asked for was granted/);
    // A task token cannot start a second task (its grant would not narrow).
    const nested = await tokenRequest(origin, exchangeForm(String(r.body.access_token), await actor(), { task_purpose: 'more' }));
    assert.equal(nested.status, 400);
    assert.match(String(nested.body.error_description), /already belongs to a task/);
  });

  test('a revoked user mints nothing in a token exchange, and its tokens are refused on the next request', async () => {
    const origin = new URL(gw.publicUrl).origin;
    const actor = () => idp.sign({ aud: gw.publicUrl, sub: 'agent-a', client_id: 'agent-a' });
    const userToken = await idp.sign({ aud: gw.publicUrl, sub: 'mallory', client_id: 'app-web', tenant: 'acme' });
    const ok = await tokenRequest(origin, exchangeForm(userToken, await actor()));
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    const s = await session(String(ok.body.access_token));
    await gw.store.revocations.add({ id: '0190aaaa-0000-7000-8000-0000000000aa', kind: 'user', value: 'mallory', revokedAt: new Date().toISOString(), by: 'test', reason: null, expiresAt: null });
    // The SQLite list is re-read every 500 ms.
    let reason = '';
    for (let i = 0; i < 40 && reason !== 'revoked'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      reason = ((await call(s, 'files__list_allowed_directories', {})).error as { data?: { reason?: string } } | undefined)?.data?.reason ?? '';
    }
    assert.equal(reason, 'revoked');
    const again = await tokenRequest(origin, exchangeForm(await idp.sign({ aud: gw.publicUrl, sub: 'mallory', client_id: 'app-web', tenant: 'acme' }), await actor()));
    assert.equal(again.status, 400);
    assert.equal(again.body.error, 'invalid_grant');
    assert.match(String(again.body.error_description), /revoked/);
  });

  test('the grant is decided by policy and may be narrower than asked; bad requests are refused', async () => {
    const { task, grant } = await tasks.start(subjectA, { purpose: 'mixed', servers: ['files', 'other'], tools: ['other__write_file', 'nosuch__tool'], ttlSeconds: 60 });
    assert.deepEqual(task.servers, ['files']);
    assert.deepEqual(task.tools, []);
    assert.deepEqual(grant.refused.map((r) => r.item).sort(), ['nosuch__tool', 'other']);
    await assert.rejects(tasks.start(subjectA, { purpose: 'x', servers: ['other'], tools: [], ttlSeconds: 60 }), /nothing asked for was granted/);
    await assert.rejects(tasks.start(subjectA, { purpose: 'x', servers: ['files'], tools: [], ttlSeconds: 999_999 }), /above the maximum/);
    await assert.rejects(tasks.start(subjectA, { purpose: ' ', servers: ['files'], tools: [], ttlSeconds: 60 }), /needs a purpose/);
    await assert.rejects(tasks.start({ ...subjectA, tenant: null }, { purpose: 'x', servers: ['files'], tools: [], ttlSeconds: 60 }), /nothing asked for was granted/);
  });
});

