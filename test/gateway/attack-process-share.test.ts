/**
 * Attack on `limits.maxProcesses`: one person opens as many sessions as the process cap on a per-session
 * stdio upstream and keeps a call hanging in each, so every process is busy and nobody else's call can start
 * one. With real tokens, a real gateway and real stdio upstreams: the attacker's processes stop at their own
 * share (`limits.maxProcessesPerPrincipal`, half the cap by default) and another person's call still runs.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { BearerSession, startAuthGateway, type AuthGateway } from '../helpers/auth.js';
import { tempDir, waitFor } from '../helpers/e2e.js';
import { createTestIssuer, type TestIssuer } from '../helpers/idp.js';
import { tsFixtureStdio } from '../helpers/servers.js';

const tmp = tempDir('warden-attack-processes-');
const calls = join(tmp.dir, 'calls.log');
let gw: AuthGateway;
let idp: TestIssuer;

before(async () => {
  idp = await createTestIssuer(tmp.dir);
  gw = await startAuthGateway(
    { slow: { ...tsFixtureStdio('misbehaving-upstream.ts', [], { MISBEHAVE_CALL_LOG: calls }), share: 'per-session', timeoutMs: 30_000 } },
    { auth: { issuers: [{ issuer: idp.issuer, jwksFile: idp.jwksFile }] }, limits: { maxProcesses: 4 }, log: { level: 'error' } },
  );
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
const hangs = () => (existsSync(calls) ? readFileSync(calls, 'utf8').split('\n').filter((l) => l.includes(' hang')).length : 0);

test('one person holding every upstream process busy does not lock another person out', async () => {
  const mallory = await Promise.all([1, 2, 3, 4].map(() => session('mallory')));
  // Each session's call hangs in a process of its own (the HTTP request stays open; not awaited here).
  const held = mallory.map((s) => s.request('tools/call', { name: 'hang', arguments: {} }).catch((e: Error) => e));
  // Those mallory may start reach the upstream; the rest are refused at once.
  await waitFor(() => hangs() >= 2, 8_000);
  await new Promise((r) => setTimeout(r, 1_500));
  assert.ok(gw.gateway.pool.stats.processes <= 2, `mallory runs ${gw.gateway.pool.stats.processes} of the 4 processes`);

  const alice = await session('alice');
  const { res, message } = await alice.request('tools/call', { name: 'echo', arguments: { message: 'alice' } });
  assert.equal(res.status, 200, `alice is not locked out: ${res.text}`);
  assert.deepEqual(message.result, { content: [{ type: 'text', text: 'alice' }] });

  // Mallory's calls past her share were refused at once, saying why and when to retry.
  const settled = await Promise.all(held.map((h) => Promise.race([h, new Promise((r) => setTimeout(r, 200, 'pending'))])));
  const refused = settled.filter((r) => r !== 'pending') as Array<{ res: { status: number; headers: Headers }; message: { error?: { data?: { reason?: string } } } }>;
  assert.equal(refused.length, 2, 'two of her four calls are refused');
  for (const r of refused) {
    assert.equal(r.message.error?.data?.reason, 'process_limit');
    assert.ok(r.res.headers.get('retry-after'));
  }
});
