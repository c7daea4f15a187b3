/**
 * SQLite: one gateway and `warden revoke` run as a separate process on the same store file, as an operator
 * would. The gateway polls the table (every 500 ms by default), so the revoked agent, task or token is
 * refused within a second, and nothing else is. Real ES256 tokens, gateway tokens minted with the
 * gateway's own keys, a real stdio upstream.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { uuidv7 } from '../../src/core/ids.js';
import { GatewayTokens } from '../../src/identity/gateway-tokens.js';
import { BearerSession, startAuthGateway, type AuthGateway } from '../helpers/auth.js';
import { createTestIssuer, type TestIssuer } from '../helpers/idp.js';
import { tsFixtureStdio } from '../helpers/servers.js';
import { echo, firstRefusal, warden } from './helpers.js';

describe('revocation on SQLite with the CLI in another process', () => {
  let dir: string;
  let idp: TestIssuer;
  let gw: AuthGateway;
  let tokens: GatewayTokens;
  let config: string;

  const session = async (token: string): Promise<BearerSession> => {
    const s = new BearerSession(gw.url, token);
    await s.initialize();
    return s;
  };
  const agentSession = async (agent: string) => session(await idp.sign({ aud: gw.publicUrl, sub: 'alice', client_id: agent }));

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'warden-revoke-'));
    idp = await createTestIssuer(dir);
    gw = await startAuthGateway({ rec: tsFixtureStdio('recording-upstream.ts') }, { auth: { issuers: [{ issuer: idp.issuer, jwksFile: idp.jwksFile }] }, log: { level: 'error' } });
    tokens = new GatewayTokens(new URL(gw.publicUrl).origin, gw.publicUrl, gw.keys, gw.store.tokens, 60);
    config = join(dir, 'cli.yaml');
    writeFileSync(config, stringify({ store: join(gw.dir, 'warden.db'), mcpServers: {} }));
  });

  after(async () => {
    await gw?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('warden revoke agent: that agent is refused within a second, others are not; audited; idempotent', async () => {
    const victim = await agentSession('agent-x');
    const bystander = await agentSession('agent-y');
    assert.equal(await echo(victim), 'ok');
    const cli = await warden(['revoke', 'agent', 'agent-x', '--reason', 'laptop stolen', '-c', config]);
    const committed = performance.now();
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stdout, /^revoked agent "agent-x" \(laptop stolen\): refused from the next request on/);
    const refused = await firstRefusal(victim, committed);
    assert.equal(refused.reason, 'revoked');
    assert.ok(refused.afterMs < 1000, `refused ${refused.afterMs.toFixed(0)} ms after the CLI returned`);
    assert.equal(await echo(bystander), 'ok', 'another agent is unaffected');

    const events = await gw.store.audit.tail({ limit: 50 });
    const revoked = events.find((e) => e.method === 'revoke/agent');
    assert.equal(revoked?.agent, 'agent-x');
    assert.equal(revoked?.authMethod, 'cli');
    assert.match(revoked?.decision?.reason ?? '', /agent agent-x revoked by cli: laptop stolen/);
    assert.ok(events.some((e) => e.method === 'tools/call' && e.outcome !== 'intent' && e.agent === 'agent-x' && e.errorCode === 'revoked'), 'the refused call is audited');

    const again = await warden(['revoke', 'agent', 'agent-x', '-c', config]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /already revoked at .* by cli/);
    assert.deepEqual((await gw.store.revocations.list({ kind: 'agent' })).map((r) => r.value), ['agent-x']);
  });

  test('warden revoke task: ends it as revoked; its token is refused within a second', async () => {
    const now = Date.now();
    const task = { id: uuidv7(), agent: 'agent-t', user: 'alice', tenant: null, purpose: 'nightly job', servers: ['rec'], tools: [], createdAt: new Date(now).toISOString(), expiresAt: new Date(now + 600_000).toISOString(), state: 'active' as const, endedAt: null, endedBy: null };
    await gw.store.tasks.create(task);
    const minted = await tokens.mint({ agent: 'agent-t', user: 'alice', tenant: null, chain: [], scopes: [], task: task.id, parentJti: null, expiresAt: Math.floor(now / 1000) + 600 });
    const s = await session(minted.token);
    assert.equal(await echo(s), 'ok');
    const cli = await warden(['revoke', 'task', task.id, '-c', config]);
    const committed = performance.now();
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stdout, new RegExp(`task ${task.id} ended as revoked`));
    const first = await firstRefusal(s, committed);
    // The task check reads the store on every request, so it may refuse before the list has polled.
    assert.ok(['revoked', 'task_inactive'].includes(first.reason), first.reason);
    await new Promise((r) => setTimeout(r, 1000 - Math.min(first.afterMs, 1000)));
    assert.equal(await echo(s), 'revoked', 'within a second the revocation list refuses it too');
    const stored = await gw.store.tasks.get(task.id);
    assert.equal(stored?.state, 'revoked');
    assert.equal(stored?.endedBy, 'cli');
    assert.equal((await gw.store.revocations.list({ kind: 'task' }))[0]?.expiresAt, task.expiresAt, 'kept until the task expires');

    const missing = await warden(['revoke', 'task', uuidv7(), '-c', config]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no task /);
  });

  test('warden revoke token: that token is refused, another of the same agent is not; an unknown id needs --foreign', async () => {
    const exp = Math.floor(Date.now() / 1000) + 600;
    const one = await tokens.mint({ agent: 'agent-k', user: 'alice', tenant: null, chain: [], scopes: [], task: null, parentJti: null, expiresAt: exp });
    const two = await tokens.mint({ agent: 'agent-k', user: 'alice', tenant: null, chain: [], scopes: [], task: null, parentJti: null, expiresAt: exp });
    const s1 = await session(one.token);
    const s2 = await session(two.token);
    assert.equal(await echo(s1), 'ok');
    const cli = await warden(['revoke', 'token', one.record.jti, '-c', config]);
    const committed = performance.now();
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stdout, /every token exchanged from it \(however many exchanges down\) is refused too/);
    const refused = await firstRefusal(s1, committed);
    assert.equal(refused.reason, 'revoked');
    assert.ok(refused.afterMs < 1000, `refused ${refused.afterMs.toFixed(0)} ms after the CLI returned`);
    const { message } = await s1.request('tools/call', { name: 'echo', arguments: { message: 'hi' } });
    assert.equal((message.error as { message: string }).message, 'Access revoked: this token has been revoked');
    assert.equal(await echo(s2), 'ok', 'another token of the same agent still works');

    const unknown = uuidv7();
    const refusedCli = await warden(['revoke', 'token', unknown, '-c', config]);
    assert.equal(refusedCli.code, 1);
    assert.match(refusedCli.stderr, /no token with id .* was issued by this gateway/);
    const foreign = await warden(['revoke', 'token', unknown, '--foreign', '-c', config, '--json']);
    assert.equal(foreign.code, 0, foreign.stderr);
    const out = JSON.parse(foreign.stdout) as { revocation: { kind: string; value: string; expiresAt: string | null }; created: boolean };
    assert.deepEqual([out.revocation.kind, out.revocation.value, out.revocation.expiresAt, out.created], ['token', unknown, null, true]);

    const badKind = await warden(['revoke', 'group', 'x', '-c', config]);
    assert.equal(badKind.code, 2, 'a usage error');
    assert.match(badKind.stderr, /unknown command 'group'/);
  });
});
