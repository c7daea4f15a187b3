/**
 * Fuzz through the real gateway: an authenticated client (a real token) sends any JSON-RPC it likes, any
 * method, params, arguments and headers, and any bytes as a body. Every answer is a client error or a
 * JSON-RPC answer (never a 5xx, never a dropped connection), the gateway still serves another session
 * afterwards, and `warden audit verify` finds the chain intact.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { bearer, BearerSession, LATEST, post, startAuthGateway, type AuthGateway } from '../helpers/auth.js';
import { assertAuditIntact } from '../helpers/gateway.js';
import { createTestIssuer, type TestIssuer } from '../helpers/idp.js';
import { tsFixtureStdio } from '../helpers/servers.js';
import { fuzzParams } from './fuzz.js';

const CLIENT_ERRORS = new Set([400, 401, 403, 404, 405, 406, 409, 413, 415, 429]);
const METHODS = ['tools/call', 'tools/list', 'prompts/get', 'resources/read', 'resources/subscribe', 'completion/complete', 'logging/setLevel', 'ping', 'initialize', 'notifications/cancelled', 'server/discover', 'x/y'];

const anyValue = fc.oneof(fc.jsonValue({ maxDepth: 5 }), fc.string({ unit: 'binary', maxLength: 50 }), fc.constantFrom('\0', '/data/../../etc/passwd', '\ud800', 'x'.repeat(3000)));
const params = fc.oneof(
  fc.record({ name: fc.oneof(fc.constantFrom('bad__echo', 'bad__count', 'nope'), anyValue), arguments: fc.oneof(fc.dictionary(fc.string({ maxLength: 8 }), anyValue), anyValue) }, { requiredKeys: [] }),
  fc.record({ uri: anyValue, ref: anyValue, level: anyValue, _meta: fc.oneof(fc.record({ progressToken: anyValue }), anyValue), requestId: anyValue }, { requiredKeys: [] }),
  anyValue,
);
const message = fc.record(
  { jsonrpc: fc.oneof(fc.constant('2.0'), anyValue), id: fc.oneof(fc.integer(), fc.string({ maxLength: 10 }), anyValue), method: fc.oneof(fc.constantFrom(...METHODS), anyValue), params },
  { requiredKeys: ['jsonrpc'] },
);
const body = fc.oneof(
  message.map((m) => JSON.stringify(m)),
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.integer({ min: 60, max: 200 }).map((d) => `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"bad__echo","arguments":{"a":${'['.repeat(d)}${']'.repeat(d)}}}}`),
);
const headers = fc.record(
  { 'mcp-protocol-version': fc.constantFrom(LATEST, '2026-07-28', '1999-01-01', ''), 'content-type': fc.constantFrom('application/json', 'text/plain', 'application/json; charset=utf-8') },
  { requiredKeys: [] },
);

describe('fuzz: requests through the gateway', () => {
  let dir: string;
  let idp: TestIssuer;
  let gw: AuthGateway;
  let session: BearerSession;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'warden-fuzz-gw-'));
    idp = await createTestIssuer(dir);
    gw = await startAuthGateway({ bad: tsFixtureStdio('misbehaving-upstream.ts') }, { auth: { issuers: [{ issuer: idp.issuer, jwksFile: idp.jwksFile }] }, naming: { prefix: 'always' }, limits: { maxBodyBytes: 64 * 1024 } });
    session = new BearerSession(gw.url, await idp.sign({ aud: gw.publicUrl, sub: 'fuzzer', client_id: 'app-f', scope: 'mcp' }));
    await session.initialize();
  });

  after(async () => {
    await gw?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('any message: a client error or a JSON-RPC answer, never a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(body, headers, fc.boolean(), async (b, h, inSession) => {
        const r = await post(gw.url, b, { ...(inSession ? session.headers() : bearer(session.token)), ...h });
        assert.ok(r.status < 500, `HTTP ${r.status}: ${r.text.slice(0, 200)}`);
        if (r.status === 202) return;
        assert.ok(r.status === 200 || CLIENT_ERRORS.has(r.status), `HTTP ${r.status}`);
        assert.ok(r.messages.length > 0, `a JSON-RPC answer: ${r.text.slice(0, 200)}`);
        for (const m of r.messages) assert.equal(m.jsonrpc, '2.0');
      }),
      fuzzParams(150),
    );
  });

  test('found by this fuzzer: a method with a lone surrogate is refused (it broke the audit chain: stored, it read back as U+FFFD)', async () => {
    const r = await post(gw.url, '{"jsonrpc":"2.0","id":1,"method":"tools/\\ud800call"}', session.headers());
    assert.equal(r.status, 400, r.text);
    assert.match(r.text, /well-formed Unicode/);
  });

  test('afterwards another session is served and the audit chain is intact', async () => {
    const other = new BearerSession(gw.url, await idp.sign({ aud: gw.publicUrl, sub: 'someone', client_id: 'app-s', scope: 'mcp' }));
    await other.initialize();
    assert.equal(await other.call('bad__echo', { message: 'fine' }), 'fine');
    assert.doesNotMatch(gw.logs(), /Maximum call stack|unexpected error/);
    await assertAuditIntact(gw);
  });
});
