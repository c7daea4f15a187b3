/**
 * A third-party client with a bearer token: `@modelcontextprotocol/inspector-cli --header "Authorization:
 * Bearer ..."` lists the tools with a valid token, and with each bad token exits non-zero naming the 401,
 * while the upstream (a fixture recording every message it receives) sees nothing.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { generateKeyPair } from 'jose';
import { assertNoTrace, auditAfter, handMadeJwt, lastAuditId, nowSeconds, quiet, recorded, signWith, startAuthGateway, type AuthGateway } from '../helpers/auth.js';
import { INSPECTOR_ENTRY, run } from '../helpers/e2e.js';
import { createTestIssuer, type TestIssuer } from '../helpers/idp.js';
import { ROOT, tsFixtureStdio } from '../helpers/servers.js';

/** inspector-cli 1.0.3 must run from a directory whose parent holds a package.json (see test/e2e/inspector.test.ts). */
const INSPECTOR_CWD = join(ROOT, 'test');

const inspector = (url: string, token: string) =>
  run(process.execPath, [INSPECTOR_ENTRY, url, '--transport', 'http', '--method', 'tools/list', '--header', `Authorization: Bearer ${token}`], { cwd: INSPECTOR_CWD, timeoutMs: 20_000 });

describe('inspector-cli with a bearer token', () => {
  let dir: string;
  let idp: TestIssuer;
  let gw: AuthGateway;
  let rec: string;

  before(async () => {
    assert.ok(existsSync(INSPECTOR_ENTRY), `${INSPECTOR_ENTRY} missing: is the devDependency installed?`);
    dir = mkdtempSync(join(tmpdir(), 'warden-inspector-auth-'));
    idp = await createTestIssuer(dir);
    rec = join(dir, 'upstream.log');
    gw = await startAuthGateway({ rec: tsFixtureStdio('recording-upstream.ts', [], { RECORD_FILE: rec }) }, { auth: { issuers: [{ issuer: idp.issuer, jwksFile: idp.jwksFile }] } });
  });

  after(async () => {
    await gw?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a valid token lists the tools (exit 0)', async () => {
    const token = await idp.sign({ aud: gw.publicUrl, sub: 'alice', client_id: 'inspector' });
    const r = await inspector(gw.url, token);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    const names = ((JSON.parse(r.stdout) as { tools: Array<{ name: string }> }).tools ?? []).map((t) => t.name);
    assert.ok(names.some((n) => n.endsWith('echo')), names.join(', '));
    await quiet(rec);
  });

  const bad: Array<[string, () => Promise<string>]> = [
    ['expired', () => idp.sign({ aud: gw.publicUrl, sub: 'alice', client_id: 'inspector', iat: nowSeconds() - 900, exp: nowSeconds() - 300 })],
    ['wrong audience', () => idp.sign({ aud: 'https://other.example/mcp', sub: 'alice', client_id: 'inspector' })],
    ['alg none', async () => handMadeJwt({ alg: 'none', typ: 'at+jwt' }, { iss: idp.issuer, aud: gw.publicUrl, sub: 'alice', client_id: 'inspector', exp: nowSeconds() + 300 })],
    ['forged signature', async () => signWith((await generateKeyPair('ES256')).privateKey, { alg: 'ES256', kid: idp.kid, typ: 'at+jwt' }, { iss: idp.issuer, aud: gw.publicUrl, sub: 'alice', client_id: 'inspector' })],
  ];
  for (const [name, make] of bad) {
    test(`${name}: exits non-zero with the 401's invalid_token, and the upstream sees nothing`, async () => {
      const token = await make();
      const before = recorded(rec).length;
      const auditBefore = await lastAuditId(gw);
      const r = await inspector(gw.url, token);
      assert.notEqual(r.code, 0, `${r.stdout}\n${r.stderr}`);
      // The CLI prints the JSON-RPC error body of the 401 (reason invalid_token), not the status line.
      assert.match(`${r.stdout}\n${r.stderr}`, /invalid_token/);
      const events = await auditAfter(gw, auditBefore);
      assert.ok(events.length > 0 && events.every((e) => e.errorCode === 'unauthenticated'), JSON.stringify(events));
      assert.equal(recorded(rec).length, before, 'the upstream saw nothing');
      await assertNoTrace(gw, token);
    });
  }
});
