/**
 * Issue 11 item 5: redaction knows every value the gateway injected into any upstream connection, not only
 * the current session's. One HTTP upstream serves alice, carol and bob, each with their own credential
 * (userSecrets), and hands out every Authorization header it has seen; bob gets none of the others' values:
 * not as sent, not in another letter case (hex, base32), not cut in two across content items. Each
 * redaction is audited. Real JWTs, a real vault, a real HTTP upstream.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startHeaderReporter, type HeaderReporter } from '../fixtures/header-reporter.js';
import { auditAfter, BearerSession, lastAuditId, startAuthGateway, type AuthGateway } from '../helpers/auth.js';
import { ALLOW_ALL_POLICY } from '../helpers/gateway.js';
import { createTestIssuer, type TestIssuer } from '../helpers/idp.js';
import { seedVault } from '../helpers/vault.js';

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const SHARED = `shared-${randomBytes(8).toString('hex')}`;
/** Hex (lower case as stored) and base32 (upper case as stored): tools print both in either case. */
const ALICE = randomBytes(16).toString('hex');
const CAROL = Array.from(randomBytes(24), (b) => BASE32[b % 32]).join('');

describe('redaction spans every principal an upstream serves', () => {
  const dir = mkdtempSync(join(tmpdir(), 'warden-xredact-'));
  let reporter: HeaderReporter;
  let idp: TestIssuer;
  let gw: AuthGateway;

  const session = async (user: string): Promise<BearerSession> => {
    const s = new BearerSession(gw.url, await idp.sign({ aud: gw.publicUrl, sub: user, client_id: 'app' }));
    await s.initialize();
    return s;
  };

  before(async () => {
    const vault = await seedVault(dir, { 'gh/token': SHARED, 'gh/alice': ALICE, 'gh/carol': CAROL });
    reporter = await startHeaderReporter();
    idp = await createTestIssuer(dir);
    gw = await startAuthGateway(
      { gh: { url: reporter.url, headers: { Authorization: 'Bearer ${secret:gh/token}' }, userSecrets: { alice: { 'gh/token': 'gh/alice' }, carol: { 'gh/token': 'gh/carol' } } } },
      { store: vault.store, vault: { masterKeyFile: vault.keyFile }, auth: { issuers: [{ issuer: idp.issuer, jwksFile: idp.jwksFile }] }, policy: { files: [ALLOW_ALL_POLICY] } },
    );
    // alice and carol use the upstream: it now holds their credentials.
    for (const user of ['alice', 'carol']) await (await session(user)).call('report');
    const sent = reporter.requests.map((r) => String(r.headers.authorization));
    assert.ok(sent.includes(`Bearer ${ALICE}`) && sent.includes(`Bearer ${CAROL}`));
  });

  after(async () => {
    await gw?.close();
    await reporter?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const leaks = (text: string): string[] =>
    [
      [ALICE, 'alice'],
      [ALICE.toUpperCase(), 'alice (upper case)'],
      [CAROL, 'carol'],
      [CAROL.toLowerCase(), 'carol (lower case)'],
      [SHARED, 'shared'],
    ]
      .filter(([v]) => text.includes(v!))
      .map(([, who]) => who!);

  test("bob's session never receives another principal's injected credential, in any case, however the upstream cuts it", async () => {
    const bob = await session('bob');
    const mark = await lastAuditId(gw);
    for (const args of [{}, { case: 'upper' }, { case: 'lower' }, { split: true }, { split: true, case: 'upper' }]) {
      const { message } = await bob.request('tools/call', { name: 'history', arguments: args });
      const result = message.result as { content: Array<{ text: string }> };
      assert.ok(result, JSON.stringify(message));
      const shown = result.content.map((c) => c.text).join('');
      assert.deepEqual(leaks(shown), [], `${JSON.stringify(args)}: ${shown}`);
      assert.match(shown, /\[redacted:gh\/alice\]/, JSON.stringify(args));
      assert.match(shown, /\[redacted:gh\/carol\]/, JSON.stringify(args));
    }
    const redactions = (await auditAfter(gw, mark)).filter((e) => e.method === 'response/redacted');
    assert.equal(redactions.length, 5, 'each redacted response is its own audit event');
    assert.ok(redactions.every((e) => e.user === 'bob'));
  });
});
