/**
 * Per-user upstream credentials (userSecrets): alice's sessions send her own token upstream, bob's the
 * shared one; a mapping whose secret is gone fails alice's connection rather than falling back to the shared
 * token; a mapping to a missing secret, or of a secret the server does not use, stops the start. Real JWTs,
 * a real HTTP upstream that reports the headers it received.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Vault } from '../../src/credentials/index.js';
import { openStore } from '../../src/store/index.js';
import { startHeaderReporter, type HeaderReporter } from '../fixtures/header-reporter.js';
import { BearerSession, startAuthGateway, type AuthGateway } from '../helpers/auth.js';
import { waitFor } from '../helpers/e2e.js';
import { ALLOW_ALL_POLICY } from '../helpers/gateway.js';
import { createTestIssuer, type TestIssuer } from '../helpers/idp.js';

const SHARED = `shared-${randomBytes(8).toString('hex')}`;
const ALICE = `alice-${randomBytes(8).toString('hex')}`;

describe('per-user upstream credentials', () => {
  const dir = mkdtempSync(join(tmpdir(), 'warden-user-secrets-'));
  const keyFile = join(dir, 'master.key');
  const key = randomBytes(32);
  let reporter: HeaderReporter;
  let idp: TestIssuer;
  let gw: AuthGateway | undefined;

  const server = (map: Record<string, Record<string, string>>) => ({ gh: { url: reporter.url, headers: { Authorization: 'Bearer ${secret:gh/token}' }, userSecrets: map } });
  // Connections are kept per user until idle (limits.upstreamIdleMs): short here, so a test can wait for the next one.
  const extra = () => ({ limits: { upstreamIdleMs: 1_000 }, store: join(dir, 'warden.db'), vault: { masterKeyFile: keyFile }, auth: { issuers: [{ issuer: idp.issuer, jwksFile: idp.jwksFile }] }, policy: { files: [ALLOW_ALL_POLICY] } });
  const sentBy = async (user: string): Promise<string> => {
    const s = new BearerSession(gw!.url, await idp.sign({ aud: gw!.publicUrl, sub: user, client_id: 'app' }));
    await s.initialize();
    const { message } = await s.request('tools/call', { name: 'report', arguments: {} });
    const text = (message.result as { content?: { text?: string }[] } | undefined)?.content?.[0]?.text;
    if (text === undefined) return `error: ${JSON.stringify(message.error)}`;
    return String((JSON.parse(text) as Record<string, string>).authorization);
  };

  before(async () => {
    writeFileSync(keyFile, key.toString('hex'));
    const store = await openStore(join(dir, 'warden.db'));
    const vault = await Vault.open(store.secrets, { current: key });
    await vault.set({ name: 'gh/token' }, SHARED);
    await vault.set({ name: 'gh/alice' }, ALICE);
    vault.close();
    await store.close();
    reporter = await startHeaderReporter();
    idp = await createTestIssuer(dir);
  });

  after(async () => {
    await gw?.close().catch(() => undefined);
    await reporter?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("alice's calls carry her own credential, bob's the shared one; neither value reaches the client", async () => {
    gw = await startAuthGateway(server({ alice: { 'gh/token': 'gh/alice' } }), extra());
    // The reporter answers with the headers it got; the gateway redacts injected values on the way back.
    assert.equal(await sentBy('alice'), 'Bearer [redacted:gh/alice]');
    assert.equal(await sentBy('bob'), 'Bearer [redacted:gh/token]');
    const seen = reporter.requests.map((r) => String(r.headers.authorization));
    assert.ok(seen.includes(`Bearer ${ALICE}`) && seen.includes(`Bearer ${SHARED}`), 'the upstream received each user its own token');
    const events = await gw.store.audit.tail({ limit: 50 });
    assert.ok(events.some((e) => e.method === 'secret/use' && e.user === 'alice' && e.target === 'gh/alice'));

    // Alice's secret removed: her next connection fails, it does not fall back to the shared token. Her
    // open per-user connection keeps what it was given until it is idle and closed.
    const store = gw.store;
    const vault = await Vault.open(store.secrets, { current: key });
    await vault.remove({ name: 'gh/alice' });
    vault.close();
    const g = gw;
    assert.ok(await waitFor(() => g.gateway.pool.stats.connections === 0, 15_000), 'idle connections were not closed');
    const before = reporter.requests.length;
    assert.match(await sentBy('alice'), /^error: /);
    assert.ok(reporter.requests.slice(before).every((r) => String(r.headers.authorization) !== `Bearer ${SHARED}`), 'alice was never sent the shared token');
    await gw.close();
    gw = undefined;
  });

  test('a mapping to a missing secret, or of a secret the server does not use, stops the start', async () => {
    await assert.rejects(startAuthGateway(server({ carol: { 'gh/token': 'gh/carol' } }), extra()), /userSecrets\.carol: secret gh\/carol/);
    await assert.rejects(startAuthGateway(server({ dave: { 'other/token': 'gh/token' } }), extra()), /maps other\/token, which the server does not refer to/);
  });
});
