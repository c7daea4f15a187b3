/**
 * Attack across a connection shared by several people (`share: shared`): alice subscribes to a resource;
 * mallory, on the same upstream connection, unsubscribes from it. The upstream keeps one subscription per
 * connection, so forwarding mallory's unsubscribe would silently stop alice's updates. Real tokens, a real
 * gateway, the conformance upstream (stdio) whose `test_trigger_tool_change` reports how many it holds.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { BearerSession, startAuthGateway, type AuthGateway } from '../helpers/auth.js';
import { tempDir } from '../helpers/e2e.js';
import { createTestIssuer, type TestIssuer } from '../helpers/idp.js';
import { tsFixtureStdio } from '../helpers/servers.js';

const URI = 'test://watched-resource';
const tmp = tempDir('warden-attack-subscription-');
let gw: AuthGateway;
let idp: TestIssuer;

before(async () => {
  idp = await createTestIssuer(tmp.dir);
  gw = await startAuthGateway({ conf: { ...tsFixtureStdio('conformance-upstream.ts', ['--stdio']), share: 'shared' } }, { auth: { issuers: [{ issuer: idp.issuer, jwksFile: idp.jwksFile }] }, log: { level: 'error' } });
});
after(async () => {
  await gw?.close();
  tmp.remove();
});

const session = async (user: string): Promise<BearerSession> => {
  const s = new BearerSession(gw.url, await idp.sign({ aud: gw.publicUrl, sub: user, client_id: 'agent' }));
  await s.initialize();
  return s;
};

test("another person's unsubscribe on a shared connection does not end alice's subscription", async () => {
  const alice = await session('alice');
  const mallory = await session('mallory');
  assert.ok((await alice.request('resources/subscribe', { uri: URI })).message.result, 'alice subscribes');
  assert.equal(await alice.call('test_trigger_tool_change'), 'changed; 1 subscribed');
  const { message } = await mallory.request('resources/unsubscribe', { uri: URI });
  assert.ok(message.result, `mallory's unsubscribe is answered: ${JSON.stringify(message)}`);
  assert.equal(gw.gateway.pool.stats.processes, 1, 'both sessions are on the one shared connection');
  assert.equal(await alice.call('test_trigger_tool_change'), 'changed; 1 subscribed', "alice's subscription holds");
  // Once alice unsubscribes herself, nobody on the connection wants updates: the upstream is told.
  assert.ok((await alice.request('resources/unsubscribe', { uri: URI })).message.result);
  assert.equal(await alice.call('test_trigger_tool_change'), 'changed; 0 subscribed');
});
