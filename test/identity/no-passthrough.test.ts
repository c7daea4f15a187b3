/**
 * No token passthrough (MCP authorization spec; issue 3 item 5). Upstreams that report what they received
 * (the headers of every HTTP request, the environment of a stdio process) never see the client's bearer
 * token, an Authorization header the operator did not configure, or the client's Mcp-Session-Id, whether
 * the client calls with an IdP token, a gateway token, or statelessly (2026-07-28).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { bearer, BearerSession, exchangeForm, post, startAuthGateway, tokenPieces, tokenRequest, type AuthGateway } from '../helpers/auth.js';
import { createTestIssuer, type TestIssuer } from '../helpers/idp.js';
import { tsFixtureStdio } from '../helpers/servers.js';
import { startHeaderReporter, type HeaderReporter } from '../fixtures/header-reporter.js';

const MODERN = '2026-07-28';
const CONFIGURED = 'Bearer upstream-static-credential-for-hdrcfg';

describe('no upstream ever receives the client token or the client session id', () => {
  let dir: string;
  let idp: TestIssuer;
  let gw: AuthGateway;
  let plain: HeaderReporter;
  let configured: HeaderReporter;
  const secrets: string[] = [];
  const clientSessions: string[] = [];

  /** Fails if `text` holds any client token piece or client session id. */
  const clean = (where: string, text: string) => {
    for (const t of secrets) for (const piece of tokenPieces(t)) assert.ok(!text.includes(piece), `${where} contains the client token`);
    for (const sid of clientSessions) assert.ok(!text.includes(sid), `${where} contains the client's Mcp-Session-Id`);
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'warden-nopass-'));
    idp = await createTestIssuer(dir);
    plain = await startHeaderReporter();
    configured = await startHeaderReporter();
    gw = await startAuthGateway(
      {
        hdr: { url: plain.url },
        hdrcfg: { url: configured.url, headers: { Authorization: CONFIGURED } },
        env: tsFixtureStdio('misbehaving-upstream.ts'),
      },
      { auth: { issuers: [{ issuer: idp.issuer, jwksFile: idp.jwksFile }] } },
    );
  });

  after(async () => {
    await gw?.close();
    await plain?.close();
    await configured?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function exercise(token: string): Promise<void> {
    secrets.push(token);
    const s = new BearerSession(gw.url, token);
    await s.initialize();
    clientSessions.push(s.sessionId);
    const names = await s.toolNames();
    for (const n of ['hdr__report', 'hdrcfg__report', 'env__env']) assert.ok(names.includes(n), `${n} missing from ${names.join(', ')}`);

    const seen = JSON.parse(await s.call('hdr__report')) as Record<string, string>;
    assert.equal(seen.authorization, undefined, 'an upstream without configured headers gets no Authorization header');
    clean('the headers reported by hdr', JSON.stringify(seen));
    if (seen['mcp-session-id'] !== undefined) assert.ok(plain.sessionIds.includes(seen['mcp-session-id']), 'only the upstream’s own session id');

    const seenCfg = JSON.parse(await s.call('hdrcfg__report')) as Record<string, string>;
    assert.equal(seenCfg.authorization, CONFIGURED, 'the configured header, exactly, and not the client token');
    clean('the headers reported by hdrcfg', JSON.stringify(seenCfg));

    const env = await s.call('env__env');
    clean('the stdio upstream environment', env);
    assert.ok(!/authorization/i.test(Object.keys(JSON.parse(env) as object).join(' ')), 'no authorization variable');
    assert.ok(!env.includes('Bearer '), 'no bearer credential in the environment');
  }

  test('with a token from the trusted issuer', async () => {
    await exercise(await idp.sign({ aud: gw.publicUrl, sub: 'alice', client_id: 'app-1', scope: 'mcp:tools' }));
  });

  test('with a gateway token from the token service', async () => {
    const subject = await idp.sign({ aud: gw.publicUrl, sub: 'alice', client_id: 'app-1', scope: 'mcp:tools' });
    const actor = await idp.sign({ aud: gw.publicUrl, sub: 'agent-a', client_id: 'agent-a' });
    secrets.push(subject, actor);
    const r = await tokenRequest(new URL(gw.publicUrl).origin, exchangeForm(subject, actor));
    assert.equal(r.status, 200, JSON.stringify(r.body));
    await exercise(String(r.body.access_token));
  });

  test('with a stateless 2026-07-28 request', async () => {
    const token = await idp.sign({ aud: gw.publicUrl, sub: 'bob', client_id: 'app-2', scope: 'mcp:tools' });
    secrets.push(token);
    const meta = { 'io.modelcontextprotocol/protocolVersion': MODERN, 'io.modelcontextprotocol/clientInfo': { name: 'nopass', version: '0' }, 'io.modelcontextprotocol/clientCapabilities': {} };
    const r = await post(
      gw.url,
      { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'hdr__report', arguments: {}, _meta: meta } },
      { ...bearer(token), 'mcp-protocol-version': MODERN, 'mcp-method': 'tools/call', 'mcp-name': 'hdr__report' },
    );
    assert.equal(r.status, 200, r.text);
    const text = ((r.messages.at(-1)?.result as { content: Array<{ text: string }> } | undefined)?.content ?? [])[0]?.text ?? '';
    assert.ok(text.length > 0, r.text);
    const seen = JSON.parse(text) as Record<string, string>;
    assert.equal(seen.authorization, undefined);
    clean('the headers reported on the stateless path', text);
  });

  test('across every request either HTTP upstream received (initialize, notifications, lists, calls, GET, DELETE)', async () => {
    assert.ok(plain.requests.length >= 4 && configured.requests.length >= 4);
    for (const [name, server] of [['hdr', plain], ['hdrcfg', configured]] as const) {
      for (const req of server.requests) {
        clean(`${name} ${req.method} headers`, JSON.stringify(req.headers));
        clean(`${name} ${req.method} body`, req.body);
        if (name === 'hdr') assert.equal(req.headers.authorization, undefined, `${req.method} to hdr carried an Authorization header`);
        else assert.equal(req.headers.authorization, CONFIGURED);
        const sid = req.headers['mcp-session-id'];
        if (sid !== undefined) assert.ok(server.sessionIds.includes(String(sid)), `${name} got a session id it did not issue`);
      }
    }
  });
});
