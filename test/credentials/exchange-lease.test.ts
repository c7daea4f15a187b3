/**
 * Token-exchange leases (RFC 8693) end to end: a task's HTTP upstream connection carries an access token the
 * downstream authorization server issued for exactly this user, agent and task, in exchange for a subject
 * token the gateway signed (verified there against the gateway's published JWKS); the agent never sees it;
 * when the task ends the token is revoked at the server (RFC 7009). Without a task no token is obtained.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startExchangeServer, type ExchangeServer } from '../fixtures/exchange-as.js';
import { startHeaderReporter, type HeaderReporter } from '../fixtures/header-reporter.js';
import { BearerSession, exchangeForm, startAuthGateway, tokenRequest, type AuthGateway } from '../helpers/auth.js';
import { ALLOW_ALL_POLICY } from '../helpers/gateway.js';
import { createTestIssuer, type TestIssuer } from '../helpers/idp.js';

describe('token-exchange leases', () => {
  const dir = mkdtempSync(join(tmpdir(), 'warden-exchange-'));
  let as: ExchangeServer;
  let reporter: HeaderReporter;
  let idp: TestIssuer;
  let gw: AuthGateway;
  const saved = process.env.WARDEN_TEST_EXCHANGE_SECRET;

  before(async () => {
    process.env.WARDEN_TEST_EXCHANGE_SECRET = 'exchange-client-secret-0123456789';
    reporter = await startHeaderReporter();
    idp = await createTestIssuer(dir);
    const ref: { gw?: AuthGateway } = {};
    as = await startExchangeServer({
      clientId: 'warden',
      clientSecret: process.env.WARDEN_TEST_EXCHANGE_SECRET,
      gatewayJwks: () => `${new URL(ref.gw!.publicUrl).origin}/.well-known/jwks.json`,
      gatewayIssuer: () => new URL(ref.gw!.publicUrl).origin,
      audience: 'https://api.downstream.test',
    });
    gw = await startAuthGateway(
      { api: { url: reporter.url, headers: { Authorization: 'Bearer ${lease:downstream}' } } },
      {
        auth: { issuers: [{ issuer: idp.issuer, jwksFile: idp.jwksFile }] },
        policy: { files: [ALLOW_ALL_POLICY] },
        leases: { downstream: { provider: 'oauth-exchange', tokenUrl: `${as.url}/token`, revocationUrl: `${as.url}/revoke`, clientId: 'warden', clientSecretEnv: 'WARDEN_TEST_EXCHANGE_SECRET', audience: 'https://api.downstream.test', scope: 'repo:read' } },
      },
    );
    ref.gw = gw;
  });

  after(async () => {
    await gw?.close();
    await reporter?.close();
    await as?.close();
    if (saved === undefined) delete process.env.WARDEN_TEST_EXCHANGE_SECRET;
    else process.env.WARDEN_TEST_EXCHANGE_SECRET = saved;
    rmSync(dir, { recursive: true, force: true });
  });

  test("the task's upstream gets a token issued for its user, agent and task; ending the task revokes it", async () => {
    const origin = new URL(gw.publicUrl).origin;
    const user = await idp.sign({ aud: gw.publicUrl, sub: 'alice', client_id: 'app' });
    const actor = await idp.sign({ aud: gw.publicUrl, sub: 'agent-a', client_id: 'agent-a' });
    const r = await tokenRequest(origin, exchangeForm(user, actor, { task_purpose: 'read repos', task_servers: 'api' }));
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const s = new BearerSession(gw.url, String(r.body.access_token));
    await s.initialize();
    const answer = await s.call('report');
    assert.match(answer, /\[redacted:lease\]/, 'the agent never sees the downstream token');
    const sent = reporter.requests.map((q) => String(q.headers.authorization)).find((h) => h.startsWith('Bearer at_'));
    assert.ok(sent, JSON.stringify(as.refused));
    const token = sent.slice('Bearer '.length);
    const claims = as.issued.get(token);
    const [task] = await gw.store.tasks.list({ limit: 1 });
    assert.deepEqual([claims?.sub, (claims?.act as { sub?: string } | undefined)?.sub, claims?.task], ['alice', 'agent-a', task?.id]);
    const [lease] = await gw.store.leases.active(task!.id);
    assert.equal(lease?.provider, 'oauth-exchange');
    assert.ok(!lease?.handle.includes(token), 'the lease is recorded by a digest, not the token');

    await gw.tasks.end(task!.id, 'alice');
    assert.ok(as.revoked.has(token), 'the token was revoked at the server when the task ended');
    assert.deepEqual(await gw.store.leases.active(task!.id), []);
  });

  test('without a task the upstream gets no token', async () => {
    const before = as.issued.size;
    const s = new BearerSession(gw.url, await idp.sign({ aud: gw.publicUrl, sub: 'agent-a', client_id: 'agent-a' }));
    await s.initialize();
    const { message } = await s.request('tools/call', { name: 'report', arguments: {} });
    assert.ok(message.error, JSON.stringify(message));
    assert.equal(as.issued.size, before);
  });
});
