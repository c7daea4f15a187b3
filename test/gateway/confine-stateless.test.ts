/**
 * Issue 11 item 4: stateless (2026-07-28) requests get the isolation sessions get. alice's stateless call
 * carries her own credential (userSecrets), bob's the shared one, and neither value reaches the client;
 * log messages that alice's call set off on server-everything never appear in bob's response, while alice
 * still gets them. Real JWTs, a real vault, real server-everything and an HTTP upstream that reports what
 * it received.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startHeaderReporter, type HeaderReporter } from '../fixtures/header-reporter.js';
import { auditAfter, bearer, lastAuditId, post, startAuthGateway, type AuthGateway } from '../helpers/auth.js';
import { ALLOW_ALL_POLICY } from '../helpers/gateway.js';
import { createTestIssuer, type TestIssuer } from '../helpers/idp.js';
import { seedVault } from '../helpers/vault.js';
import type { RawResponse } from '../helpers/mcp-http.js';
import { everythingStdio } from '../helpers/servers.js';

const MODERN = '2026-07-28';
const SHARED = `shared-${randomBytes(8).toString('hex')}`;
const ALICE = `alice-${randomBytes(8).toString('hex')}`;
let nextId = 1;

/** A stateless request: version in `_meta`, mirrored headers, the caller's bearer token. */
function stateless(url: string, token: string, method: string, params: Record<string, unknown>): Promise<RawResponse> {
  const body = { jsonrpc: '2.0', id: nextId++, method, params: { ...params, _meta: { ...(params._meta as object), 'io.modelcontextprotocol/protocolVersion': MODERN, 'io.modelcontextprotocol/clientCapabilities': {} } } };
  const headers: Record<string, string> = { ...bearer(token), 'mcp-protocol-version': MODERN, 'mcp-method': method };
  if (typeof params.name === 'string') headers['mcp-name'] = params.name;
  return post(url, body, headers).then((r) => r);
}

describe('stateless requests are isolated like sessions', () => {
  const dir = mkdtempSync(join(tmpdir(), 'warden-stateless-'));
  let reporter: HeaderReporter;
  let idp: TestIssuer;
  let gw: AuthGateway;
  const token = (user: string) => idp.sign({ aud: gw.publicUrl, sub: user, client_id: 'app' });

  before(async () => {
    const vault = await seedVault(dir, { 'gh/token': SHARED, 'gh/alice': ALICE });
    reporter = await startHeaderReporter();
    idp = await createTestIssuer(dir);
    gw = await startAuthGateway(
      { gh: { url: reporter.url, headers: { Authorization: 'Bearer ${secret:gh/token}' }, userSecrets: { alice: { 'gh/token': 'gh/alice' } } }, ev: everythingStdio() },
      { store: vault.store, vault: { masterKeyFile: vault.keyFile }, auth: { issuers: [{ issuer: idp.issuer, jwksFile: idp.jwksFile }] }, policy: { files: [ALLOW_ALL_POLICY] }, limits: { callTimeoutMs: 30_000 } },
    );
  });

  after(async () => {
    await gw?.close();
    await reporter?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const reported = async (user: string): Promise<string> => {
    const r = await stateless(gw.url, await token(user), 'tools/call', { name: 'gh__report', arguments: {} });
    const m = r.messages.at(-1) as { result?: { content: Array<{ text: string }> }; error?: unknown };
    assert.ok(m.result, JSON.stringify(m));
    return String((JSON.parse(m.result.content[0]!.text) as Record<string, string>).authorization);
  };

  test("alice's stateless call carries her own credential, bob's the shared one; the client sees neither", async () => {
    const mark = await lastAuditId(gw);
    assert.equal(await reported('alice'), 'Bearer [redacted:gh/alice]');
    assert.equal(await reported('bob'), 'Bearer [redacted:gh/token]');
    const sent = reporter.requests.filter((r) => r.body.includes('"tools/call"')).map((r) => String(r.headers.authorization));
    assert.deepEqual(sent, [`Bearer ${ALICE}`, `Bearer ${SHARED}`], 'each user its own credential upstream');
    const uses = (await auditAfter(gw, mark)).filter((e) => e.method === 'secret/use');
    assert.deepEqual(uses.map((e) => [e.user, e.target]).sort(), [['alice', 'gh/alice'], ['bob', 'gh/token']]);
  });

  test("log messages alice's call set off never reach bob's stateless response; alice gets them", async () => {
    const alice = await token('alice');
    const bob = await token('bob');
    const toggled = await stateless(gw.url, alice, 'tools/call', { name: 'ev__toggle-simulated-logging', arguments: {} });
    assert.ok(toggled.messages.some((m) => m.result), toggled.text);
    // server-everything now logs to alice's connection every 5 s. Bob's call spans at least one of those ticks.
    const bobs = await stateless(gw.url, bob, 'tools/call', { name: 'ev__trigger-long-running-operation', arguments: { duration: 7, steps: 7 }, _meta: { progressToken: 'bob-progress' } });
    const bobMethods = bobs.messages.map((m) => m.method ?? 'response');
    assert.ok(bobMethods.includes('notifications/progress'), `bob gets his own progress: ${bobMethods.join(', ')}`);
    assert.ok(!bobMethods.includes('notifications/message'), `bob received another principal's log messages: ${bobs.text.slice(0, 400)}`);
    assert.ok(bobs.messages.filter((m) => m.method === 'notifications/progress').every((m) => (m.params as { progressToken: string }).progressToken === 'bob-progress'));
    const alices = await stateless(gw.url, alice, 'tools/call', { name: 'ev__trigger-long-running-operation', arguments: { duration: 7, steps: 7 } });
    assert.ok(alices.messages.some((m) => m.method === 'notifications/message'), `alice gets her own log messages: ${alices.text.slice(0, 400)}`);
  });
});
