/**
 * Workload identity without SPIRE. JWT-SVIDs minted with jose against a trust bundle on disk (keys with
 * use "jwt-svid"): the SPIFFE ID becomes the agent; wrong trust domain, missing audience, HMAC, expired and
 * other bad SVIDs are 401. X.509-SVIDs over an mTLS listener (certificates made with openssl): exactly one
 * URI SAN in the trust domain authenticates without a bearer token; two SANs, a CA certificate, another
 * trust domain are 401; a certificate from another CA, or none, does not complete the handshake.
 */
import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { exportJWK, generateKeyPair, type CryptoKey, type JWTPayload } from 'jose';
import { auditAfter, bearer, BearerSession, handMadeJwt, initializeBody, LATEST, lastAuditId, nowSeconds, post, quiet, recorded, signWith, startAuthGateway, type AuthGateway } from '../helpers/auth.js';
import { parseBody } from '../helpers/mcp-http.js';
import { httpsCall, makeCert, makeRootCa, svidExtensions, type CertFiles, type HttpsResult } from '../helpers/pki.js';
import { tsFixtureStdio } from '../helpers/servers.js';

const TD = 'example.org';

interface Bundle {
  file: string;
  svidKey: CryptoKey;
  svidKid: string;
  /** A key published for X.509-SVIDs only: it must not verify JWT-SVIDs. */
  x509Key: CryptoKey;
  x509Kid: string;
  publicPem: string;
}

async function writeBundle(dir: string): Promise<Bundle> {
  const svid = await generateKeyPair('ES256', { extractable: true });
  const x509 = await generateKeyPair('ES256', { extractable: true });
  const svidJwk = { ...(await exportJWK(svid.publicKey)), kid: 'svid-k1', use: 'jwt-svid' };
  const file = join(dir, 'bundle.json');
  writeFileSync(file, JSON.stringify({ keys: [svidJwk, { ...(await exportJWK(x509.publicKey)), kid: 'x509-k1', use: 'x509-svid' }] }));
  const publicPem = createPublicKey({ key: svidJwk as never, format: 'jwk' }).export({ type: 'spki', format: 'pem' }) as string;
  return { file, svidKey: svid.privateKey, svidKid: 'svid-k1', x509Key: x509.privateKey, x509Kid: 'x509-k1', publicPem };
}

describe('SPIFFE JWT-SVIDs', () => {
  let dir: string;
  let bundle: Bundle;
  let gw: AuthGateway;
  let rec: string;

  const svid = (claims: JWTPayload, header: Record<string, unknown> = {}, key?: CryptoKey | Uint8Array) =>
    signWith(key ?? bundle.svidKey, { alg: 'ES256', kid: bundle.svidKid, typ: 'JWT', ...header }, { sub: `spiffe://${TD}/agent/a1`, aud: gw.publicUrl, ...claims });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'warden-spiffe-'));
    bundle = await writeBundle(dir);
    rec = join(dir, 'upstream.log');
    gw = await startAuthGateway(
      { rec: tsFixtureStdio('recording-upstream.ts', [], { RECORD_FILE: rec }) },
      { auth: { spiffe: { trustDomain: TD, bundleFile: bundle.file } }, agents: { [`spiffe://${TD}/agent/a1`]: { tenant: 'acme', owner: 'ops@example.org' } } },
    );
  });

  after(async () => {
    await gw?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a valid JWT-SVID is accepted; the SPIFFE ID is the agent, the registered tenant applies', async () => {
    const auditBefore = await lastAuditId(gw);
    const token = await svid({});
    const s = new BearerSession(gw.url, token);
    await s.initialize();
    assert.ok((await s.toolNames()).length > 0);
    const ev = (await auditAfter(gw, auditBefore)).find((e) => e.method === 'initialize');
    assert.equal(ev?.agent, `spiffe://${TD}/agent/a1`);
    assert.equal(ev?.user, null);
    assert.equal(ev?.tenant, 'acme');
    assert.equal(ev?.authMethod, 'spiffe-jwt');
    // Without typ, and with aud as an array holding us, it is also valid.
    const s2 = new BearerSession(gw.url, await svid({ aud: [gw.publicUrl] }, { typ: undefined }));
    await s2.initialize();
    assert.ok((await s2.toolNames()).length > 0);
    await quiet(rec);
  });

  const bad: Array<{ name: string; token: () => Promise<string> }> = [
    { name: 'wrong trust domain', token: () => svid({ sub: 'spiffe://evil.org/agent/a1' }) },
    { name: 'trust domain as a suffix', token: () => svid({ sub: `spiffe://${TD}.evil.org/agent/a1` }) },
    { name: 'no path (the trust domain itself)', token: () => svid({ sub: `spiffe://${TD}` }) },
    { name: 'missing aud', token: () => svid({ aud: undefined }) },
    { name: 'another audience', token: () => svid({ aud: 'spiffe://example.org/other-service' }) },
    { name: 'HS256 with the bundle public key as the secret', token: () => svid({}, { alg: 'HS256' }, new TextEncoder().encode(bundle.publicPem)) },
    { name: 'alg none', token: async () => handMadeJwt({ alg: 'none', typ: 'JWT' }, { sub: `spiffe://${TD}/agent/a1`, aud: gw.publicUrl, exp: nowSeconds() + 300 }) },
    { name: 'expired', token: () => svid({ iat: nowSeconds() - 900, exp: nowSeconds() - 300 }) },
    { name: 'no exp', token: () => svid({ exp: undefined }) },
    { name: 'signed by the x509-svid key of the bundle', token: () => svid({}, { kid: bundle.x509Kid }, bundle.x509Key) },
    {
      name: 'signed by a key outside the bundle with the bundle kid',
      token: async () => svid({}, {}, (await generateKeyPair('ES256')).privateKey),
    },
    { name: 'typ at+jwt (not a JWT-SVID type)', token: () => svid({}, { typ: 'at+jwt' }) },
    { name: 'a dot-segment path (SPIFFE ID spec: no . or .. segments)', token: () => svid({ sub: `spiffe://${TD}/agent/../admin` }) },
    { name: 'a percent-encoded path (SPIFFE ID spec: only [a-zA-Z0-9.-_] in segments)', token: () => svid({ sub: `spiffe://${TD}/agent%2Fa1` }) },
  ];

  for (const c of bad) {
    test(`${c.name} -> 401`, async () => {
      const token = await c.token();
      const upstreamBefore = recorded(rec).length;
      const auditBefore = await lastAuditId(gw);
      const r = await post(gw.url, initializeBody(), bearer(token));
      assert.equal(r.status, 401, r.text);
      assert.match(r.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
      const events = await auditAfter(gw, auditBefore);
      assert.ok(events.some((e) => e.errorCode === 'unauthenticated'), JSON.stringify(events));
      assert.ok(!JSON.stringify(events).includes(token) && !gw.logs().includes(token));
      assert.equal(recorded(rec).length, upstreamBefore);
    });
  }
});

describe('X.509-SVIDs over mTLS', () => {
  let dir: string;
  let gw: AuthGateway;
  let rec: string;
  let serverCa: CertFiles;
  const certs: Record<string, CertFiles> = {};

  /** An MCP POST over the mTLS listener. */
  const mcp = (client: CertFiles | undefined, body: unknown, headers: Record<string, string> = {}): Promise<HttpsResult> =>
    httpsCall(gw.publicUrl, 'POST', { ca: serverCa.cert, ...(client ? { client } : {}) }, { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers }, JSON.stringify(body));

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'warden-mtls-'));
    serverCa = makeRootCa(dir, 'server-ca');
    const server = makeCert(dir, 'server', serverCa, ['basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature', 'extendedKeyUsage=serverAuth', 'subjectAltName=IP:127.0.0.1']);
    const spiffeCa = makeRootCa(dir, 'spiffe-ca');
    const otherCa = makeRootCa(dir, 'other-ca');
    certs.good = makeCert(dir, 'agent-m1', spiffeCa, svidExtensions(`spiffe://${TD}/agent/m1`));
    certs.twoSans = makeCert(dir, 'agent-two', spiffeCa, svidExtensions(`spiffe://${TD}/agent/m2`, `spiffe://${TD}/agent/m3`));
    certs.noUri = makeCert(dir, 'agent-nouri', spiffeCa, [...svidExtensions(), 'subjectAltName=DNS:agent.example.org']);
    certs.otherDomain = makeCert(dir, 'agent-otherdomain', spiffeCa, svidExtensions('spiffe://other.org/agent/m1'));
    certs.otherCa = makeCert(dir, 'agent-otherca', otherCa, svidExtensions(`spiffe://${TD}/agent/m1`));
    // A CA certificate (an intermediate under the trusted root) presented as a client certificate.
    certs.caAsClient = makeCert(dir, 'intermediate', spiffeCa, [
      'basicConstraints=critical,CA:TRUE',
      'keyUsage=critical,digitalSignature,keyCertSign,cRLSign',
      'extendedKeyUsage=clientAuth',
      `subjectAltName=URI:spiffe://${TD}/agent/ca1`,
    ]);
    certs.rootAsClient = spiffeCa;
    const bundle = await writeBundle(dir);
    rec = join(dir, 'upstream.log');
    gw = await startAuthGateway(
      { rec: tsFixtureStdio('recording-upstream.ts', [], { RECORD_FILE: rec }) },
      { tls: { certFile: server.cert, keyFile: server.key, clientCaFile: spiffeCa.cert }, auth: { spiffe: { trustDomain: TD, bundleFile: bundle.file } } },
      'https',
    );
  });

  after(async () => {
    await gw?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the agent certificate with one URI SAN and no bearer token is authenticated (authMethod mtls)', async () => {
    const auditBefore = await lastAuditId(gw);
    const init = await mcp(certs.good, initializeBody());
    assert.equal(init.status, 200, init.text);
    const sid = String(init.headers['mcp-session-id'] ?? '');
    assert.ok(sid);
    const h = { 'mcp-session-id': sid, 'mcp-protocol-version': LATEST };
    assert.equal((await mcp(certs.good, { jsonrpc: '2.0', method: 'notifications/initialized' }, h)).status, 202);
    const list = await mcp(certs.good, { jsonrpc: '2.0', id: 2, method: 'tools/list' }, h);
    const tools = ((parseBody(String(list.headers['content-type']), list.text)[0]?.result as { tools: Array<{ name: string }> }).tools ?? []).map((t) => t.name);
    const echo = tools.find((n) => n.endsWith('echo'))!;
    const call = await mcp(certs.good, { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: echo, arguments: { message: 'over mtls' } } }, h);
    assert.equal(call.status, 200);
    assert.match(call.text, /over mtls/);
    const ev = (await auditAfter(gw, auditBefore)).find((e) => e.method === 'tools/call' && e.outcome !== 'intent');
    assert.equal(ev?.agent, `spiffe://${TD}/agent/m1`);
    assert.equal(ev?.authMethod, 'mtls');
    assert.equal(ev?.user, null);
    await quiet(rec);
  });

  const refusedAfterHandshake: Array<[string, string]> = [
    ['two URI SANs', 'twoSans'],
    ['no URI SAN', 'noUri'],
    ['a URI SAN in another trust domain', 'otherDomain'],
    ['an intermediate CA certificate with a SPIFFE URI SAN', 'caAsClient'],
  ];
  for (const [name, cert] of refusedAfterHandshake) {
    test(`${name} -> 401`, async () => {
      const upstreamBefore = recorded(rec).length;
      const auditBefore = await lastAuditId(gw);
      const r = await mcp(certs[cert], initializeBody());
      assert.equal(r.status, 401, r.text);
      assert.match(String(r.headers['www-authenticate']), /resource_metadata=/);
      const events = await auditAfter(gw, auditBefore);
      assert.ok(events.length > 0 && events.every((e) => e.outcome !== 'ok' && e.authMethod !== 'mtls'), JSON.stringify(events));
      assert.equal(recorded(rec).length, upstreamBefore);
    });
  }

  test('the trusted root CA certificate itself (no digitalSignature) is refused: in the handshake or with 401', async () => {
    const upstreamBefore = recorded(rec).length;
    const r = await mcp(certs.rootAsClient, initializeBody()).catch((err: Error) => err);
    if (r instanceof Error) assert.match(r.message, /socket hang up|alert|certificate|ECONNRESET/i);
    else assert.equal(r.status, 401, r.text);
    assert.equal(recorded(rec).length, upstreamBefore);
  });

  test('a bearer token, if sent, is the credential: a bad one is 401 even with a good certificate', async () => {
    const r = await mcp(certs.good, initializeBody(), bearer('not.a.token'));
    assert.equal(r.status, 401);
  });

  test('a certificate from another CA is refused in the TLS handshake', async () => {
    const upstreamBefore = recorded(rec).length;
    await assert.rejects(mcp(certs.otherCa, initializeBody()), (err: Error & { code?: string }) => {
      assert.match(`${err.code ?? ''} ${err.message}`, /ECONNRESET|alert|certificate|socket hang up|EPIPE/i);
      return true;
    });
    assert.equal(recorded(rec).length, upstreamBefore);
  });

  test('no client certificate: the handshake is refused', async () => {
    await assert.rejects(mcp(undefined, initializeBody()), (err: Error & { code?: string }) => {
      assert.match(`${err.code ?? ''} ${err.message}`, /ECONNRESET|alert|certificate|socket hang up|EPIPE/i);
      return true;
    });
  });

  test('the server certificate is checked by the client (a client trusting another CA refuses the gateway)', async () => {
    await assert.rejects(httpsCall(gw.publicUrl, 'GET', { ca: certs.otherCa!.cert, client: certs.good! }), /self.signed|unable to verify|certificate/i);
  });
});
